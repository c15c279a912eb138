// GLIF levels 1-5 (glif1_psc_exp ... glif5_psc_exp) under fixed input spike trains, a DC window
// and a bias current, run through the event engine, against an adaptive Dormand-Prince 5(4)
// integration of the published equations (Teeter et al. 2018) written here: relative tolerance
// 1e-12, threshold crossings bisected on re-integrated sub-steps. Nothing of the model's closed
// form, rate slots or root search is reused. Every spike time must agree to 1e-6 ms.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "models/glif.hpp"
#include "tests/support/dormand_prince.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// Parameters by NEST name; a level's run file gets exactly the names its model lists.
using values = std::map<std::string, double>;

// The published fits (Allen cell 490626718) as typed from NEST's glif_psc example, per level.
values published(int level) {
  values v{{"C_m", 58.72}, {"E_L", -78.85}, {"t_ref", 3.75}, {"tau_syn_ex", 2.0}, {"tau_syn_in", 2.0}, {"I_e", 0.0}};
  v["g"] = level <= 2 ? 9.12 : 9.43;
  v["V_th"] = std::array{-37.88, -37.14, -50.19, -50.19, -51.68}[level - 1];
  if (level == 1 || level == 3) v["V_reset"] = -78.85;
  if (level == 2 || level >= 4) {
    v["th_spike_add"] = 0.37;
    v["th_spike_decay"] = 0.009;
    v["voltage_reset_fraction"] = 0.20;
    v["voltage_reset_add"] = 18.56;
  }
  if (level >= 3) {
    v["asc_init_1"] = 0.0;
    v["asc_init_2"] = 0.0;
    v["asc_decay_1"] = 0.003;
    v["asc_decay_2"] = 0.1;
    v["asc_amp_1"] = -9.18;
    v["asc_amp_2"] = -198.94;
    v["asc_r_1"] = 1.0;
    v["asc_r_2"] = 1.0;
  }
  if (level == 5) {
    v["th_voltage_index"] = 0.005;
    v["th_voltage_decay"] = 0.09;
  }
  return v;
}

// The equations, integrated numerically. y = (U = V - E_L, I_ex, I_in, ASC_1, ASC_2, theta_s,
// theta_v):
//   C dU/dt = -g U + I_e + I_dc + I_ex + I_in + ASC_1 + ASC_2,   dI_x/dt = -I_x / tau_x,
//   dASC_j/dt = -k_j ASC_j,   dtheta_s/dt = -b_s theta_s,   dtheta_v/dt = a_v U - b_v theta_v;
// a spike when U reaches V_th - E_L + theta_s + theta_v. Reset (NEST's glif_psc): U = f_v U +
// voltage_reset_add (levels 2, 4, 5) or V_reset - E_L; theta_s = theta_s exp(-b_s t_ref) +
// th_spike_add; ASC_j = r_j ASC_j exp(-k_j t_ref) + amp_j; then for t_ref only the synaptic
// currents move.
struct reference {
  int level;
  values v;
  using y_t = std::array<double, 7>;

  bool has_r() const { return level == 2 || level >= 4; }
  bool has_asc() const { return level >= 3; }
  bool has_a() const { return level == 5; }
  double at(const char* k) const {
    auto it = v.find(k);
    return it == v.end() ? 0.0 : it->second;
  }

  y_t deriv(const y_t& y, bool refr, double i_dc) const {
    y_t d{};
    d[1] = -y[1] / at("tau_syn_ex");
    d[2] = -y[2] / at("tau_syn_in");
    if (refr) return d;
    d[0] = (-at("g") * y[0] + at("I_e") + i_dc + y[1] + y[2] + y[3] + y[4]) / at("C_m");
    if (has_asc()) {
      d[3] = -at("asc_decay_1") * y[3];
      d[4] = -at("asc_decay_2") * y[4];
    }
    if (has_r()) d[5] = -at("th_spike_decay") * y[5];
    if (has_a()) d[6] = at("th_voltage_index") * y[0] - at("th_voltage_decay") * y[6];
    return d;
  }
  double gap(const y_t& y) const { return y[0] - (at("V_th") - at("E_L") + y[5] + y[6]); }

  std::pair<y_t, double> step(const y_t& y, double h, bool refr, double i_dc) const {
    return test::dormand_prince_step(y, h, [&](const y_t& x) { return deriv(x, refr, i_dc); });
  }
  y_t integrate(y_t y, double h, double i_dc) const {
    const int n = 1 + static_cast<int>(h / 1e-3);
    for (int k = 0; k < n; ++k) y = step(y, h / n, false, i_dc).first;
    return y;
  }

