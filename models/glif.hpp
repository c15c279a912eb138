// The generalized leaky integrate-and-fire models of the Allen Institute (Teeter et al. 2018,
// Nat. Commun. 9:709), levels 1 to 5, with exponentially decaying current synapses. Every level
// is linear between spikes, so the state moves in closed form and the threshold crossing is a
// root of a sum of (polynomial times) exponentials, found exactly (models/exp_sum.hpp).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

#include "models/exp_sum.hpp"
#include "models/model.hpp"

namespace gs {

namespace glif_detail {

// Rate slots: every decay rate of the system. Rates that agree to same_rate (relative) share
// one slot (see prepare()), which is what makes coinciding rates exact instead of singular.
enum slot_name { sl_m, sl_ex, sl_in, sl_a1, sl_a2, sl_s, sl_v, n_slots };
inline constexpr double same_rate = 2e-8;

// c0 + sum_k (c[k][0] + c[k][1] t + c[k][2] t^2) exp(-rate_k t), on a model's rate slots.
struct course {
  double c0 = 0;
  double c[n_slots][3] = {};
};

}  // namespace glif_detail

// Defaults: the Allen Cell Types Database GLIF fits of cell 490626718 for each level, in NEST
// units, as NEST's glif_psc example lists them (levels 1-2 and 3-5 were fitted separately, so g
// and V_th differ between levels).
template <int Level>
struct glif_params {
  double C_m = 58.72, g = Level <= 2 ? 9.12 : 9.43, E_L = -78.85,
         V_th = Level == 1 ? -37.88 : Level == 2 ? -37.14 : Level == 5 ? -51.68 : -50.19, V_reset = -78.85,
         t_ref = 3.75;
  double th_spike_add = 0.37, th_spike_decay = 0.009, voltage_reset_fraction = 0.20, voltage_reset_add = 18.56;
  double th_voltage_index = 0.005, th_voltage_decay = 0.09;
  double asc_init_1 = 0, asc_init_2 = 0, asc_decay_1 = 0.003, asc_decay_2 = 0.1, asc_amp_1 = -9.18,
         asc_amp_2 = -198.94, asc_r_1 = 1, asc_r_2 = 1;
  double tau_syn_ex = 2, tau_syn_in = 2, I_e = 0;
  // Derived by prepare().
  int n_rates = 0;
  int slot[glif_detail::n_slots] = {};      // physical rate -> rate slot, -1 when the level lacks it
  double rate[glif_detail::n_slots] = {};   // the slots' rates (1/ms)
  double gain[glif_detail::n_slots] = {};   // 1 / (C_m (g / C_m - rate)): V per pA of a current at that rate
  double inv_dm[glif_detail::n_slots] = {}, inv_dv[glif_detail::n_slots] = {};  // 1 / (g / C_m - rate), 1 / (b_v - rate)
  double theta_inf = 0;                     // V_th - E_L
  double keep_s = 0, keep_1 = 0, keep_2 = 0;  // what a spike leaves of theta_s, ASC_1, ASC_2 after t_ref
  double effect_up[3] = {}, effect_down[3] = {};  // input_effect per unit weight, by receptor (2: DC)
};

struct glif_state {
  double V_m = 0, I_ex = 0, I_in = 0, I_dc = 0, asc_1 = 0, asc_2 = 0, theta_s = 0, theta_v = 0, refractory = 0;
};

namespace glif_detail {

// Levels as bits: bit L-1 set when level L uses a field.
inline constexpr unsigned lv_all = 0b11111, lv_plain = 0b00101, lv_r = 0b11010, lv_asc = 0b11100, lv_a = 0b10000;

template <class S>
struct level_field {
  field<S> f;
  unsigned levels;
};

template <int L>
constexpr auto param_list() {
  using P = glif_params<L>;
  using F = level_field<P>;
  return std::array{
      F{{"C_m", "pF", &P::C_m, "membrane capacitance"}, lv_all},
      F{{"g", "nS", &P::g, "membrane (leak) conductance; tau_m = C_m / g"}, lv_all},
      F{{"E_L", "mV", &P::E_L, "resting potential"}, lv_all},
      F{{"V_th", "mV", &P::V_th, "instantaneous threshold theta_inf (absolute)"}, lv_all},
      F{{"V_reset", "mV", &P::V_reset, "reset potential, held during t_ref"}, lv_plain},
      F{{"t_ref", "ms", &P::t_ref, "refractory period (> 0): only the synaptic currents move"}, lv_all},
      F{{"th_spike_add", "mV", &P::th_spike_add, "theta_s added by a spike (delta theta_s)"}, lv_r},
      F{{"th_spike_decay", "1/ms", &P::th_spike_decay, "decay rate of theta_s (b_s)"}, lv_r},
      F{{"voltage_reset_fraction", "", &P::voltage_reset_fraction, "f_v: V - E_L kept by the reset, in [0, 1]"},
        lv_r},
      F{{"voltage_reset_add", "mV", &P::voltage_reset_add, "added to V by the reset (-delta V)"}, lv_r},
      F{{"th_voltage_index", "1/ms", &P::th_voltage_index, "a_v: coupling of theta_v to V - E_L"}, lv_a},
      F{{"th_voltage_decay", "1/ms", &P::th_voltage_decay, "b_v: decay rate of theta_v"}, lv_a},
      F{{"asc_init_1", "pA", &P::asc_init_1, "initial after-spike current 1"}, lv_asc},
      F{{"asc_init_2", "pA", &P::asc_init_2, "initial after-spike current 2"}, lv_asc},
      F{{"asc_decay_1", "1/ms", &P::asc_decay_1, "decay rate k_1 of after-spike current 1"}, lv_asc},
      F{{"asc_decay_2", "1/ms", &P::asc_decay_2, "decay rate k_2 of after-spike current 2"}, lv_asc},
      F{{"asc_amp_1", "pA", &P::asc_amp_1, "added to after-spike current 1 by a spike (delta I_1)"}, lv_asc},
      F{{"asc_amp_2", "pA", &P::asc_amp_2, "added to after-spike current 2 by a spike (delta I_2)"}, lv_asc},
      F{{"asc_r_1", "", &P::asc_r_1, "f_1: after-spike current 1 kept by a spike, in [0, 1]"}, lv_asc},
      F{{"asc_r_2", "", &P::asc_r_2, "f_2: after-spike current 2 kept by a spike, in [0, 1]"}, lv_asc},
      F{{"tau_syn_ex", "ms", &P::tau_syn_ex, "excitatory synaptic time constant"}, lv_all},
      F{{"tau_syn_in", "ms", &P::tau_syn_in, "inhibitory synaptic time constant"}, lv_all},
      F{{"I_e", "pA", &P::I_e, "constant bias current"}, lv_all},
  };
}

constexpr auto state_list() {
  using S = glif_state;
  using F = level_field<S>;
  return std::array{
      F{{"V_m", "mV", &S::V_m, "membrane potential"}, lv_all},
      F{{"I_ex", "pA", &S::I_ex, "excitatory synaptic current"}, lv_all},
      F{{"I_in", "pA", &S::I_in, "inhibitory synaptic current"}, lv_all},
      F{{"I_dc", "pA", &S::I_dc, "current from DC generators"}, lv_all},
      F{{"asc_1", "pA", &S::asc_1, "after-spike current 1"}, lv_asc},
      F{{"asc_2", "pA", &S::asc_2, "after-spike current 2"}, lv_asc},
      F{{"theta_s", "mV", &S::theta_s, "spike-dependent threshold component"}, lv_r},
      F{{"theta_v", "mV", &S::theta_v, "voltage-dependent threshold component"}, lv_a},
      F{{"refractory", "ms", &S::refractory, "refractory time left"}, lv_all},
  };
}

template <int L, class List>
constexpr std::size_t count_for(const List& list) {
  std::size_t n = 0;
  for (const auto& e : list) n += (e.levels >> (L - 1)) & 1u;
  return n;
}

template <int L, std::size_t N, class List>
constexpr auto select_for(const List& list) {
  std::array<decltype(list[0].f), N> out{};
  std::size_t i = 0;
  for (const auto& e : list)
    if ((e.levels >> (L - 1)) & 1u) out[i++] = e.f;
  return out;
}

}  // namespace glif_detail

template <int Level>
struct glif_psc_exp {
  static_assert(Level >= 1 && Level <= 5);
  static constexpr bool has_r = Level == 2 || Level >= 4;  // reset rules and theta_s ("R")
  static constexpr bool has_asc = Level >= 3;              // after-spike currents ("ASC")
  static constexpr bool has_a = Level == 5;                // voltage-dependent threshold ("A")

