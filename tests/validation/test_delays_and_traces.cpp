// Synaptic delays, constant and per synapse, seen through parrot neurons (a parrot repeats each
// input at its arrival time, so its spike times are the arrival times); and sampled state
// against the closed-form membrane trajectory.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

#include "tests/support/sim.hpp"

using namespace gs;

TEST_CASE("arrival times are spike time plus each synapse's delay") {
  const auto run = test::simulate_json(R"({
    "run": {"duration": 100.0, "seed": 5},
    "populations": {"src": {"size": 1, "model": "parrot_neuron"},
                    "fixed": {"size": 3, "model": "parrot_neuron"},
                    "spread": {"size": 40, "model": "parrot_neuron"}},
    "projections": [
      {"source": "src", "target": "fixed", "rule": {"all_to_all": {}}, "weight": 1.0, "delay": 1.5},
      {"source": "src", "target": "spread", "rule": {"all_to_all": {}}, "weight": 1.0,
       "delay": {"uniform": [0.5, 5.0]}}],
    "stimuli": [{"spike_generator": {"target": "src", "spike_times": [10.0, 20.0, 20.0]}}],
    "recorders": [{"spikes": {}}]
  })");
  const auto& net = run.net;
  // The source repeats each input: at 10, and twice at 20.
  CHECK(test::spikes_of(run.res, 0) == std::vector<double>{10.0, 20.0, 20.0});
  for (uint32_t j = 0; j < 3; ++j) CHECK(test::spikes_of(run.res, 1 + j) == std::vector<double>{11.5, 21.5, 21.5});
  const projection& pr = net.projections[1];
  REQUIRE(pr.delays.size() == 40);
  for (uint64_t k = 0; k < 40; ++k) {
    const double d = pr.delays[k];
    CHECK(d >= 0.5);
    CHECK(d <= 5.0);
    const auto got = test::spikes_of(run.res, 4 + pr.targets[k]);
    CHECK(got == std::vector<double>{10.0 + d, 20.0 + d, 20.0 + d});
  }
  // Spikes are recorded in time order.
  CHECK(std::is_sorted(run.res.spike_times.begin(), run.res.spike_times.end()));
}

TEST_CASE("sampled V_m follows the closed-form trajectory") {
  // lif_psc_exp from V_m = -70 with I_e = 300 pA: V(t) = V_inf + (V0 - V_inf) exp(-t / tau_m),
  // V_inf = -58 mV (below threshold), sampled every 0.25 ms.
  const auto run = test::simulate_json(R"({
    "run": {"duration": 50.0},
    "populations": {"n": {"size": 2, "model": "lif_psc_exp",
      "params": {"tau_m": 10.0, "C_m": 250.0, "E_L": -70.0, "I_e": 300.0}}},
    "recorders": [{"state": {"population": "n", "ids": [1], "variables": ["V_m"], "interval": 0.25}}]
  })");
  REQUIRE(run.res.traces.size() == 1);
  const auto& tr = run.res.traces[0];
  REQUIRE(tr.times.size() == 200);
  for (size_t k = 0; k < tr.times.size(); ++k) {
    const double t = tr.times[k], expected = -58.0 + (-70.0 + 58.0) * std::exp(-t / 10.0);
    CHECK(tr.times[k] == doctest::Approx(0.25 * k));
    CHECK(std::fabs(tr.values[0][k] - expected) <= 1e-12);
  }
}
