// Leaky integrate-and-fire neuron with exponentially decaying synaptic currents (NEST's
// iaf_psc_exp): integrated exactly between events, next threshold crossing found to machine
// precision after a cheap bound that rules crossings out or postpones the search.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "models/exp_sum.hpp"
#include "models/model.hpp"

namespace gs {

struct lif_psc_exp {
  static constexpr std::string_view name = "lif_psc_exp";
  static constexpr std::string_view doc =
      "LIF, exponential current synapses, exact integration (NEST iaf_psc_exp); weights in pA";

  struct params {
    double tau_m = 10, C_m = 250, E_L = -70, V_th = -55, V_reset = -70, t_ref = 2,
           tau_syn_ex = 2, tau_syn_in = 2, I_e = 0;
    // Derived by prepare().
    double R = 0, inv_tau_m = 0, a_ex = 0, a_in = 0, d_ex = 0, d_in = 0;
    double psp_ex = 0, psp_in = 0;  // peak voltage of a unit-current synaptic event (mV/pA)
    double near = 0;                // solve the trajectory only when a crossing may be this close
    int pow_ex = 0, pow_in = 0;  // tau_m / tau_syn when that is a small integer
  };
  struct state {
    double V_m = 0, I_ex = 0, I_in = 0, I_dc = 0, refractory = 0;
  };