  static constexpr std::array<std::string_view, 5> names{"glif1_psc_exp", "glif2_psc_exp", "glif3_psc_exp",
                                                         "glif4_psc_exp", "glif5_psc_exp"};
  static constexpr std::array<std::string_view, 5> docs{
      "GLIF1 (LIF) of Teeter et al. 2018, exponential current synapses (pA), exact; defaults: Allen cell "
      "490626718, GLIF1 fit",
      "GLIF2 (LIF-R: reset rules, spike-dependent threshold) of Teeter et al. 2018, exponential current "
      "synapses (pA), exact; defaults: Allen cell 490626718, GLIF2 fit",
      "GLIF3 (LIF-ASC: after-spike currents) of Teeter et al. 2018, exponential current synapses (pA), exact; "
      "defaults: Allen cell 490626718, GLIF3 fit",
      "GLIF4 (LIF-R-ASC) of Teeter et al. 2018, exponential current synapses (pA), exact; defaults: Allen cell "
      "490626718, GLIF4 fit",
      "GLIF5 (LIF-R-ASC-A: plus voltage-dependent threshold) of Teeter et al. 2018, exponential current "
      "synapses (pA), exact; defaults: Allen cell 490626718, GLIF5 fit",
  };
  static constexpr std::string_view name = names[Level - 1];
  static constexpr std::string_view doc = docs[Level - 1];

