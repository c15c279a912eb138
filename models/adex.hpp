// Adaptive exponential integrate-and-fire neuron (AdEx, Brette & Gerstner 2005) with exponential
// current synapses, NEST's aeif_psc_exp. No closed form: integrated between events by the
// error-controlled Dormand-Prince scheme of models/ode.hpp, a "step only" model for the engine.
#pragma once
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "models/model.hpp"
#include "models/ode.hpp"

namespace gs {

struct aeif_psc_exp {
  static constexpr std::string_view name = "aeif_psc_exp";
  static constexpr std::string_view doc =
      "AdEx (Brette & Gerstner 2005), exponential current synapses (NEST aeif_psc_exp); adaptive "
      "Dormand-Prince between events, spike at V_peak located to 1e-9 ms; weights in pA";

  // The engine integrates ahead over max_step after every input and bisects the crossing on it
  // (docs/models.md). On the 200-neuron validation network 0.25, 0.5 and 1 ms cost the same
  // within 10 %, 2 ms a third more (longer look-aheads wasted by the next input).
  static constexpr double max_step = 1.0;             // ms
  static constexpr double crossing_tolerance = 1e-9;  // ms
  // Local error per step: at most rtol |y| + atol in each of x (mV, see x_of_V) and w (pA); the
  // integrator stops within t_tol past the crossing (below the engine's tolerance). 1e-10: at 1e-9
  // spike times drifted by up to 1e-5 ms where a trajectory creeps past V_th; now ~5e-7 ms.
  static constexpr double rtol = 1e-10, atol = 1e-10, t_tol = 1e-10;

  struct params {
    double C_m = 281, g_L = 30, E_L = -70.6, V_th = -50.4, Delta_T = 2, a = 4, b = 80.5, tau_w = 144,
           V_reset = -60, V_peak = 0, t_ref = 0, tau_syn_ex = 0.2, tau_syn_in = 2, I_e = 0;
    // Derived by prepare().
    double V_spike = 0;  // where a spike is registered: V_peak, or V_th when Delta_T = 0
    double x_peak = 0, a_peak = 0;  // V_spike in the integrated variable (see x_of_V)
    double inv_C = 0, inv_tau_w = 0, inv_tau_ex = 0, inv_tau_in = 0, inv_Delta_T = 0;
  };
  struct state {
    double V_m = 0, w = 0, I_ex = 0, I_in = 0, I_dc = 0, refractory = 0;
  };