  void fire(y_t& y) const {
    y[0] = has_r() ? at("voltage_reset_fraction") * y[0] + at("voltage_reset_add") : at("V_reset") - at("E_L");
    const double tr = at("t_ref");
    if (has_r()) y[5] = y[5] * std::exp(-at("th_spike_decay") * tr) + at("th_spike_add");
    if (has_asc()) {
      y[3] = at("asc_r_1") * y[3] * std::exp(-at("asc_decay_1") * tr) + at("asc_amp_1");
      y[4] = at("asc_r_2") * y[4] * std::exp(-at("asc_decay_2") * tr) + at("asc_amp_2");
    }
  }

  // Inputs (time, weight, receptor; receptor 2 changes the DC current) in time order.
  std::vector<double> spikes(double T, const std::vector<std::tuple<double, double, int>>& inputs) const {
    std::vector<double> out;
    y_t y{};
    if (has_asc()) y[3] = at("asc_init_1"), y[4] = at("asc_init_2");
    double t = 0, refr_until = -1, i_dc = 0, h = 0.05;
    size_t next = 0;
    while (t < T) {
      const double t_in = next < inputs.size() ? std::get<0>(inputs[next]) : T;
      if (t >= t_in) {
        const auto [ti, w, rec] = inputs[next++];
        (rec == 0 ? y[1] : rec == 1 ? y[2] : i_dc) += w;
        continue;
      }
      const bool refr = t < refr_until;
      const double stop = refr ? std::min(t_in, refr_until) : t_in;
      // Short steps keep a brief excursion above threshold from hiding inside one step.
      const double hs = std::min({h, stop - t, 0.05});
      auto [y1, err] = step(y, hs, refr, i_dc);
      if (err > 1) {
        h = hs * std::max(0.1, 0.9 * std::pow(err, -0.2));
        continue;
      }
      h = hs * std::min(5.0, 0.9 * std::pow(std::max(err, 1e-10), -0.2));
      if (!refr && gap(y1) >= 0) {  // bisect the crossing inside the accepted step
        double lo = 0, hi = hs;
        for (int it = 0; it < 200 && hi - lo > 1e-15 * (t + hi); ++it) {
          const double mid = 0.5 * (lo + hi);
          (gap(integrate(y, mid, i_dc)) >= 0 ? hi : lo) = mid;
        }
        y = integrate(y, hi, i_dc);
        t += hi;
        out.push_back(t);
        fire(y);
        refr_until = t + at("t_ref");
        continue;
      }
      t = hs == stop - t ? stop : t + hs;
      y = y1;
      if (refr && t >= refr_until && gap(y) >= 0) {  // the reset left V above threshold
        out.push_back(t);
        fire(y);
        refr_until = t + at("t_ref");
      }
    }
    return out;
  }
};

struct drive {
  double T = 300, w_ex = 60, w_in = -80, dc = 150, dc_on = 100.5, dc_off = 200.5;
  uint64_t seed = 12345;
};

// A fixed, irregular input train from a small LCG: 3/4 excitatory, 1/4 inhibitory, one input per
// 1.5 ms on average.
void trains(const drive& d, std::vector<double>& ex, std::vector<double>& in) {
  test::lcg uni{d.seed};
  for (double t = 0;;) {
    t += -std::log(1 - uni()) * 1.5;
    if (t >= d.T) break;
    (uni() < 0.75 ? ex : in).push_back(std::round(t * 1e4) / 1e4);
  }
}