  using params = glif_params<Level>;
  using state = glif_state;

  static constexpr auto param_table = glif_detail::select_for<
      Level, glif_detail::count_for<Level>(glif_detail::param_list<Level>())>(glif_detail::param_list<Level>());
  static constexpr auto state_table =
      glif_detail::select_for<Level, glif_detail::count_for<Level>(glif_detail::state_list())>(
          glif_detail::state_list());
  static constexpr std::array<std::string_view, 2> receptors{"excitatory", "inhibitory"};

  static std::string check(const params& p) {
    for (const auto& f : param_table)
      if (!std::isfinite(p.*f.member)) return std::string(f.name) + " must be finite";
    if (!(p.C_m > 0)) return "C_m must be > 0";
    if (!(p.g > 0)) return "g must be > 0";
    // A spike at the end of the refractory period is possible when the reset lands above
    // threshold; t_ref > 0 keeps such a neuron from firing twice at one time.
    if (!(p.t_ref > 0)) return "t_ref must be > 0";
    if (!(p.tau_syn_ex > 0) || !(p.tau_syn_in > 0)) return "tau_syn_ex and tau_syn_in must be > 0";
    if constexpr (!has_r) {
      if (!(p.V_reset < p.V_th)) return "V_reset must be below V_th";
    } else {
      if (!(p.th_spike_decay > 0)) return "th_spike_decay must be > 0";
      if (!(p.voltage_reset_fraction >= 0 && p.voltage_reset_fraction <= 1))
        return "voltage_reset_fraction must be within [0, 1]";
    }
    if constexpr (has_asc) {
      if (!(p.asc_decay_1 > 0) || !(p.asc_decay_2 > 0)) return "asc_decay_1 and asc_decay_2 must be > 0";
      if (!(p.asc_r_1 >= 0 && p.asc_r_1 <= 1) || !(p.asc_r_2 >= 0 && p.asc_r_2 <= 1))
        return "asc_r_1 and asc_r_2 must be within [0, 1]";
    }
    if constexpr (has_a) {
      if (!(p.th_voltage_decay > 0)) return "th_voltage_decay must be > 0";
    }
    return {};
  }

