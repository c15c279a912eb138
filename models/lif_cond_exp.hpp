// Leaky integrate-and-fire neuron with exponentially decaying synaptic conductances (NEST's
// iaf_cond_exp), the cell of the Vogels-Abbott / Auryn COBA benchmarks. V times a conductance has
// no closed form between events: a "step only" model. A cheap upper trajectory rules crossings
// out (step_bound); where it does, V is propagated by one quadrature, elsewhere integrated by
// models/ode.hpp and stopped at the crossing.
#pragma once
#include <array>
#include <cmath>
#include <initializer_list>
#include <string>
#include <string_view>

#include "models/model.hpp"
#include "models/ode.hpp"

namespace gs {

struct lif_cond_exp {
  static constexpr std::string_view name = "lif_cond_exp";
  static constexpr std::string_view doc =
      "LIF, exponential conductance synapses (NEST iaf_cond_exp); quadrature where a bound rules "
      "crossings out, adaptive Dormand-Prince near V_th, spike located to 1e-10 ms; weights in nS (>= 0, the "
      "receptor decides the sign)";
  // Weights are conductances: never negative, excitation or inhibition by receptor (Dale's-law
  // checks in io/config.cpp use this; a negative weight is refused when the run file is read).
  static constexpr bool conductance_based = true;

  // Where step_bound() cannot rule a crossing out within `near`, the engine integrates a copy
  // ahead, max_step at a time, and takes the crossing from advance_until_crossed()
  // (docs/models.md).
  static constexpr double max_step = 1.0;  // ms
  // Local error per step at most rtol |V| + atol (mV); the integrator stops within t_tol past
  // V_th. Against a 1e-12 reference the worst spike (a slow passage through V_th, NEST's
  // defaults) was off by 9.2e-7 ms at 1e-10, 3.1e-7 at 3e-11 and 1.1e-7 at 1e-11; 3e-11 keeps a
  // factor 3 below the 1e-6 ms goal for about a quarter more time than 1e-10 (docs/models.md).
  static constexpr double rtol = 3e-11, atol = 3e-11, t_tol = 1e-10;
  // step_bound() below: pieces of the bounding trajectory, the first an eighth of the shorter
  // synaptic time constant, each 1.5 times the one before, then one to infinity; below `near`
  // (ms) the engine integrates ahead instead. bound_slack (mV) keeps the bound below V_th by far
  // more than the integrator's error in V (about 1e-9 mV), which the real state carries.
  static constexpr int pieces = 12;
  static constexpr double piece_first = 0.125, piece_growth = 1.5, near = 0.25, bound_slack = 1e-4;

  struct params {
    double V_th = -55, V_reset = -60, t_ref = 2, g_L = 16.6667, C_m = 250, E_ex = 0, E_in = -85, E_L = -70,
           tau_syn_ex = 0.2, tau_syn_in = 2, I_e = 0;
    // Derived by prepare().
    double inv_C = 0, inv_tau_ex = 0, inv_tau_in = 0;
  };
  struct state {
    double V_m = 0, g_ex = 0, g_in = 0, I_dc = 0, refractory = 0;
  };