// Runs level `level` with parameters `v` through the engine and the reference; returns the
// largest spike-time difference (and checks the counts).
double compare(int level, const values& v, const drive& d, const char* what) {
  std::vector<double> ex, in;
  trains(d, ex, in);
  std::vector<std::tuple<double, double, int>> inputs;
  for (double t : ex) inputs.emplace_back(t, d.w_ex, 0);
  for (double t : in) inputs.emplace_back(t, d.w_in, 1);
  if (d.dc != 0) {
    inputs.emplace_back(d.dc_on, d.dc, 2);
    inputs.emplace_back(d.dc_off, -d.dc, 2);
  }
  std::sort(inputs.begin(), inputs.end());
  const reference ref{level, v};
  const std::vector<double> expected = ref.spikes(d.T, inputs);

  std::vector<std::string> params;
  for (const auto& [k, x] : v) params.push_back(fmt::format("\"{}\": {:.17g}", k, x));
  std::string stimuli = fmt::format(
      R"([{{"spike_generator": {{"target": "n", "spike_times": [{}], "weight": {}, "receptor": "excitatory"}}}},
          {{"spike_generator": {{"target": "n", "spike_times": [{}], "weight": {}, "receptor": "inhibitory"}}}})",
      fmt::join(ex, ","), d.w_ex, fmt::join(in, ","), d.w_in);
  if (d.dc != 0)
    stimuli += fmt::format(R"(, {{"dc": {{"target": "n", "amplitude": {}, "start": {}, "stop": {}}}}})", d.dc,
                           d.dc_on, d.dc_off);
  stimuli += "]";
  const std::string cfg = fmt::format(R"({{
    "run": {{"duration": {}}},
    "populations": {{"n": {{"size": 1, "model": "glif{}_psc_exp", "params": {{{}}}}}}},
    "stimuli": {},
    "recorders": [{{"spikes": {{}}}}]
  }})",
                                      d.T, level, fmt::join(params, ", "), stimuli);
  const auto run = test::simulate_json(cfg);
  const auto got = test::spikes_of(run.res, 0);
  INFO(fmt::format("glif{} {}: engine {} spikes, reference {}", level, what, got.size(), expected.size()));
  CHECK(expected.size() >= 8);
  REQUIRE(got.size() == expected.size());
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) worst = std::max(worst, std::fabs(got[k] - expected[k]));
  MESSAGE(fmt::format("glif{} {}: {} spikes, largest difference {:.3g} ms", level, what, got.size(), worst));
  CHECK(worst <= 1e-6);
  return worst;
}

}  // namespace

TEST_CASE("glif1-5 with the published parameters: spike times against Dormand-Prince") {
  for (int level = 1; level <= 5; ++level) {
    CAPTURE(level);
    values v = published(level);
    v["tau_syn_in"] = 5.0;  // unrelated to every other rate
    v["I_e"] = 400.0;
    drive d;
    d.T = 400;
    compare(level, v, d, "published fit");
  }
}

TEST_CASE("glif: synaptic time constant equal to C_m / g (t exp(-t / tau_m) in V)") {
  for (int level : {1, 3, 5}) {
    CAPTURE(level);
    values v = published(level);
    v["C_m"] = 60.0;
    v["g"] = 10.0;  // tau_m = 6 ms
    v["tau_syn_ex"] = 6.0;
    v["I_e"] = 300.0;
    if (level == 1) v["V_th"] = -43.0;
    compare(level, v, drive{}, "tau_syn_ex = C_m / g");
  }
}

TEST_CASE("glif5: th_voltage_decay equal to other rates (powers of t in theta_v)") {
  struct variant {
    const char* what;
    values changes;
  };
  for (const variant& c : {
           variant{"b_v = asc_decay_2 = 1 / tau_syn_in",
                   {{"th_voltage_decay", 0.1}, {"tau_syn_in", 10.0}, {"I_e", 380.0}}},
           variant{"b_v = g / C_m", {{"th_voltage_decay", 10.0 / 60.0}}},
           variant{"b_v = g / C_m = 1 / tau_syn_ex (t^2)", {{"th_voltage_decay", 10.0 / 60.0}, {"tau_syn_ex", 6.0}}},
           variant{"b_v = g / C_m = asc_decay_2, th_spike_decay = 1 / tau_syn_in",
                   {{"th_voltage_decay", 10.0 / 60.0}, {"asc_decay_2", 10.0 / 60.0}, {"th_spike_decay", 0.2},
                    {"tau_syn_in", 5.0}}},
       }) {
    const std::string what = c.what;
    CAPTURE(what);
    values v = published(5);
    v["C_m"] = 60.0;
    v["g"] = 10.0;
    v["I_e"] = 300.0;
    v["th_voltage_index"] = 0.02;  // a larger theta_v, so its course matters
    for (const auto& [k, x] : c.changes) v[k] = x;
    compare(5, v, drive{}, c.what);
  }
}

TEST_CASE("glif2: a reset above threshold fires again as t_ref ends") {
  values v = published(2);
  v["voltage_reset_add"] = 45.0;  // U = 0.2 U + 45 lands above V_th - E_L + theta_s
  v["I_e"] = 400.0;
  drive d;
  d.T = 100;
  compare(2, v, d, "reset above threshold");
}

TEST_CASE("glif4: partial ASC reset (asc_r < 1), initial ASCs, inhibition-heavy input") {
  values v = published(4);
  v["asc_r_1"] = 0.5;
  v["asc_r_2"] = 0.25;
  v["asc_init_1"] = 50.0;
  v["asc_init_2"] = -20.0;
  v["I_e"] = 380.0;
  drive d;
  d.w_in = -150;
  d.seed = 777;
  compare(4, v, d, "asc_r < 1");
}