  static void prepare(params& p) {
    using namespace glif_detail;
    const double raw[n_slots] = {p.g / p.C_m,     1 / p.tau_syn_ex, 1 / p.tau_syn_in, p.asc_decay_1,
                                 p.asc_decay_2,   p.th_spike_decay, p.th_voltage_decay};
    const bool used[n_slots] = {true, true, true, has_asc, has_asc, has_r, has_a};
    // Equal rates share a slot: a filter driven at its own rate then gains a power of t in
    // closed form. Nearly equal ones (within same_rate) are merged too: kept apart, their
    // coefficients grow like 1 / (difference) and cancel in rounding; merged, the model moves by
    // about the difference. 2e-8 balances the two: a synaptic time constant swept through
    // tau_m leaves V within 4e-7 mV of the exact response (peak 31 mV; 8e-7 at 1e-8, 1.4e-6 at
    // 1e-7; tests/unit/test_glif_unit.cpp).
    p.n_rates = 0;
    for (int i = 0; i < n_slots; ++i) {
      p.slot[i] = -1;
      if (!used[i]) continue;
      for (int j = 0; j < p.n_rates && p.slot[i] < 0; ++j)
        if (std::fabs(p.rate[j] - raw[i]) <= same_rate * std::max(p.rate[j], raw[i])) p.slot[i] = j;
      if (p.slot[i] < 0) {
        p.rate[p.n_rates] = raw[i];
        p.slot[i] = p.n_rates++;
      }
    }
    for (int k = 0; k < p.n_rates; ++k) {
      const int km = p.slot[sl_m], kv = p.slot[sl_v];
      p.inv_dm[k] = k == km ? 0 : 1 / (p.rate[km] - p.rate[k]);
      p.inv_dv[k] = kv < 0 || k == kv ? 0 : 1 / (p.rate[kv] - p.rate[k]);
      p.gain[k] = p.inv_dm[k] / p.C_m;
    }
    p.theta_inf = p.V_th - p.E_L;
    p.keep_s = has_r ? std::exp(-p.th_spike_decay * p.t_ref) : 0;
    p.keep_1 = has_asc ? p.asc_r_1 * std::exp(-p.asc_decay_1 * p.t_ref) : 0;
    p.keep_2 = has_asc ? p.asc_r_2 * std::exp(-p.asc_decay_2 * p.t_ref) : 0;

    // input_effect. An input changes V by w G(t) (G: response to a unit current pulse, or step
    // for DC) and theta_v by a_v times that filtered at b_v; V - threshold moves by the
    // difference. With P = sup G and Q a bound on the filtered response,
    // min(P / b_v, integral of G), the rise is at most w (P + max(-a_v, 0) Q) for w > 0 and
    // |w| max(a_v, 0) Q for w < 0 (inhibition lowers theta_v too, which outlasts it in V).
    const double r_m = p.rate[p.slot[sl_m]];
    auto peak = [&](double r_s) {  // sup of (exp(-r_s t) - exp(-r_m t)) / (C (r_m - r_s))
      if (std::fabs(r_s - r_m) <= same_rate * std::max(r_s, r_m)) return std::exp(-1.0) / (p.C_m * r_m);
      const double t = std::log(r_s / r_m) / (r_s - r_m);
      return (std::exp(-r_s * t) - std::exp(-r_m * t)) / (p.C_m * (r_m - r_s));
    };
    const double a_v = has_a ? p.th_voltage_index : 0, b_v = has_a ? p.th_voltage_decay : 1;
    const double P[3] = {peak(p.rate[p.slot[sl_ex]]), peak(p.rate[p.slot[sl_in]]), 1 / p.g};
    const double area[3] = {1 / (p.C_m * p.rate[p.slot[sl_ex]] * r_m), 1 / (p.C_m * p.rate[p.slot[sl_in]] * r_m),
                            std::numeric_limits<double>::infinity()};
    for (int k = 0; k < 3; ++k) {
      const double Q = std::min(P[k] / b_v, area[k]);
      p.effect_up[k] = P[k] + std::max(-a_v, 0.0) * Q;
      p.effect_down[k] = std::max(a_v, 0.0) * Q;
    }
  }

  static state initial(const params& p) {
    state s;
    s.V_m = p.E_L;
    if constexpr (has_asc) {
      s.asc_1 = p.asc_init_1;
      s.asc_2 = p.asc_init_2;
    }
    return s;
  }

  // y' = -rate_ky y + alpha F(t), y(0) = y0, term by term: a term P(t) exp(-r t) of F at another
  // rate gives Q(t) exp(-r t) with Q' + (rate_ky - r) Q = alpha P; at the filter's own rate the
  // polynomial is integrated (one power of t more). The initial value fixes exp(-rate_ky t).
  // inv_d[k] = 1 / (rate_ky - rate_k), from prepare().
  GS_HD static glif_detail::course filter(const params& p, const glif_detail::course& F, int ky, const double* inv_d,
                                          double alpha, double y0) {
    glif_detail::course y;
    y.c0 = alpha * F.c0 / p.rate[ky];
    double h0 = y0 - y.c0;
    for (int k = 0; k < p.n_rates; ++k) {
      const double* P = F.c[k];
      if (k == ky) {  // degree <= 1 here: the drive is constant per rate, V has degree <= 1
        y.c[k][1] += alpha * P[0];
        y.c[k][2] += alpha * P[1] / 2;
        continue;
      }
      const double d = inv_d[k];
      const double q2 = alpha * P[2] * d, q1 = (alpha * P[1] - 2 * q2) * d, q0 = (alpha * P[0] - q1) * d;
      y.c[k][0] += q0;
      y.c[k][1] += q1;
      y.c[k][2] += q2;
      h0 -= q0;
    }
    y.c[ky][0] += h0;
    return y;
  }

