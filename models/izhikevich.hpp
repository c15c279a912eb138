// Izhikevich's simple model (Izhikevich 2003) with voltage-jump inputs, NEST's izhikevich. NEST
// integrates it with fixed-step Euler; here it is integrated with error control between events
// (models/ode.hpp) and the threshold crossing is located in continuous time.
#pragma once
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "models/model.hpp"
#include "models/ode.hpp"

namespace gs {

struct izhikevich {
  static constexpr std::string_view name = "izhikevich";
  static constexpr std::string_view doc =
      "Izhikevich (2003) simple model, voltage-jump inputs (NEST izhikevich); adaptive Dormand-Prince "
      "between events instead of NEST's Euler steps; weights in mV";

  // See aeif_psc_exp for the choice of max_step; the tolerances are the same.
  static constexpr double max_step = 1.0;             // ms
  static constexpr double crossing_tolerance = 1e-9;  // ms
  static constexpr double rtol = 1e-10, atol = 1e-10, t_tol = 1e-10;

  struct params {
    double a = 0.02, b = 0.2, c = -65, d = 8, V_th = 30, V_min = -std::numeric_limits<double>::max(), I_e = 0;
  };
  struct state {
    double V_m = 0, U_m = 0, I_dc = 0;
  };

  static constexpr std::array param_table{
      field<params>{"a", "1/ms", &params::a, "rate of the recovery variable"},
      field<params>{"b", "1", &params::b, "sensitivity of the recovery variable to V_m"},
      field<params>{"c", "mV", &params::c, "reset potential"},
      field<params>{"d", "mV", &params::d, "added to U_m at a spike"},
      field<params>{"V_th", "mV", &params::V_th, "spike cut-off"},
      field<params>{"V_min", "mV", &params::V_min, "lower bound of V_m (default: none)"},
      field<params>{"I_e", "pA", &params::I_e, "constant input (enters dV/dt in mV/ms, as in NEST)"},
  };
  static constexpr std::array state_table{
      field<state>{"V_m", "mV", &state::V_m, "membrane potential"},
      field<state>{"U_m", "mV", &state::U_m, "recovery variable"},
      field<state>{"I_dc", "pA", &state::I_dc, "current from DC generators"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  static std::string check(const params& p) {
    if (!(p.c < p.V_th)) return "c (the reset) must be below V_th";
    if (!(p.V_min < p.V_th)) return "V_min must be below V_th";
    return {};
  }
  static void prepare(params&) {}

  // NEST's initial state: V_m = -65 and U_m = 0.2 * -65 (b V_m for the default b, whatever b is).
  static state initial(const params&) { return state{-65, 0.2 * -65, 0}; }

  // y = (v, u). Above V_th the equations are clamped at V_th, so a trial step that overshoots the
  // cut-off stays finite (v^2 diverges in finite time); below V_min, v may not fall further.
  struct rhs {
    const params& p;
    double I_dc;
    GS_HD ode::vec<2> operator()(double, const ode::vec<2>& y) const {
      double v = y[0] < p.V_th ? y[0] : p.V_th;
      if (v < p.V_min) v = p.V_min;
      double dv = (0.04 * v + 5) * v + 140 - y[1] + p.I_e + I_dc;
      if (v <= p.V_min && dv < 0) dv = 0;
      return {dv, p.a * (p.b * v - y[1])};
    }
  };
  struct at_spike {
    double V_th;
    GS_HD bool operator()(const ode::vec<2>& y) const { return y[0] >= V_th; }
  };

  // Stopped at a crossing: the state is frozen there until reset().
  GS_HD static void advance(state& s, const params& p, double h) {
    ode::vec<2> y{s.V_m, s.U_m};
    ode::integrate(y, h, rhs{p, s.I_dc}, at_spike{p.V_th}, ode::tolerances{rtol, atol, t_tol});
    s.V_m = y[0] < p.V_min ? p.V_min : y[0];
    s.U_m = y[1];
  }

  // A jump that reaches V_th fires at the input's time.
  GS_HD static void receive(state& s, const params& p, double w, int receptor) {
    if (receptor == dc_receptor) {
      s.I_dc += w;
      return;
    }
    s.V_m += w;
    if (s.V_m < p.V_min) s.V_m = p.V_min;
  }

  GS_HD static bool crossed(const state& s, const params& p) { return s.V_m >= p.V_th; }

  GS_HD static void reset(state& s, const params& p) {
    s.V_m = p.c;
    s.U_m += p.d;
  }
};

}  // namespace gs
