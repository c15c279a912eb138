// The exponential-current LIF under a fixed input spike train, against an adaptive
// Dormand-Prince 5(4) integration of the ODEs written here (relative tolerance 1e-12), with
// threshold crossings located by bisection on re-integrated sub-steps. Nothing of the model's
// propagator is reused.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <vector>

#include "tests/support/sim.hpp"

using namespace gs;

namespace {

struct neuron_ode {
  double tau_m, C_m, E_L, V_th, V_reset, t_ref, tau_ex, tau_in, I_e;
  using y_t = std::array<double, 3>;  // V, I_ex, I_in

  y_t deriv(const y_t& y, bool refractory) const {
    return {refractory ? 0.0 : -(y[0] - E_L) / tau_m + (y[1] + y[2] + I_e) / C_m, -y[1] / tau_ex, -y[2] / tau_in};
  }

  // One Dormand-Prince step; returns the 5th-order solution and the error estimate.
  std::pair<y_t, double> step(const y_t& y, double h, bool refr) const {
    static constexpr double a21 = 1.0 / 5, a31 = 3.0 / 40, a32 = 9.0 / 40, a41 = 44.0 / 45, a42 = -56.0 / 15,
                            a43 = 32.0 / 9, a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                            a54 = -212.0 / 729, a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247,
                            a64 = 49.0 / 176, a65 = -5103.0 / 18656, b1 = 35.0 / 384, b3 = 500.0 / 1113,
                            b4 = 125.0 / 192, b5 = -2187.0 / 6784, b6 = 11.0 / 84, e1 = 71.0 / 57600,
                            e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200, e6 = 22.0 / 525,
                            e7 = -1.0 / 40;
    auto comb = [&](std::initializer_list<std::pair<double, const y_t*>> terms) {
      y_t r = y;
      for (auto [c, k] : terms)
        for (int i = 0; i < 3; ++i) r[i] += h * c * (*k)[i];
      return r;
    };
    const y_t k1 = deriv(y, refr);
    const y_t k2 = deriv(comb({{a21, &k1}}), refr);
    const y_t k3 = deriv(comb({{a31, &k1}, {a32, &k2}}), refr);
    const y_t k4 = deriv(comb({{a41, &k1}, {a42, &k2}, {a43, &k3}}), refr);
    const y_t k5 = deriv(comb({{a51, &k1}, {a52, &k2}, {a53, &k3}, {a54, &k4}}), refr);
    const y_t k6 = deriv(comb({{a61, &k1}, {a62, &k2}, {a63, &k3}, {a64, &k4}, {a65, &k5}}), refr);
    const y_t y5 = comb({{b1, &k1}, {b3, &k3}, {b4, &k4}, {b5, &k5}, {b6, &k6}});
    const y_t k7 = deriv(y5, refr);
    double err = 0;
    for (int i = 0; i < 3; ++i) {
      const double e = h * (e1 * k1[i] + e3 * k3[i] + e4 * k4[i] + e5 * k5[i] + e6 * k6[i] + e7 * k7[i]);
      const double scale = 1e-12 + 1e-12 * std::max(std::fabs(y[i]), std::fabs(y5[i]));
      err = std::max(err, std::fabs(e) / scale);
    }
    return {y5, err};
  }