  // V - E_L and theta_v from the state (taken as not refractory) for t >= 0 without input.
  GS_HD static void courses(const state& s, const params& p, double i_ex, double i_in, glif_detail::course& u,
                            glif_detail::course& tv) {
    using namespace glif_detail;
    course drive;
    drive.c0 = p.I_e + s.I_dc;
    drive.c[p.slot[sl_ex]][0] += i_ex;
    drive.c[p.slot[sl_in]][0] += i_in;
    if constexpr (has_asc) {
      drive.c[p.slot[sl_a1]][0] += s.asc_1;
      drive.c[p.slot[sl_a2]][0] += s.asc_2;
    }
    u = filter(p, drive, p.slot[sl_m], p.inv_dm, 1 / p.C_m, s.V_m - p.E_L);
    if constexpr (has_a) tv = filter(p, u, p.slot[sl_v], p.inv_dv, p.th_voltage_index, s.theta_v);
  }

  GS_HD static double value(const params& p, const glif_detail::course& c, double t, const double* e) {
    double y = c.c0;
    for (int k = 0; k < p.n_rates; ++k) y += (c.c[k][0] + t * (c.c[k][1] + t * c.c[k][2])) * e[k];
    return y;
  }

  // During t_ref only the synaptic currents move (they decay and take input); V, the ASCs and
  // both threshold components hold the values reset() gave them, as in NEST's glif_psc.
  GS_HD static void advance(state& s, const params& p, double h) {
    using namespace glif_detail;
    if (s.refractory > 0) {
      const double hr = std::min(h, s.refractory);
      s.I_ex *= std::exp(-p.rate[p.slot[sl_ex]] * hr);
      s.I_in *= std::exp(-p.rate[p.slot[sl_in]] * hr);
      s.refractory -= hr;
      h -= hr;
      if (s.refractory > 0) return;
    }
    if (h <= 0) return;
    double e[n_slots];
    for (int k = 0; k < p.n_rates; ++k) e[k] = std::exp(-p.rate[k] * h);
    if constexpr (has_a) {
      course u, tv;
      courses(s, p, s.I_ex, s.I_in, u, tv);
      s.V_m = p.E_L + value(p, u, h, e);
      s.theta_v = value(p, tv, h, e);
    } else {
      // The same solution as courses(), without building it: each current at rate r adds
      // I gain_r (exp(-r h) - exp(-r_m h)), or I h exp(-r_m h) / C_m at the membrane's own rate.
      double amp[n_slots] = {};
      amp[p.slot[sl_ex]] += s.I_ex;
      amp[p.slot[sl_in]] += s.I_in;
      if constexpr (has_asc) {
        amp[p.slot[sl_a1]] += s.asc_1;
        amp[p.slot[sl_a2]] += s.asc_2;
      }
      const int km = p.slot[sl_m];
      const double u_inf = (p.I_e + s.I_dc) / p.g;
      double u = u_inf + (s.V_m - p.E_L - u_inf) * e[km];
      for (int k = 0; k < p.n_rates; ++k)
        if (amp[k] != 0) u += k == km ? amp[k] * h * e[km] / p.C_m : amp[k] * p.gain[k] * (e[k] - e[km]);
      s.V_m = p.E_L + u;
    }
    s.I_ex *= e[p.slot[sl_ex]];
    s.I_in *= e[p.slot[sl_in]];
    if constexpr (has_asc) {
      s.asc_1 *= e[p.slot[sl_a1]];
      s.asc_2 *= e[p.slot[sl_a2]];
    }
    if constexpr (has_r) s.theta_s *= e[p.slot[glif_detail::sl_s]];
  }

  GS_HD static void receive(state& s, const params&, double w, int receptor) {
    if (receptor == 0) s.I_ex += w;
    else if (receptor == 1) s.I_in += w;
    else s.I_dc += w;
  }

  GS_HD static double threshold(const state& s, const params& p) {
    double th = p.V_th;
    if constexpr (has_r) th += s.theta_s;
    if constexpr (has_a) th += s.theta_v;
    return th;
  }