  static constexpr std::array param_table{
      field<params>{"V_th", "mV", &params::V_th, "spike threshold"},
      field<params>{"V_reset", "mV", &params::V_reset, "reset potential (held during t_ref)"},
      field<params>{"t_ref", "ms", &params::t_ref, "absolute refractory period"},
      field<params>{"g_L", "nS", &params::g_L, "leak conductance"},
      field<params>{"C_m", "pF", &params::C_m, "membrane capacitance"},
      field<params>{"E_ex", "mV", &params::E_ex, "excitatory reversal potential"},
      field<params>{"E_in", "mV", &params::E_in, "inhibitory reversal potential"},
      field<params>{"E_L", "mV", &params::E_L, "leak reversal potential"},
      field<params>{"tau_syn_ex", "ms", &params::tau_syn_ex, "excitatory synaptic time constant"},
      field<params>{"tau_syn_in", "ms", &params::tau_syn_in, "inhibitory synaptic time constant"},
      field<params>{"I_e", "pA", &params::I_e, "constant bias current"},
  };
  static constexpr std::array state_table{
      field<state>{"V_m", "mV", &state::V_m, "membrane potential"},
      field<state>{"g_ex", "nS", &state::g_ex, "excitatory synaptic conductance"},
      field<state>{"g_in", "nS", &state::g_in, "inhibitory synaptic conductance"},
      field<state>{"I_dc", "pA", &state::I_dc, "current from DC generators"},
      field<state>{"refractory", "ms", &state::refractory, "refractory time left"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  static std::string check(const params& p) {
    if (!(p.C_m > 0)) return "C_m must be > 0";
    if (!(p.g_L >= 0)) return "g_L must be >= 0";
    if (!(p.tau_syn_ex > 0) || !(p.tau_syn_in > 0)) return "tau_syn_ex and tau_syn_in must be > 0";
    if (!(p.t_ref >= 0)) return "t_ref must be >= 0";
    if (!(p.V_reset < p.V_th)) return "V_reset must be below V_th";
    for (double e : {p.E_L, p.E_ex, p.E_in, p.I_e})
      if (!std::isfinite(e)) return "E_L, E_ex, E_in and I_e must be finite";
    return {};
  }

  static void prepare(params& p) {
    p.inv_C = 1 / p.C_m;
    p.inv_tau_ex = 1 / p.tau_syn_ex;
    p.inv_tau_in = 1 / p.tau_syn_in;
  }

  static state initial(const params& p) { return state{p.E_L, 0, 0, 0, 0}; }

  // Only V is integrated: the conductances decay in closed form from their values at the start
  // (as ODE components they would make the step control follow each decay to full relative
  // accuracy, as they did for aeif_psc_exp's currents). The equation is linear in V, so it stays
  // finite past V_th and an overshooting trial step needs no clamp.
  struct rhs {
    const params& p;
    double g_ex0, g_in0, I;
    GS_HD ode::vec<1> operator()(double t, const ode::vec<1>& y) const {
      const double V = y[0];
      const double ge = g_ex0 != 0 ? g_ex0 * std::exp(-t * p.inv_tau_ex) : 0.0;
      const double gi = g_in0 != 0 ? g_in0 * std::exp(-t * p.inv_tau_in) : 0.0;
      return {(-p.g_L * (V - p.E_L) - ge * (V - p.E_ex) - gi * (V - p.E_in) + I) * p.inv_C};
    }
  };
  struct at_threshold {
    double V_th;
    GS_HD bool operator()(const ode::vec<1>& y) const { return y[0] >= V_th; }
  };

  // Refractory: V held at V_reset, the conductances decay (inputs still add to them). Then the
  // adaptive integration, stopped at a crossing: the state stays there until reset() (advancing
  // a crossed state changes nothing), so an overlong h never integrates past a spike.
  GS_HD static void advance(state& s, const params& p, double h) { advance_until_crossed(s, p, h); }
  // The same, returning the time advanced: h, or where the integration stopped at V_th (located
  // to t_tol). The engine's look-ahead takes the crossing from here instead of bisecting on h
  // with a fresh integration per trial; advancing the real state by that time later takes the
  // same steps, the last one cut where the crossing was found.
  GS_HD static double advance_until_crossed(state& s, const params& p, double h) {
    double done = 0;
    if (s.refractory > 0) {
      const double hr = h < s.refractory ? h : s.refractory;
      s.V_m = p.V_reset;
      s.g_ex *= std::exp(-hr * p.inv_tau_ex);
      s.g_in *= std::exp(-hr * p.inv_tau_in);
      s.refractory -= hr;
      h -= hr;
      done = hr;
      if (s.refractory > 0 || !(h > 0)) return done;
    }
    if (!(h > 0) || s.V_m >= p.V_th) return done;
    // Up to where the bound rules a crossing out, the quadrature; the rest (a crossing may be
    // near) is integrated step by step and stopped at the crossing.
    const double clear = crossing_bound(s, p, h), q = clear < h ? clear : h;
    if (q > 0 && propagate(s, p, q)) {
      h -= q;
      done += q;
      if (!(h > 0)) return done;
    }
    ode::vec<1> y{s.V_m};
    const ode::outcome out = ode::integrate(y, h, rhs{p, s.g_ex, s.g_in, p.I_e + s.I_dc}, at_threshold{p.V_th},
                                            ode::tolerances{rtol, atol, t_tol});
    s.V_m = y[0];
    s.g_ex *= std::exp(-out.t * p.inv_tau_ex);
    s.g_in *= std::exp(-out.t * p.inv_tau_in);
    return done + out.t;
  }

  // Over an interval that crossing_bound() shows free of crossings, V in closed form but for one
  // integral: with L(u) = int_0^u G / C, also closed form (the conductances decay exponentially),
  //   V(h) = V(0) e^{-L(h)} + int_0^h e^{L(u) - L(h)} J(u) / C du,  J = g_L E_L + g_ex E_ex + g_in E_in + I.
  // The integrand is smooth and varies on the scale of the time constants: Gauss-Legendre with 8
  // nodes, accepted when 5 nodes agree to the tolerance of one integrator step (else false and
  // the adaptive integration takes over). Over 0.75 ms of a COBA cell it costs 13 evaluations
  // (three exponentials each) where Dormand-Prince took 18 steps of 6; 8 times faster. Intervals
  // longer than 4 of the fastest rate's time constants are left to the integration: beyond 5,
  // with tau_syn_ex = 0.2 ms, the rules agreed where both were off by 2.5e-9 mV.
  GS_HD static bool propagate(state& s, const params& p, double h) {
    const double rate = (p.g_L + s.g_ex + s.g_in) * p.inv_C;
    if (h * rate > 4 || (s.g_ex > 0 && h * p.inv_tau_ex > 4) || (s.g_in > 0 && h * p.inv_tau_in > 4)) return false;
    constexpr double x8[] = {0.019855071751231884, 0.10166676129318664, 0.2372337950418355, 0.40828267875217511,
                             0.59171732124782495,  0.7627662049581645,  0.89833323870681336, 0.98014492824876809};
    constexpr double w8[] = {0.050614268145188129, 0.11119051722668724, 0.15685332293894363, 0.181341891689181,
                             0.181341891689181,    0.15685332293894363, 0.11119051722668724, 0.050614268145188129};
    constexpr double x5[] = {0.046910077030668004, 0.23076534494715845, 0.5, 0.7692346550528415,
                             0.95308992296933204};
    constexpr double w5[] = {0.11846344252809454, 0.23931433524968324, 0.28444444444444444, 0.23931433524968324,
                             0.11846344252809454};
    const double ex_h = std::exp(-h * p.inv_tau_ex), in_h = std::exp(-h * p.inv_tau_in);
    const double a_ex = s.g_ex * p.tau_syn_ex * p.inv_C, a_in = s.g_in * p.tau_syn_in * p.inv_C;
    const double leak = p.g_L * p.inv_C, j0 = (p.g_L * p.E_L + p.I_e + s.I_dc) * p.inv_C;
    const double j_ex = s.g_ex * p.E_ex * p.inv_C, j_in = s.g_in * p.E_in * p.inv_C;
    auto f = [&](double u) {  // e^{L(u) - L(h)} J(u) / C
      const double ex = std::exp(-u * p.inv_tau_ex), in = std::exp(-u * p.inv_tau_in);
      return std::exp(-(leak * (h - u) + a_ex * (ex - ex_h) + a_in * (in - in_h))) * (j0 + j_ex * ex + j_in * in);
    };
    double q8 = 0, q5 = 0;
    for (int k = 0; k < 8; ++k) q8 += w8[k] * f(x8[k] * h);
    for (int k = 0; k < 5; ++k) q5 += w5[k] * f(x5[k] * h);
    const double v = s.V_m * std::exp(-(leak * h + a_ex * (1 - ex_h) + a_in * (1 - in_h))) + h * q8;
    if (!(std::fabs(h * (q8 - q5)) <= atol + rtol * std::fabs(v))) return false;
    s.V_m = v;
    s.g_ex *= ex_h;
    s.g_in *= in_h;
    return true;
  }

  // The clock backends' step (engine/backends/clock, cuda): one exponential-midpoint step of h
  // instead of the adaptive integration. Over a step V' = (G (V_inf - V)) / C is linear in V;
  // with the conductances taken at the step's midpoint it is solved exactly, which makes the
  // step second order in h (the adaptive integration to 3e-11 took 440 s for 10 s of the COBA
  // network at dt = 0.1 ms, against a few seconds for this). Spikes are on the grid anyway.
  struct step_constants {
    double h, h_over_C, ex_half, in_half, ex_full, in_full;
  };
  static step_constants prepare_step(const params& p, double h) {
    return {h,
            h * p.inv_C,
            std::exp(-0.5 * h * p.inv_tau_ex),
            std::exp(-0.5 * h * p.inv_tau_in),
            std::exp(-h * p.inv_tau_ex),
            std::exp(-h * p.inv_tau_in)};
  }
  GS_HD static void step(state& s, const params& p, const step_constants& c) {
    if (s.refractory > 0) {
      s.V_m = p.V_reset;
      if (s.refractory >= c.h) {
        s.g_ex *= c.ex_full;
        s.g_in *= c.in_full;
        s.refractory -= c.h;
        return;
      }
      // The period ends inside the step: the conductances decay over its rest, then V is free
      // for what is left of the step (once per spike; the factors are computed here).
      const double r = s.refractory, h = c.h - r;
      s.g_ex *= std::exp(-r * p.inv_tau_ex);
      s.g_in *= std::exp(-r * p.inv_tau_in);
      s.refractory = 0;
      return midpoint(s, p, h * p.inv_C, std::exp(-0.5 * h * p.inv_tau_ex), std::exp(-0.5 * h * p.inv_tau_in),
                      std::exp(-h * p.inv_tau_ex), std::exp(-h * p.inv_tau_in));
    }
    if (s.V_m >= p.V_th) return;  // as advance(): a crossed state waits for its reset
    midpoint(s, p, c.h_over_C, c.ex_half, c.in_half, c.ex_full, c.in_full);
  }
  // One exponential-midpoint step of h (h_over_C = h / C) given the conductances' decay factors
  // over h / 2 and h. exp(-x) is its (4,4) Pade approximant P / Q for x <= 0.5 (relative error
  // under 1e-10), which also lets V = v_inf + (V - v_inf) P / Q take one division: exp() was a
  // fifth of the step's time on the COBA network.
  GS_HD static void midpoint(state& s, const params& p, double h_over_C, double ex_half, double in_half,
                             double ex_full, double in_full) {
    const double ge = s.g_ex * ex_half, gi = s.g_in * in_half, G = p.g_L + ge + gi;
    const double drive = p.g_L * p.E_L + ge * p.E_ex + gi * p.E_in + p.I_e + s.I_dc;  // G v_inf
    const double x = G * h_over_C;
    if (x <= 0.5) {
      const double x2 = x * x, even = 1680 + x2 * (180 + x2), odd = x * (840 + 20 * x2);
      const double P = even - odd, Q = even + odd;
      s.V_m = (drive * (Q - P) + s.V_m * G * P) / (G * Q);
    } else {
      const double v_inf = drive / G;
      s.V_m = v_inf + (s.V_m - v_inf) * std::exp(-x);
    }
    s.g_ex *= ex_full;
    s.g_in *= in_full;
  }

  // Weights are conductances (nS). The run file's checks refuse negative ones onto this model
  // (io/config.cpp); a negative weight from elsewhere (a plugin stimulus, a test) would lower the
  // conductance and could make it negative, which has no physical meaning: not checked here,
  // since this function runs per input, on the GPU too.
  GS_HD static void receive(state& s, const params&, double w, int receptor) {
    if (receptor == 0) s.g_ex += w;
    else if (receptor == 1) s.g_in += w;
    else s.I_dc += w;
  }

  GS_HD static bool crossed(const state& s, const params& p) { return s.refractory <= 0 && s.V_m >= p.V_th; }

  // For the event backend (engine/population.hpp): the most an input can do to the bound below,
  // in nS of excitatory conductance. An inhibitory conductance w > 0 adds -w (V - E_in) to C V',
  // which is <= 0 wherever the bounding trajectory W lives (W >= E_in), so it never voids that
  // bound; nor the integrated look-ahead while V >= E_in stays true (step_bound's conditions),
  // since an inhibitory input then only lowers V. Anything else asks for a new bound: a DC step,
  // a negative weight (a conductance below zero breaks the bound's inequalities).
  static double input_effect(const params&, double w, int receptor) {
    if (receptor == 1 && w >= 0) return 0;
    if (receptor == 0 && w >= 0) return w;
    return no_spike;
  }

  // A lower bound on the time to the next crossing without integrating, so that the engine
  // integrates ahead only when a crossing may be near (most inputs to a COBA cell find it
  // milliseconds away). Comparison: with g_ex, g_in >= 0 decaying, on a piece [a, b] of the time
  // ahead and for W in [E_in, V_th]
  //   -g_in(t) (W - E_in) <= -g_in(b) (W - E_in),
  //   -g_ex(t) (W - E_ex) = g_ex(t) (E_ex - E_in) - g_ex(t) (W - E_in) <= g_ex(t) (E_ex - E_in) - g_ex(b) (W - E_in),
  // so W solving C W' = -G_b (W - E_in) + g_L (E_L - E_in) + I + g_ex(a) e^{-(t-a)/tau_ex} (E_ex - E_in),
  // G_b = g_L + g_ex(b) + g_in(b), has W' >= the model's right-hand side at W. Starting at
  // W(a) >= max(V(a), E_in), W >= V holds as long as W stays below V_th (where V = W the
  // difference cannot grow; the right-hand side is linear in V), and W >= E_in since the drive at
  // E_in is >= 0. W on a piece is x_inf + D e^{-s/tau_ex} + B e^{-k s}: one stationary point at
  // most, so its maximum is exact from the ends and that point. The pieces are short where the
  // conductances change fast and grow; the last reaches to infinity (G = g_L). The bound is the
  // first time W could reach V_th - bound_slack; inputs with effect 0 (inhibition) leave it valid.
  // Returns dt = 0 to have the engine integrate ahead (a crossing within `near`, or now), and a
  // negative margin where the conditions fail (V below E_in, a negative conductance or drive at
  // E_in, E_ex < E_in): then no input keeps a key, not even an inhibitory one.
  static spike_estimate step_bound(const state& s, const params& p) {
    const double t = crossing_bound(s, p, no_spike);
    if (t < 0) return spike_estimate::bound(0, -no_spike);
    return t < near ? spike_estimate::bound(0, 0) : spike_estimate::bound(t, 0);
  }
  // The bound itself, the chain of pieces cut short once it passes `horizon`; -1 where the
  // conditions fail.
  GS_HD static double crossing_bound(const state& s, const params& p, double horizon) {
    const double r = s.refractory > 0 ? s.refractory : 0.0;
    const double v = r > 0 ? p.V_reset : s.V_m;
    const double drive = p.g_L * (p.E_L - p.E_in) + p.I_e + s.I_dc;  // C V' at V = E_in without synapses
    if (!(p.g_L > 0) || !(s.g_ex >= 0) || !(s.g_in >= 0) || !(drive >= 0) || !(v >= p.E_in) ||
        !(p.V_th > p.E_in) || (s.g_ex > 0 && p.E_ex < p.E_in))
      return -1;
    if (r == 0 && v >= p.V_th) return 0;
    const double x_th = p.V_th - bound_slack - p.E_in, drive_ex = (p.E_ex - p.E_in) * p.inv_C;
    double x = v - p.E_in, g_ex = s.g_ex, g_in = s.g_in;
    if (r > 0) g_ex *= std::exp(-r * p.inv_tau_ex), g_in *= std::exp(-r * p.inv_tau_in);
    double t = r, h = piece_first * (p.tau_syn_ex < p.tau_syn_in ? p.tau_syn_ex : p.tau_syn_in);
    for (int piece = 0; piece <= pieces; ++piece, h *= piece_growth) {
      const bool last = piece == pieces;  // [t, infinity)
      const double d_ex = last ? 0 : std::exp(-h * p.inv_tau_ex), d_in = last ? 0 : std::exp(-h * p.inv_tau_in);
      double k = (p.g_L + g_ex * d_ex + g_in * d_in) * p.inv_C;
      // Next to resonance with the excitatory decay a smaller leak keeps the terms apart (W >= E_in,
      // so less leak only raises W).
      if (g_ex > 0 && std::fabs(k * p.tau_syn_ex - 1) < 0.01) k *= 0.98;
      const double x_inf = drive * p.inv_C / k, D = g_ex > 0 ? g_ex * drive_ex / (k - p.inv_tau_ex) : 0.0;
      const double B = x - x_inf - D;
      auto at = [&](double u) { return x_inf + D * std::exp(-u * p.inv_tau_ex) + B * std::exp(-k * u); };
      const double x_end = last ? x_inf : x_inf + D * d_ex + B * std::exp(-k * h);
      // W' = -(D / tau_ex) e^{-u/tau_ex} - k B e^{-k u} vanishes at most once, where D and B differ in sign.
      double u_star = -1;
      if (D * B < 0) u_star = std::log(-k * B * p.tau_syn_ex / D) / (k - p.inv_tau_ex);
      const bool inside = u_star > 0 && (last || u_star < h);
      const double x_star = inside ? at(u_star) : x;
      if ((x_end > x_star ? x_end : x_star) < x_th) {
        if (last) return no_spike;
        t += h, x = x_end, g_ex *= d_ex, g_in *= d_in;
        if (t >= horizon) return t;
        continue;
      }
      // W rises through x_th on [lo, hi]: after the minimum (if W falls first), up to the maximum
      // or the end. Bisected to a hundredth of the bracket, keeping the side still below.
      const bool rises_first = inside && x_star >= x;
      double lo = inside && !rises_first ? u_star : 0.0, hi = inside && rises_first ? u_star : h;
      if (last && !(inside && rises_first)) hi = lo + 50 / (k < p.inv_tau_ex ? k : p.inv_tau_ex);
      for (double span = hi - lo; hi - lo > 0.01 * span;) {
        const double mid = 0.5 * (lo + hi);
        (at(mid) < x_th ? lo : hi) = mid;
      }
      return t + lo;
    }
    return t;  // not reached: the last piece decides
  }


  GS_HD static void reset(state& s, const params& p) {
    s.V_m = p.V_reset;
    s.refractory = p.t_ref;
  }
};

}  // namespace gs
