// Escape-noise LIF (a point-process neuron in the manner of NEST's pp_psc_delta): an LIF
// membrane with voltage-jump inputs, no threshold, and a spike hazard that grows exponentially
// with V. The event engine samples its spikes exactly by thinning (docs/models.md).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "models/model.hpp"

namespace gs {

struct pp_lif_delta {
  static constexpr std::string_view name = "pp_lif_delta";
  static constexpr std::string_view doc =
      "escape-noise LIF, delta synapses (weights in mV): hazard rho_0 exp((V - V_th) / delta_u) + "
      "rho_lin max(V - V_th, 0), reset to V_reset, dead time t_ref; the membrane keeps integrating "
      "during the dead time";

  struct params {
    double tau_m = 10, C_m = 250, E_L = -70, V_reset = -70, t_ref = 2, I_e = 0;
    double V_th = -55, rho_0 = 10, delta_u = 2, rho_lin = 0;  // mV, Hz, mV, Hz/mV
    double inv_tau_m = 0, R = 0, c_0 = 0, c_lin = 0, inv_delta_u = 0, margin = 0;  // derived by prepare()
  };
  struct state {
    double V_m = 0, I_dc = 0, refractory = 0;
  };

  static constexpr std::array param_table{
      field<params>{"tau_m", "ms", &params::tau_m, "membrane time constant"},
      field<params>{"C_m", "pF", &params::C_m, "membrane capacitance"},
      field<params>{"E_L", "mV", &params::E_L, "resting potential"},
      field<params>{"V_reset", "mV", &params::V_reset, "potential after a spike"},
      field<params>{"t_ref", "ms", &params::t_ref, "dead time after a spike (hazard 0)"},
      field<params>{"I_e", "pA", &params::I_e, "constant bias current"},
      field<params>{"V_th", "mV", &params::V_th, "soft threshold: the hazard is rho_0 there"},
      field<params>{"rho_0", "Hz", &params::rho_0, "hazard at V_th"},
      field<params>{"delta_u", "mV", &params::delta_u, "sharpness: the hazard grows e-fold per delta_u"},
      field<params>{"rho_lin", "Hz/mV", &params::rho_lin, "linear hazard term above V_th"},
  };
  static constexpr std::array state_table{
      field<state>{"V_m", "mV", &state::V_m, "membrane potential"},
      field<state>{"I_dc", "pA", &state::I_dc, "current from DC generators"},
      field<state>{"refractory", "ms", &state::refractory, "dead time left"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  // Inputs within this many delta_u keep a bound valid (the bound is then e = 2.7 times the
  // hazard at the bounding potential): of 0.1 to 2, within 8 % of the fastest for both methods
  // on an E/I network (docs/models.md).
  static constexpr double margin_delta_u = 1.0;

  static std::string check(const params& p) {
    if (!(p.tau_m > 0)) return "tau_m must be > 0";
    if (!(p.C_m > 0)) return "C_m must be > 0";
    if (!(p.t_ref >= 0)) return "t_ref must be >= 0";
    if (!(p.rho_0 >= 0)) return "rho_0 must be >= 0";
    if (!(p.delta_u > 0)) return "delta_u must be > 0";
    if (!(p.rho_lin >= 0)) return "rho_lin must be >= 0 (the hazard must not fall as V rises)";
    return {};
  }
  static void prepare(params& p) {
    p.inv_tau_m = 1 / p.tau_m;
    p.R = p.tau_m / p.C_m;
    p.c_0 = p.rho_0 * 1e-3;  // 1/ms
    p.c_lin = p.rho_lin * 1e-3;
    p.inv_delta_u = 1 / p.delta_u;
    p.margin = margin_delta_u * p.delta_u;
  }
  static state initial(const params& p) { return state{p.E_L, 0, 0}; }

  // x_m: exp(-h / tau_m) when the caller has it (the event backend's summed inputs do).
  GS_HD static void advance(state& s, const params& p, double h, double x_m = -1) {
    s.refractory = std::max(0.0, s.refractory - h);
    const double v_inf = p.E_L + p.R * (p.I_e + s.I_dc);
    s.V_m = v_inf + (s.V_m - v_inf) * (x_m < 0 ? std::exp(-h * p.inv_tau_m) : x_m);
  }
  // Linear at all times (the dead time only masks the hazard), so inputs can be summed:
  // a jump w at t_i adds w exp(-(t - t_i) / tau_m) to V at t (engine/population.hpp).
  static double frame_rate(const params& p) { return p.inv_tau_m; }
  static constexpr int frame_sums = 1, frame_terms = 1;
  static int frame_first(int) { return 0; }
  static void frame_weights(const params&, int, double g, std::array<double, 1>& c) { c = {g}; }
  static void fold(state& s, const params&, const std::array<double, 1>& sum, double x) { s.V_m += x * sum[0]; }

  GS_HD static void receive(state& s, const params&, double w, int receptor) {
    if (receptor == dc_receptor) s.I_dc += w;
    else s.V_m += w;
  }
  GS_HD static bool crossed(const state&, const params&) { return false; }
  GS_HD static void reset(state& s, const params& p) {
    s.V_m = p.V_reset;
    s.refractory = p.t_ref;
  }

  // rho(V) in 1/ms; non-decreasing in V, which is what makes the bound below hold.
  GS_HD static double rho(const params& p, double v) {
    const double u = v - p.V_th;
    return p.c_0 * std::exp(u * p.inv_delta_u) + p.c_lin * std::max(u, 0.0);
  }
  GS_HD static double hazard(const state& s, const params& p) { return s.refractory > 0 ? 0 : rho(p, s.V_m); }
  // Without input V relaxes monotonically toward V_inf, so it stays below max(V, V_inf); later
  // jumps add at most their sum, and a DC step of w raises the course by at most w R. The
  // hazard is thus at most rho(max(V, V_inf) + margin) while inputs add up to the margin.
  GS_HD static rate_bound hazard_bound(const state& s, const params& p) {
    const double v_inf = p.E_L + p.R * (p.I_e + s.I_dc);
    return {rho(p, std::max(s.V_m, v_inf) + p.margin), p.margin, s.refractory};
  }
  static double input_effect(const params& p, double w, int receptor) {
    return w <= 0 ? 0 : receptor == dc_receptor ? w * p.R : w;
  }
};

}  // namespace gs