  GS_HD static bool crossed(const state& s, const params& p) { return s.refractory <= 0 && s.V_m >= threshold(s, p); }

  // Teeter et al. eqs. 5-7 with NEST's timing: the spike's V (the threshold, or above it when
  // the neuron fires on leaving t_ref) sets the new V; theta_s and the ASCs decay over t_ref and
  // take their increments now, then hold until t_ref ends; theta_v keeps its value.
  GS_HD static void reset(state& s, const params& p) {
    if constexpr (has_r) {
      s.V_m = p.E_L + p.voltage_reset_fraction * (s.V_m - p.E_L) + p.voltage_reset_add;
      s.theta_s = s.theta_s * p.keep_s + p.th_spike_add;
    } else {
      s.V_m = p.V_reset;
    }
    if constexpr (has_asc) {
      s.asc_1 = s.asc_1 * p.keep_1 + p.asc_amp_1;
      s.asc_2 = s.asc_2 * p.keep_2 + p.asc_amp_2;
    }
    s.refractory = p.t_ref;
  }

  // The most an input can raise V - threshold above its course without it (prepare()).
  static double input_effect(const params& p, double w, int receptor) {
    const int k = receptor == 0 ? 0 : receptor == 1 ? 1 : 2;
    return w > 0 ? w * p.effect_up[k] : w < 0 ? -w * p.effect_down[k] : 0;
  }

  // V - threshold at (refractory left) + t, for t >= 0, without input.
  static poly_exp_sum trajectory(const state& s, const params& p) {
    using namespace glif_detail;
    const double r = std::max(s.refractory, 0.0);
    const double i_ex = r > 0 ? s.I_ex * std::exp(-p.rate[p.slot[sl_ex]] * r) : s.I_ex;
    const double i_in = r > 0 ? s.I_in * std::exp(-p.rate[p.slot[sl_in]] * r) : s.I_in;
    course u, tv;
    courses(s, p, i_ex, i_in, u, tv);
    poly_exp_sum f;
    f.n = p.n_rates;
    f.c0 = u.c0 - p.theta_inf;
    for (int k = 0; k < p.n_rates; ++k) {
      f.r[k] = p.rate[k];
      for (int j = 0; j < 3; ++j) f.c[k][j] = u.c[k][j];
    }
    if constexpr (has_r) f.c[p.slot[glif_detail::sl_s]][0] -= s.theta_s;
    if constexpr (has_a) {
      f.c0 -= tv.c0;
      for (int k = 0; k < p.n_rates; ++k)
        for (int j = 0; j < 3; ++j) f.c[k][j] -= tv.c[k][j];
    }
    f.finish();
    return f;
  }

  // Either no crossing can happen (the trajectory's upper bound over all later times stays
  // below threshold; inputs worth up to most of that gap keep it so), or the exact crossing,
  // with the crossing of threshold - margin as fallback for inputs within the margin.
  static spike_estimate estimate(const state& s, const params& p) {
    const double r = std::max(s.refractory, 0.0);
    poly_exp_sum f = trajectory(s, p);
    const poly_exp_sum::point a = f.at(0);
    if (a.f >= 0) return spike_estimate::at(r);
    const double up = f.tail_upper(a);
    if (up < 0) return spike_estimate::bound(no_spike, 0.75 * -up);
    // Half the present distance to threshold: of 0.05, 0.2, 0.5, 0.7 and 0.9 tried on a
    // recurrent network (docs/models.md), 0.5 and 0.7 were fastest. Keying on the lower level
    // alone while it is far, as lif_psc_exp does, was slower here: the search from it to the
    // crossing is cheap next to a second estimate.
    const double margin = 0.5 * -a.f;
    f.c0 += margin;
    const double t_low = first_crossing(f, 0.0, false);
    f.c0 -= margin;
    if (std::isinf(t_low)) return {no_spike, true, margin, no_spike};
    const double t_spike = first_crossing(f, t_low);
    return {r + t_spike, true, margin, r + t_low};
  }

  static spike_estimate next_spike(const state& s, const params& p) { return estimate(s, p); }
};

using glif1_psc_exp = glif_psc_exp<1>;
using glif2_psc_exp = glif_psc_exp<2>;
using glif3_psc_exp = glif_psc_exp<3>;
using glif4_psc_exp = glif_psc_exp<4>;
using glif5_psc_exp = glif_psc_exp<5>;

}  // namespace gs