  static constexpr std::array param_table{
      field<params>{"tau_m", "ms", &params::tau_m, "membrane time constant"},
      field<params>{"C_m", "pF", &params::C_m, "membrane capacitance"},
      field<params>{"E_L", "mV", &params::E_L, "resting potential"},
      field<params>{"V_th", "mV", &params::V_th, "spike threshold"},
      field<params>{"V_reset", "mV", &params::V_reset, "reset potential (held during t_ref)"},
      field<params>{"t_ref", "ms", &params::t_ref, "absolute refractory period"},
      field<params>{"tau_syn_ex", "ms", &params::tau_syn_ex, "excitatory synaptic time constant"},
      field<params>{"tau_syn_in", "ms", &params::tau_syn_in, "inhibitory synaptic time constant"},
      field<params>{"I_e", "pA", &params::I_e, "constant bias current"},
  };
  static constexpr std::array state_table{
      field<state>{"V_m", "mV", &state::V_m, "membrane potential"},
      field<state>{"I_ex", "pA", &state::I_ex, "excitatory synaptic current"},
      field<state>{"I_in", "pA", &state::I_in, "inhibitory synaptic current"},
      field<state>{"I_dc", "pA", &state::I_dc, "current from DC generators"},
      field<state>{"refractory", "ms", &state::refractory, "refractory time left"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  // Empty when valid, otherwise what is wrong in words a user can act on.
  static std::string check(const params& p) {
    if (!(p.tau_m > 0)) return "tau_m must be > 0";
    if (!(p.C_m > 0)) return "C_m must be > 0";
    if (!(p.tau_syn_ex > 0) || !(p.tau_syn_in > 0)) return "tau_syn_ex and tau_syn_in must be > 0";
    if (!(p.t_ref >= 0)) return "t_ref must be >= 0";
    if (!(p.V_reset < p.V_th)) return "V_reset must be below V_th";
    return {};
  }

  static void prepare(params& p) {
    p.R = p.tau_m / p.C_m;
    p.inv_tau_m = 1 / p.tau_m;
    auto derive = [&](double tau_s, double& a, double& d, int& pow, double& psp) {
      d = 1 / tau_s - p.inv_tau_m;
      a = d != 0 ? -1 / (p.C_m * d) : 0;
      const double ratio = p.tau_m / tau_s;
      pow = (ratio == std::round(ratio) && ratio >= 2 && ratio <= 16) ? static_cast<int>(ratio) : 0;
      if (std::fabs(d) * p.tau_m <= 1e-9) {
        psp = p.tau_m * std::exp(-1.0) / p.C_m;
      } else {
        const double t_peak = std::log(p.tau_m / tau_s) / d;
        psp = a * (std::exp(-t_peak / tau_s) - std::exp(-t_peak * p.inv_tau_m));
      }
    };
    derive(p.tau_syn_ex, p.a_ex, p.d_ex, p.pow_ex, p.psp_ex);
    derive(p.tau_syn_in, p.a_in, p.d_in, p.pow_in, p.psp_in);
    p.near = 0.5 * std::min(p.tau_m, std::min(p.tau_syn_ex, p.tau_syn_in));
  }

  static state initial(const params& p) { return state{p.E_L, 0, 0, 0, 0}; }

  // Decay factor of a synaptic current over h, and the voltage it adds per pA of initial current.
  // With tau_m = k tau_syn one exponential serves both; otherwise expm1 keeps the difference of
  // two nearly equal exponentials accurate.
  GS_HD static void current_propagator(const params& p, double h, double x_m, double tau_s, double d,
                                       double a, int pow, double& decay, double& to_v) {
    if (pow) {
      decay = ipow(x_m, pow);
      to_v = (decay - x_m) * a;
    } else {
      decay = std::exp(-h / tau_s);
      to_v = d != 0 ? x_m * std::expm1(-h * d) / (-d * p.C_m) : h * x_m / p.C_m;
    }
  }

  // x_m: exp(-h / tau_m) when the caller has it (the event backend does), else negative.
  GS_HD static void advance(state& s, const params& p, double h, double x_m = -1) {
    if (s.refractory > 0) {
      const double hr = std::min(h, s.refractory);
      s.I_ex *= std::exp(-hr / p.tau_syn_ex);
      s.I_in *= std::exp(-hr / p.tau_syn_in);
      s.refractory -= hr;
      h -= hr;
      if (s.refractory > 0) return;
      x_m = -1;  // it was for the whole of h
    }
    if (h <= 0) return;
    if (x_m < 0) x_m = std::exp(-h * p.inv_tau_m);
    double dec_ex, v_ex, dec_in, v_in;
    current_propagator(p, h, x_m, p.tau_syn_ex, p.d_ex, p.a_ex, p.pow_ex, dec_ex, v_ex);
    current_propagator(p, h, x_m, p.tau_syn_in, p.d_in, p.a_in, p.pow_in, dec_in, v_in);
    const double v_ss = p.E_L + p.R * (p.I_e + s.I_dc);
    s.V_m = v_ss + (s.V_m - v_ss) * x_m + s.I_ex * v_ex + s.I_in * v_in;
    s.I_ex *= dec_ex;
    s.I_in *= dec_in;
  }

  // The clock backends' step (engine/backends/clock, cuda): advance() over a fixed h with its
  // propagators computed once per parameter set instead of once per neuron and step (they were
  // half the clock backend's time on CUBA). Same formulas, so the same numbers as advance(s, p, h).
  struct step_constants {
    double h, x_m, dec_ex, v_ex, dec_in, v_in, dec_ex_refr, dec_in_refr;
  };
  static step_constants prepare_step(const params& p, double h) {
    step_constants c{};
    c.h = h;
    c.x_m = std::exp(-h * p.inv_tau_m);
    current_propagator(p, h, c.x_m, p.tau_syn_ex, p.d_ex, p.a_ex, p.pow_ex, c.dec_ex, c.v_ex);
    current_propagator(p, h, c.x_m, p.tau_syn_in, p.d_in, p.a_in, p.pow_in, c.dec_in, c.v_in);
    c.dec_ex_refr = std::exp(-h / p.tau_syn_ex);  // what advance() applies while refractory
    c.dec_in_refr = std::exp(-h / p.tau_syn_in);
    return c;
  }
  GS_HD static void step(state& s, const params& p, const step_constants& c) {
    if (s.refractory > 0) {
      if (s.refractory < c.h) return advance(s, p, c.h);  // the period ends inside the step
      s.I_ex *= c.dec_ex_refr;
      s.I_in *= c.dec_in_refr;
      s.refractory -= c.h;
      return;
    }
    const double v_ss = p.E_L + p.R * (p.I_e + s.I_dc);
    s.V_m = v_ss + (s.V_m - v_ss) * c.x_m + s.I_ex * c.v_ex + s.I_in * c.v_in;
    s.I_ex *= c.dec_ex;
    s.I_in *= c.dec_in;
  }

  // Superposition in the event backend (engine/population.hpp): with both synaptic time
  // constants dividing tau_m, an input of weight w at time t_i adds to the state at t
  //   I_x: w exp(-(t - t_i) / tau_x),   V: w a_x (exp(-(t - t_i) / tau_x) - exp(-(t - t_i) / tau_m)),
  // all powers of exp(-(t - t_i) / tau_m). With g = exp((t_i - origin) / tau_m), receptor x keeps
  // two sums, of w g^k (k = tau_m / tau_x) and of w g; fold() adds them in at t.
  static double frame_rate(const params& p) { return p.pow_ex && p.pow_in ? p.inv_tau_m : 0; }
  static constexpr int frame_sums = 4, frame_terms = 2;
  static int frame_first(int receptor) { return 2 * receptor; }
  static void frame_weights(const params& p, int receptor, double g, std::array<double, 2>& c) {
    c = {ipow(g, receptor == 0 ? p.pow_ex : p.pow_in), g};
  }
  // x = exp(-(t - origin) / tau_m).
  static void fold(state& s, const params& p, const std::array<double, 4>& sum, double x) {
    const double x_ex = ipow(x, p.pow_ex) * sum[0], x_in = ipow(x, p.pow_in) * sum[2];
    s.I_ex += x_ex;
    s.I_in += x_in;
    s.V_m += p.a_ex * (x_ex - x * sum[1]) + p.a_in * (x_in - x * sum[3]);
  }

  GS_HD static void receive(state& s, const params&, double w, int receptor) {
    if (receptor == 0) s.I_ex += w;
    else if (receptor == 1) s.I_in += w;
    else s.I_dc += w;
  }

  GS_HD static bool crossed(const state& s, const params& p) {
    return s.refractory <= 0 && s.V_m >= p.V_th;
  }

  GS_HD static void reset(state& s, const params& p) {
    s.V_m = p.V_reset;
    s.refractory = p.t_ref;
  }

  // The most an input can ever raise V above the trajectory it would have had without it:
  // the peak of its postsynaptic potential (a DC step raises V by at most R times the step).
  static double input_effect(const params& p, double w, int receptor) {
    if (w <= 0) return 0;
    return w * (receptor == 0 ? p.psp_ex : receptor == 1 ? p.psp_in : p.R);
  }

  // Upper trajectories bound V for all later times, without inputs: W, the membrane driven
  // forever by the largest current the synapses can still deliver (their present values, as
  // they only decay), U, the free membrane plus the peak potential the present currents can
  // still add (A), and (tau_syn_in <= tau_m / 2) U with the inhibitory current's own course. The
  // latest of their times to reach V_th - margin is a lower bound on the crossing that survives
  // later inputs worth up to `margin`; with no synaptic current the free membrane is the
  // trajectory itself and the time is exact.
  static spike_estimate estimate(const state& s, const params& p) {
    const bool refr = s.refractory > 0;
    const double v = refr ? p.V_reset : s.V_m;
    if (!refr && v >= p.V_th) return spike_estimate::at(0);
    const double v_ss = p.E_L + p.R * (p.I_e + s.I_dc);
    if (s.I_ex == 0 && s.I_in == 0) {
      if (v_ss <= p.V_th) return spike_estimate::at(no_spike);
      return spike_estimate::at(s.refractory + p.tau_m * std::log1p((p.V_th - v) / (v_ss - p.V_th)));
    }
    const double i_ex = std::max(s.I_ex, 0.0), i_in = std::max(s.I_in, 0.0);
    const double w_inf = v_ss + p.R * (i_ex + i_in);
    const double a = i_ex * p.psp_ex + i_in * p.psp_in;
    const double gap = p.V_th - v - (a < p.V_th - v ? a : 0);
    // A small margin keeps the bound close to the trajectory; a large one absorbs more inputs
    // before a new bound is needed. 0.2 of the gap was fastest on the CUBA network (0.02 to 0.7
    // tried, see docs/benchmarks.md).
    const double margin = 0.2 * gap, theta = p.V_th - margin;
    if (w_inf <= theta || (v_ss + a <= theta && v + a <= theta)) return spike_estimate::bound(no_spike, margin);
    // Each bound's time is tau_m log(n / d) (n > d > 0); the larger ratio gives the later time
    // (compared without dividing), and log x >= 2 (x - 1) / (x + 1) for x >= 1 keeps it a lower
    // bound without a logarithm: one division in all.
    double n = w_inf - v, d = w_inf - theta;
    if (v + a < theta && v < v_ss) {
      const double n2 = v_ss - v, d2 = v_ss + a - theta;
      if (n2 * d > n * d2) n = n2, d = d2;
    }
    double dt = p.tau_m * 2 * (n - d) / (n + d);
    // With tau_syn_in <= tau_m / 2 the inhibitory current's own course can enter the bound: with
    // x = exp(-t / tau_m), its part of V is c (x^k - x) (k = tau_m / tau_syn_in >= 2,
    // c = I_in a_in > 0), at most c (x^2 - x). U plus that bounds V and crosses V_th - margin where
    // a quadratic in x does; below threshold at x = 1, the first crossing for decreasing x
    // (increasing t) is its smaller root. In CUBA-like networks inhibition is what keeps V down.
    if (p.tau_m >= 2 * p.tau_syn_in && s.I_in < 0 && !refr && v + a < theta) {
      const double c = s.I_in * p.a_in, b = v - v_ss - c, c0 = v_ss + a - theta;
      const double sq = std::sqrt(std::max(b * b - 4 * c * c0, 0.0));
      const double r = b < 0 ? 2 * c0 / (sq - b) : (-b - sq) / (2 * c);
      if (r <= 0) return spike_estimate::bound(no_spike, margin);
      if (r < 1) dt = std::max(dt, p.tau_m * 2 * (1 - r) / (1 + r));  // -ln r >= 2 (1 - r) / (1 + r)
    }
    return spike_estimate::bound(s.refractory + dt, margin);
  }

  // A lower bound came due. The trajectory is solved for two levels: the threshold itself (the
  // exact spike time) and V_th - margin, whose crossing stays a lower bound for inputs worth up
  // to the margin, so most later inputs again cost no new solution.
  static spike_estimate next_spike(const state& s, const params& p) {
    const spike_estimate bound = estimate(s, p);
    // While even the cheap bound is far, it serves as the next key; solving is left for later.
    if (bound.exact || bound.dt > p.near) return bound;
    const double r = std::max(s.refractory, 0.0);
    exp_sum f = trajectory(s, p);  // V(r + t) - V_th for t >= 0
    const double margin = bound.margin;
    f.c0 += margin;
    const double t_low = first_crossing(f, std::max(bound.dt - r, 0.0), false);
    // Inputs arrive every few synaptic time constants in an active network and would void an
    // exact time computed far ahead; solve for it only when the lower level is near.
    if (t_low > p.near) return spike_estimate::bound(r + t_low, margin);
    f.c0 -= margin;
    const double t_spike = first_crossing(f, t_low);
    return {r + t_spike, true, margin, r + t_low};
  }

  // V(r + t) - V_th as a sum of exponentials, where r is the refractory time left.
  static exp_sum trajectory(const state& s, const params& p) {
    const double r = std::max(s.refractory, 0.0);
    const double i_ex = r > 0 ? s.I_ex * std::exp(-r / p.tau_syn_ex) : s.I_ex;
    const double i_in = r > 0 ? s.I_in * std::exp(-r / p.tau_syn_in) : s.I_in;
    const double v0 = r > 0 ? p.V_reset : s.V_m;
    const double v_ss = p.E_L + p.R * (p.I_e + s.I_dc);
    exp_sum f;
    f.c0 = v_ss - p.V_th;
    const bool commensurate = (i_ex == 0 || p.pow_ex) && (i_in == 0 || p.pow_in);
    if (commensurate) f.base = p.inv_tau_m;
    double c_m = v0 - v_ss;
    auto add_current = [&](double i0, double tau_s, double d, double a, int pow) {
      if (i0 == 0) return;
      if (std::fabs(d) * p.tau_m <= 1e-9) {  // tau_syn == tau_m: the t exp(-t/tau_m) solution
        f.d += i0 / p.C_m;
        f.rd = p.inv_tau_m;
        f.md = 1;
      } else {
        f.add(i0 * a, 1 / tau_s, pow);
        c_m -= i0 * a;
      }
    };
    add_current(i_ex, p.tau_syn_ex, p.d_ex, p.a_ex, p.pow_ex);
    add_current(i_in, p.tau_syn_in, p.d_in, p.a_in, p.pow_in);
    f.add(c_m, p.inv_tau_m, 1);
    f.finish();
    return f;
  }
};

}  // namespace gs
