// Leaky integrate-and-fire neuron whose synaptic inputs are instantaneous voltage jumps (NEST's
// iaf_psc_delta). Its next spike time has a closed form, so every estimate is exact.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <string_view>

#include "models/model.hpp"

namespace gs {

struct lif_psc_delta {
  static constexpr std::string_view name = "lif_psc_delta";
  static constexpr std::string_view doc =
      "LIF, delta synapses (voltage jumps), exact (NEST iaf_psc_delta); weights in mV; input "
      "arriving during the refractory period is discarded";

  struct params {
    double tau_m = 10, C_m = 250, E_L = -70, V_th = -55, V_reset = -70, t_ref = 2, I_e = 0;
    double inv_tau_m = 0, R = 0;  // derived by prepare()
  };
  struct state {
    double V_m = 0, I_dc = 0, refractory = 0;
  };

  static constexpr std::array param_table{
      field<params>{"tau_m", "ms", &params::tau_m, "membrane time constant"},
      field<params>{"C_m", "pF", &params::C_m, "membrane capacitance"},
      field<params>{"E_L", "mV", &params::E_L, "resting potential"},
      field<params>{"V_th", "mV", &params::V_th, "spike threshold"},
      field<params>{"V_reset", "mV", &params::V_reset, "reset potential (held during t_ref)"},
      field<params>{"t_ref", "ms", &params::t_ref, "absolute refractory period"},
      field<params>{"I_e", "pA", &params::I_e, "constant bias current"},
  };
  static constexpr std::array state_table{
      field<state>{"V_m", "mV", &state::V_m, "membrane potential"},
      field<state>{"I_dc", "pA", &state::I_dc, "current from DC generators"},
      field<state>{"refractory", "ms", &state::refractory, "refractory time left"},
  };
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  static std::string check(const params& p) {
    if (!(p.tau_m > 0)) return "tau_m must be > 0";
    if (!(p.C_m > 0)) return "C_m must be > 0";
    if (!(p.t_ref >= 0)) return "t_ref must be >= 0";
    if (!(p.V_reset < p.V_th)) return "V_reset must be below V_th";
    return {};
  }
  static void prepare(params& p) {
    p.inv_tau_m = 1 / p.tau_m;
    p.R = p.tau_m / p.C_m;
  }
  static state initial(const params& p) { return state{p.E_L, 0, 0}; }

  // x_m: exp(-h / tau_m) when the caller has it (the event backend does), else negative.
  GS_HD static void advance(state& s, const params& p, double h, double x_m = -1) {
    if (s.refractory > 0) {
      const double hr = std::min(h, s.refractory);
      s.refractory -= hr;
      h -= hr;
      if (s.refractory > 0 || h <= 0) return;
      x_m = -1;  // it was for the whole of h
    }
    const double v_ss = p.E_L + p.R * (p.I_e + s.I_dc);
    s.V_m = v_ss + (s.V_m - v_ss) * (x_m < 0 ? std::exp(-h * p.inv_tau_m) : x_m);
  }
  // Superposition in the event backend (engine/population.hpp): outside the refractory period a
  // jump w at t_i adds w exp(-(t - t_i) / tau_m) to V at t; with g = exp((t_i - origin) / tau_m)
  // the inputs sum to one number, folded in at t.
  static double frame_rate(const params& p) { return p.inv_tau_m; }
  static constexpr int frame_sums = 1, frame_terms = 1;
  static int frame_first(int) { return 0; }
  static void frame_weights(const params&, int, double g, std::array<double, 1>& c) { c = {g}; }
  static void fold(state& s, const params&, const std::array<double, 1>& sum, double x) { s.V_m += x * sum[0]; }

  GS_HD static void receive(state& s, const params&, double w, int receptor) {
    if (receptor == dc_receptor) s.I_dc += w;
    else if (s.refractory <= 0) s.V_m += w;
  }
  GS_HD static bool crossed(const state& s, const params& p) {
    return s.refractory <= 0 && s.V_m >= p.V_th;
  }
  GS_HD static void reset(state& s, const params& p) {
    s.V_m = p.V_reset;
    s.refractory = p.t_ref;
  }
  // The free trajectory relaxes toward V_inf, so the crossing time has a closed form. Inputs
  // only add jumps that then decay, so V stays below the free trajectory plus the sum of the
  // later jumps: the time the free trajectory reaches V_th - margin is a lower bound that holds
  // while later jumps add up to at most the margin. Far from the crossing that bound alone is
  // the key (inputs within the margin then need no queue update); near it the exact time is,
  // with the bound as fallback. Margin 0.35 of the distance to threshold and "near" below
  // tau_m / 5 were the fastest on the delta benchmark (docs/benchmarks.md).
  static spike_estimate estimate(const state& s, const params& p) {
    const bool refr = s.refractory > 0;
    const double v = refr ? p.V_reset : s.V_m;
    if (!refr && v >= p.V_th) return spike_estimate::at(0);
    const double v_ss = p.E_L + p.R * (p.I_e + s.I_dc);
    if (v_ss <= p.V_th) return {no_spike, true, std::max(0.35 * (p.V_th - std::max(v, v_ss)), 0.0), no_spike};
    const double margin = 0.35 * (p.V_th - v);
    const double t_low = s.refractory + p.tau_m * std::log((v_ss - v) / (v_ss - p.V_th + margin));
    if (t_low > 0.2 * p.tau_m) return spike_estimate::bound(t_low, margin);
    return {s.refractory + p.tau_m * std::log((v_ss - v) / (v_ss - p.V_th)), true, margin, t_low};
  }
  static double input_effect(const params& p, double w, int receptor) {
    return w <= 0 ? 0 : receptor == dc_receptor ? w * p.R : w;
  }
  static spike_estimate next_spike(const state& s, const params& p) { return estimate(s, p); }
};

}  // namespace gs