  // Integrates over [0, T] with inputs (time, weight, receptor); returns the spike times.
  std::vector<double> spikes(double T, std::vector<std::tuple<double, double, int>> inputs) const {
    std::vector<double> out;
    y_t y{E_L, 0, 0};
    double t = 0, refr_end = -1, h = 1e-3;
    size_t next_input = 0;
    while (t < T) {
      const bool refr = t < refr_end;
      double stop = T;
      if (next_input < inputs.size()) stop = std::min(stop, std::get<0>(inputs[next_input]));
      if (refr) stop = std::min(stop, refr_end);
      if (t >= stop) {  // apply every input due now
        while (next_input < inputs.size() && std::get<0>(inputs[next_input]) <= t) {
          auto [ti, w, rec] = inputs[next_input++];
          y[rec == 0 ? 1 : 2] += w;
        }
        continue;
      }
      const double hs = std::min(h, stop - t);
      auto [y1, err] = step(y, hs, refr);
      if (err > 1) {
        h = hs * std::max(0.1, 0.9 * std::pow(err, -0.2));
        continue;
      }
      if (!refr && y1[0] >= V_th) {
        // Bisect on the time within the accepted step, re-integrating from its start.
        double lo = 0, hi = hs;
        for (int it = 0; it < 200 && hi - lo > 1e-15 * (t + hi); ++it) {
          const double mid = 0.5 * (lo + hi);
          y_t ym = y;
          // Sub-steps small enough to stay within tolerance.
          const int n = 1 + static_cast<int>(mid / 1e-3);
          for (int k = 0; k < n; ++k) ym = step(ym, mid / n, false).first;
          (ym[0] >= V_th ? hi : lo) = mid;
        }
        t += hi;
        y_t ys = y;
        const int n = 1 + static_cast<int>(hi / 1e-3);
        for (int k = 0; k < n; ++k) ys = step(ys, hi / n, false).first;
        y = ys;
        out.push_back(t);
        y[0] = V_reset;
        refr_end = t + t_ref;
        continue;
      }
      t += hs;
      y = y1;
      if (refr && t >= refr_end) y[0] = V_reset;
      h = hs * std::min(5.0, 0.9 * std::pow(std::max(err, 1e-10), -0.2));
    }
    return out;
  }
};

std::vector<double> times_json(const std::vector<double>& t) {
  return t;
}

void compare(double tau_ex, double tau_in) {
  // A fixed, irregular input train from a small LCG: excitatory and inhibitory spikes.
  std::vector<double> ex, in;
  uint64_t s = 12345;
  auto uni = [&] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(s >> 11) * 0x1.0p-53;
  };
  for (double t = 0;;) {
    t += -std::log(1 - uni()) * 1.5;
    if (t >= 500) break;
    (uni() < 0.75 ? ex : in).push_back(std::round(t * 1e4) / 1e4);
  }
  const neuron_ode ode{10.0, 250.0, -70.0, -55.0, -70.0, 2.0, tau_ex, tau_in, 300.0};
  std::vector<std::tuple<double, double, int>> inputs;
  for (double t : ex) inputs.emplace_back(t, 300.0, 0);
  for (double t : in) inputs.emplace_back(t, -200.0, 1);
  std::sort(inputs.begin(), inputs.end());
  const std::vector<double> expected = ode.spikes(500.0, inputs);

  const std::string cfg = fmt::format(R"({{
    "run": {{"duration": 500.0}},
    "populations": {{"n": {{"size": 1, "model": "lif_psc_exp",
      "params": {{"tau_m": 10.0, "C_m": 250.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -70.0, "t_ref": 2.0,
                 "tau_syn_ex": {}, "tau_syn_in": {}, "I_e": 300.0}}}}}},
    "stimuli": [{{"spike_generator": {{"target": "n", "spike_times": {}, "weight": 300.0, "receptor": "excitatory"}}}},
                {{"spike_generator": {{"target": "n", "spike_times": {}, "weight": -200.0, "receptor": "inhibitory"}}}}],
    "recorders": [{{"spikes": {{}}}}]
  }})", tau_ex, tau_in, fmt::format("[{}]", fmt::join(times_json(ex), ",")),
                                      fmt::format("[{}]", fmt::join(times_json(in), ",")));
  const auto run = test::simulate_json(cfg);
  const auto got = test::spikes_of(run.res, 0);
  REQUIRE(expected.size() > 20);
  REQUIRE(got.size() == expected.size());
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) worst = std::max(worst, std::fabs(got[k] - expected[k]));
  MESSAGE(fmt::format("tau_syn {} / {}: {} spikes, largest difference {:.3g} ms", tau_ex, tau_in, got.size(), worst));
  CHECK(worst <= 1e-6);
}

}  // namespace

TEST_CASE("commensurate (tau_m = 5 tau_ex) and unrelated (tau_in = 3) synaptic time constants") {
  compare(2.0, 3.0);
}

TEST_CASE("both synaptic time constants divide tau_m (inputs summed per row, then folded in)") {
  compare(2.0, 5.0);
}

TEST_CASE("synaptic time constant equal to the membrane's") {
  compare(10.0, 3.7);
}
