// The delta-synapse LIF under a fixed train of voltage jumps, against the same neuron worked out
// here event by event from its textbook solution: V relaxes as V_inf + (V - V_inf) e^{-t/tau_m},
// jumps by w at each input (inputs during the refractory period are lost), fires when a jump
// or the relaxation reaches V_th.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

#include "tests/support/sim.hpp"

using namespace gs;

TEST_CASE("delta LIF spike times under an input train") {
  const double tau = 20, E_L = -49, V_th = -50, V_reset = -60, t_ref = 5, T = 2000;
  std::vector<std::pair<double, double>> inputs;  // (time, jump)
  test::lcg uni{99};
  for (double t = 0;;) {
    t += -std::log(1 - uni()) * 0.8;
    if (t >= T) break;
    inputs.emplace_back(std::round(t * 1e4) / 1e4, uni() < 0.8 ? 0.6 : -2.0);
  }
  // Reference: walk the inputs; between them the crossing time of the relaxation is closed form.
  std::vector<double> expected;
  double v = V_reset, t = 0, refr_end = 0;
  auto relax_until = [&](double t_next) {
    while (true) {
      const double start = std::max(t, refr_end);
      if (start >= t_next) return;
      if (t < refr_end) v = V_reset;
      const double cross = start + tau * std::log((E_L - v) / (E_L - V_th));  // E_L > V_th: always
      if (cross >= t_next) {
        v = E_L + (v - E_L) * std::exp(-(t_next - start) / tau);
        t = t_next;
        return;
      }
      expected.push_back(cross);
      t = cross;
      v = V_reset;
      refr_end = cross + t_ref;
    }
  };
  for (auto [ti, w] : inputs) {
    relax_until(ti);
    t = ti;
    if (t < refr_end) continue;
    v += w;
    if (v >= V_th) {
      expected.push_back(t);
      v = V_reset;
      refr_end = t + t_ref;
    }
  }
  relax_until(T);

  std::vector<double> ex, in;
  for (auto [ti, w] : inputs) (w > 0 ? ex : in).push_back(ti);
  const auto run = test::simulate_json(fmt::format(R"({{
    "run": {{"duration": {}}},
    "populations": {{"n": {{"size": 1, "model": "lif_psc_delta",
      "params": {{"tau_m": {}, "E_L": {}, "V_th": {}, "V_reset": {}, "t_ref": {}}},
      "initial": {{"V_m": {}}}}}}},
    "stimuli": [{{"spike_generator": {{"target": "n", "spike_times": [{}], "weight": 0.6}}}},
                {{"spike_generator": {{"target": "n", "spike_times": [{}], "weight": -2.0}}}}],
    "recorders": [{{"spikes": {{}}}}]
  }})", T, tau, E_L, V_th, V_reset, t_ref, V_reset, fmt::join(ex, ","), fmt::join(in, ",")));
  const auto got = test::spikes_of(run.res, 0);
  REQUIRE(expected.size() > 50);
  REQUIRE(got.size() == expected.size());
  double worst = 0;
  for (size_t k = 0; k < got.size(); ++k) worst = std::max(worst, std::fabs(got[k] - expected[k]));
  MESSAGE(fmt::format("{} spikes, largest difference {:.3g} ms", got.size(), worst));
  CHECK(worst <= 1e-9);
}