  static constexpr std::array param_table{
      field<params>{"C_m", "pF", &params::C_m, "membrane capacitance"},
      field<params>{"g_L", "nS", &params::g_L, "leak conductance"},
      field<params>{"E_L", "mV", &params::E_L, "leak reversal potential"},
      field<params>{"V_th", "mV", &params::V_th, "spike initiation threshold (V_T)"},
      field<params>{"Delta_T", "mV", &params::Delta_T, "slope factor (0: hard threshold at V_th)"},
      field<params>{"a", "nS", &params::a, "subthreshold adaptation"},
      field<params>{"b", "pA", &params::b, "spike-triggered adaptation (added to w)"},
      field<params>{"tau_w", "ms", &params::tau_w, "adaptation time constant"},
      field<params>{"V_reset", "mV", &params::V_reset, "reset potential (held during t_ref)"},
      field<params>{"V_peak", "mV", &params::V_peak, "spike detection potential (Delta_T > 0)"},
      field<params>{"t_ref", "ms", &params::t_ref, "absolute refractory period"},
      field<params>{"tau_syn_ex", "ms", &params::tau_syn_ex, "excitatory synaptic time constant"},
      field<params>{"tau_syn_in", "ms", &params::tau_syn_in, "inhibitory synaptic time constant"},
      field<params>{"I_e", "pA", &params::I_e, "constant bias current"},
  };
  static constexpr std::array state_table{
      field<state>{"V_m", "mV", &state::V_m, "membrane potential"},
      field<state>{"w", "pA", &state::w, "adaptation current"},
      field<state>{"I_ex", "pA", &state::I_ex, "excitatory synaptic current"},
      field<state>{"I_in", "pA", &state::I_in, "inhibitory synaptic current"},
      field<state>{"I_dc", "pA", &state::I_dc, "current from DC generators"},
      field<state>{"refractory", "ms", &state::refractory, "refractory time left"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  static std::string check(const params& p) {
    if (!(p.C_m > 0)) return "C_m must be > 0";
    if (!(p.g_L >= 0)) return "g_L must be >= 0";
    if (!(p.tau_w > 0)) return "tau_w must be > 0";
    if (!(p.tau_syn_ex > 0) || !(p.tau_syn_in > 0)) return "tau_syn_ex and tau_syn_in must be > 0";
    if (!(p.t_ref >= 0)) return "t_ref must be >= 0";
    if (!(p.Delta_T >= 0)) return "Delta_T must be >= 0 (0 gives a hard threshold at V_th)";
    if (p.Delta_T > 0) {
      if (!(p.V_peak >= p.V_th)) return "V_peak must be >= V_th";
      if (!(p.V_reset < p.V_peak)) return "V_reset must be below V_peak";
      // exp((V_peak - V_th) / Delta_T) is reached at every spike; keep it far from overflow.
      const double max_arg = std::log(std::numeric_limits<double>::max() / 1e20);
      if (!((p.V_peak - p.V_th) / p.Delta_T < max_arg))
        return "(V_peak - V_th) / Delta_T is so large that exp() overflows at the spike; raise Delta_T or "
               "lower V_peak";
    } else if (!(p.V_reset < p.V_th)) {
      return "V_reset must be below V_th when Delta_T = 0 (V_th is then the threshold)";
    }
    return {};
  }

  static void prepare(params& p) {
    p.V_spike = p.Delta_T > 0 ? p.V_peak : p.V_th;
    p.inv_C = 1 / p.C_m;
    p.inv_tau_w = 1 / p.tau_w;
    p.inv_tau_ex = 1 / p.tau_syn_ex;
    p.inv_tau_in = 1 / p.tau_syn_in;
    p.inv_Delta_T = p.Delta_T > 0 ? 1 / p.Delta_T : 0;
    p.a_peak = p.Delta_T > 0 ? std::log1p(std::exp(-(p.V_spike - p.V_th) * p.inv_Delta_T)) : 0;
    p.x_peak = x_of_V(p, p.V_spike);
  }

  static state initial(const params& p) { return state{p.E_L, 0, 0, 0, 0, 0}; }

  // The integrated variable x stands for V (Delta_T > 0; with Delta_T = 0, x = V):
  //   x = V - Delta_T ln(1 + exp((V - V_th) / Delta_T)),   dx/dV = 1 / (1 + exp((V - V_th) / Delta_T)).
  // Far below V_th, x = V; as V diverges, x approaches V_th from below. Written with
  // a = (V_th - x) / Delta_T > 0 and s = 1 - exp(-a):
  //   V = x - Delta_T ln s,   dx/dt = (g_L Delta_T exp(-a) + s (-g_L (V - E_L) - w + I)) / C_m,
  // in which the exponential term no longer diverges. The upstroke, which in V needs ever shorter
  // steps toward its finite-time blow-up, is a nearly straight line in x: from V_th + 3 Delta_T to
  // the spike some 50 trial steps instead of 280, and an overshooting trial step cannot overflow.
  // The map is smooth: a piecewise one (x = V below V_th) put a kink into the equations right at
  // the slow passage near V_th, where the error estimate misjudged it (spike times off by 1e-5 ms).
  GS_HD static double x_of_V(const params& p, double V) {
    if (p.Delta_T == 0) return V;
    const double u = (V - p.V_th) * p.inv_Delta_T;
    return u < 0 ? V - p.Delta_T * std::log1p(std::exp(u)) : p.V_th - p.Delta_T * std::log1p(std::exp(-u));
  }
  GS_HD static double V_of_x(const params& p, double x) {
    if (p.Delta_T == 0) return x;
    const double a = (p.V_th - x) * p.inv_Delta_T;
    return x - p.Delta_T * std::log(-std::expm1(-(a > p.a_peak ? a : p.a_peak)));
  }

  // y = (x, w); the synaptic currents decay in closed form from their values I_ex0, I_in0 at the
  // start (integrating them too made the step control follow every 0.2 ms decay to full relative
  // accuracy: some 200 steps per input instead of a few). Past the spike point the equations are
  // held there, as NEST holds V at V_peak, so a trial step that overshoots stays finite; the
  // integrator stops on the crossing.
  struct rhs {
    const params& p;
    double I_ex0, I_in0, I_dc;
    GS_HD double current(double t) const {
      return (I_ex0 != 0 ? I_ex0 * std::exp(-t * p.inv_tau_ex) : 0.0) +
             (I_in0 != 0 ? I_in0 * std::exp(-t * p.inv_tau_in) : 0.0) + p.I_e + I_dc;
    }
    GS_HD ode::vec<2> operator()(double t, const ode::vec<2>& y) const {
      const double I = current(t) - y[1];
      double V, dx;
      if (p.Delta_T > 0) {
        double a = (p.V_th - y[0]) * p.inv_Delta_T;
        if (a < p.a_peak) a = p.a_peak;
        // s from expm1: right at the spike a can be 1e-27 and s = 1 - exp(-a) would round to 0.
        // m = 1 - s loses digits only when m is tiny and its term negligible.
        const double s = -std::expm1(-a), m = 1 - s;
        V = y[0] - p.Delta_T * std::log(s);
        dx = (p.g_L * p.Delta_T * m + s * (-p.g_L * (V - p.E_L) + I)) * p.inv_C;
      } else {
        V = y[0] < p.V_spike ? y[0] : p.V_spike;
        dx = (-p.g_L * (V - p.E_L) + I) * p.inv_C;
      }
      return {dx, (p.a * (V - p.E_L) - y[1]) * p.inv_tau_w};
    }
  };
  struct at_spike {
    double x_peak;
    GS_HD bool operator()(const ode::vec<2>& y) const { return y[0] >= x_peak; }
  };

  // Refractory: V is held at V_reset, so w relaxes exponentially toward a (V_reset - E_L) and the
  // currents decay, all in closed form. Then the adaptive integration, stopped at a crossing
  // (the state is frozen there until reset(); advancing a crossed state changes nothing).
  GS_HD static void advance(state& s, const params& p, double h) {
    if (s.refractory > 0) {
      const double hr = h < s.refractory ? h : s.refractory;
      const double w_inf = p.a * (p.V_reset - p.E_L);
      s.V_m = p.V_reset;
      s.w = w_inf + (s.w - w_inf) * std::exp(-hr * p.inv_tau_w);
      s.I_ex *= std::exp(-hr * p.inv_tau_ex);
      s.I_in *= std::exp(-hr * p.inv_tau_in);
      s.refractory -= hr;
      h -= hr;
      if (s.refractory > 0 || !(h > 0)) return;
    }
    if (s.V_m >= p.V_spike) return;
    ode::vec<2> y{x_of_V(p, s.V_m), s.w};
    const ode::outcome out = ode::integrate(y, h, rhs{p, s.I_ex, s.I_in, s.I_dc}, at_spike{p.x_peak},
                                            ode::tolerances{rtol, atol, t_tol});
    // x_peak and V_peak map onto each other only to rounding: crossed() must agree with the stop.
    const double V = V_of_x(p, y[0]);
    s.V_m = out.crossed && V < p.V_spike ? p.V_spike : V;
    s.w = y[1];
    s.I_ex *= std::exp(-out.t * p.inv_tau_ex);
    s.I_in *= std::exp(-out.t * p.inv_tau_in);
  }

  GS_HD static void receive(state& s, const params&, double w, int receptor) {
    if (receptor == 0) s.I_ex += w;
    else if (receptor == 1) s.I_in += w;
    else s.I_dc += w;
  }

  GS_HD static bool crossed(const state& s, const params& p) { return s.refractory <= 0 && s.V_m >= p.V_spike; }

  GS_HD static void reset(state& s, const params& p) {
    s.V_m = p.V_reset;
    s.w += p.b;
    s.refractory = p.t_ref;
  }
};

}  // namespace gs
