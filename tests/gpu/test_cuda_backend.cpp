// The cuda backend on a GPU, against the CPU clock backend (the same step, the same grid): spike
// times of single neurons identical at the same dt, network rates within 3 %, run-to-run
// reproducibility, state recorders, Poisson counts, a plugin model compiled with nvcc, and
// procedural projections (built-in rules and a plugin rule) drawn again on the device.
// Without a usable GPU the test exits with status 77, which ctest reports as skipped, and says
// why; tools/gpu_check.sh fails on a skip.
#include "tests/support/gpu_main.hpp"  // first: it implements doctest

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/sim.hpp"

using namespace gs;

namespace {

test::sim_run on(const std::string& text, const std::string& backend, std::vector<std::string> sets = {}) {
  sets.push_back("run.backend=\"" + backend + "\"");
  return test::simulate_json(text, sets);
}

// Per-population rates (Hz) of a run.
std::vector<double> rates(const test::sim_run& r) {
  std::vector<double> out;
  for (size_t p = 0; p < r.net.populations.size(); ++p)
    out.push_back(double(r.res.spikes_per_population[p]) / r.net.populations[p]->size / (r.cfg.duration * 1e-3));
  return out;
}

// Single neurons without randomness: the GPU keeps state in float32 and computes each step in
// double, the CPU keeps double; spike steps agree unless the potential ends a step within a few
// 1e-6 mV of threshold. The drives are strong, so the potential crosses threshold by 0.1 mV a step
// or more, and such a near miss has a chance of the order of 1e-5 per spike (1,300 spikes here).
// The escape-noise neurons draw from the same keyed streams on both sides (engine/rng.hpp), so
// their spikes agree too, unless a draw falls within the float32 rounding of the hazard.
const char* single_neurons = R"({
  "run": {"duration": 1000, "seed": 3, "dt": 0.1},
  "populations": {
    "psc": {"model": "lif_psc_exp", "size": 4, "params": {"I_e": {"uniform": [700, 900]}}},
    "cond": {"model": "lif_cond_exp", "size": 4, "params": {"I_e": {"uniform": [500, 700]}}},
    "adex": {"model": "aeif_psc_exp", "size": 4, "params": {"I_e": {"uniform": [900, 1300]}}},
    "glif": {"model": "glif3_psc_exp", "size": 4},
    "escape": {"model": "pp_lif_delta", "size": 4, "params": {"I_e": {"uniform": [350, 450]}}}
  },
  "stimuli": [
    {"spike_generator": {"target": "psc", "spike_times": [5, 17.5, 30, 31, 250, 251, 252], "weight": 300}},
    {"spike_generator": {"target": "cond", "spike_times": [5, 17.5, 30, 31, 250, 251, 252], "weight": 4}},
    {"dc": {"target": "glif", "amplitude": 600, "start": 100, "stop": 900}}
  ],
  "recorders": [{"spikes": {}}, {"state": {"population": "cond", "ids": [0, 3], "variables": ["V_m", "g_ex"], "interval": 0.5}}]
})";

// The largest difference between two runs' samples of one traced variable, relative to
// 1 + |clock value|, and the largest |clock value|.
std::pair<double, double> trace_difference(const std::vector<double>& clock, const std::vector<double>& cuda) {
  REQUIRE(clock.size() == cuda.size());
  double worst = 0, largest = 0;
  for (size_t i = 0; i < clock.size(); ++i) {
    worst = std::max(worst, std::abs(clock[i] - cuda[i]) / (1 + std::abs(clock[i])));
    largest = std::max(largest, std::abs(clock[i]));
  }
  return {worst, largest};
}

}  // namespace

TEST_CASE("single neurons of five models: the clock backend's spike steps, and its traces within float32") {
  const auto cpu = on(single_neurons, "clock"), gpu = on(single_neurons, "cuda");
  for (uint32_t gid = 0; gid < cpu.net.neurons; ++gid) {
    CAPTURE(gid);
    const auto a = test::spikes_of(cpu.res, gid), b = test::spikes_of(gpu.res, gid);
    CHECK(a.size() > 3);
    CHECK(a == b);
  }
  REQUIRE(gpu.res.traces.size() == 1);
  const auto& tc = cpu.res.traces[0];
  const auto& tg = gpu.res.traces[0];
  CHECK(tc.times == tg.times);
  for (size_t v = 0; v < tc.values.size(); ++v) {
    const double worst = trace_difference(tc.values[v], tg.values[v]).first;
    MESSAGE("trace variable " << v << ": largest relative difference " << worst);
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("CUBA and COBA networks: rates within 3 % of the clock backend") {
  for (const char* name : {"cuba.json", "coba.json"}) {
    const std::string text = test::read_example(name);
    const std::vector<std::string> sets{"run.duration=2000", "run.dt=0.1", "run.seed=11"};
    const auto cpu = rates(on(text, "clock", sets)), gpu = rates(on(text, "cuda", sets));
    for (size_t p = 0; p < cpu.size(); ++p) {
      MESSAGE(name << " population " << p << ": clock " << cpu[p] << " Hz, cuda " << gpu[p] << " Hz");
      CHECK(cpu[p] > 1);
      CHECK(std::abs(gpu[p] / cpu[p] - 1) < 0.03);
    }
  }
}

TEST_CASE("the same seed gives the same spikes, run to run") {
  const std::string text = test::read_example("cuba.json");
  const std::vector<std::string> sets{"run.duration=500", "run.seed=4"};
  const auto a = on(text, "cuda", sets), b = on(text, "cuda", sets);
  CHECK(a.res.spike_times.size() > 1000);
  CHECK(a.res.spike_times == b.res.spike_times);
  CHECK(a.res.spike_gids == b.res.spike_gids);
  CHECK(a.res.synaptic_events == b.res.synaptic_events);
}

TEST_CASE("Poisson input: per-step counts on the device give the clock backend's rate") {
  // 20,000 unconnected neurons driven by Poisson input only (about 55 Hz, 1.1 million spikes):
  // the rate's sampling error is well under 1 %, so the two backends' draws (different streams,
  // the same law) agree within 3 %.
  const char* text = R"({"run": {"duration": 1000, "seed": 8},
    "populations": {"n": {"model": "lif_psc_exp", "size": 20000}},
    "stimuli": [{"poisson": {"target": "n", "rate": 4000, "weight": 60}}],
    "recorders": [{"spikes": {}}]})";
  const auto cpu = on(text, "clock"), gpu = on(text, "cuda");
  const double rc = rates(cpu)[0], rg = rates(gpu)[0];
  MESSAGE("Poisson-driven rate: clock " << rc << " Hz, cuda " << rg << " Hz");
  CHECK(rc > 2);
  CHECK(std::abs(rg / rc - 1) < 0.03);
  // Every count was delivered and counted: 4000 Hz x 20,000 targets x 1 s, within 5 standard deviations.
  const double expected = 4000.0 * 20000 * 1;
  CHECK(std::abs(double(gpu.res.synaptic_events) - expected) < 5 * std::sqrt(expected));
}

TEST_CASE("a plugin model compiled with nvcc runs on the GPU with the clock backend's spikes") {
  const std::string text = fmt::format(R"({{"plugins": ["{}/libquadratic_if_gpu.so"],
    "run": {{"duration": 1000, "seed": 2}},
    "populations": {{"qif": {{"model": "quadratic_if", "size": 50, "params": {{"I_e": {{"uniform": [80, 140]}}}}}}}},
    "projections": [{{"source": "qif", "target": "qif", "rule": {{"fixed_indegree": {{"indegree": 5}}}}, "weight": 0.2, "delay": 1.5}}],
    "recorders": [{{"spikes": {{}}}}]}})",
                                       test::build_path("GS_TEST_PLUGIN_DIR", GS_TEST_PLUGIN_DIR));
  const auto cpu = on(text, "clock"), gpu = on(text, "cuda");
  CHECK(cpu.res.spike_times.size() > 100);
  CHECK(cpu.res.spike_times == gpu.res.spike_times);
  CHECK(cpu.res.spike_gids == gpu.res.spike_gids);
}

// Procedural projections: parrots fire three times, and the currents they cause in targets that
// never spike are recorded at every step. A synapse drawn with another target, weight or delay on
// the device would change a current by a whole weight (tens of pA) at some step; float32 state
// and fixed-point sums change it by far less than the tolerance. The delivered synapses are also
// counted: every one, on both backends.
TEST_CASE("procedural projections: the device draws the clock backend's synapses, weights and delays") {
  std::vector<int> dst_ids(1000), ring_ids(300);
  std::iota(dst_ids.begin(), dst_ids.end(), 0);
  std::iota(ring_ids.begin(), ring_ids.end(), 0);
  const std::string text = fmt::format(R"({{"plugins": ["{}/libring_gpu.so"],
    "run": {{"duration": 20, "seed": 6, "dt": 0.1}},
    "populations": {{
      "src": {{"model": "parrot_neuron", "size": 300}},
      "dst": {{"model": "lif_psc_exp", "size": 1000, "params": {{"V_th": 1e6}}}},
      "ring": {{"model": "lif_psc_exp", "size": 300, "params": {{"V_th": 1e6}}}}}},
    "projections": [
      {{"source": "src", "target": "dst", "rule": {{"pairwise_bernoulli": {{"p": 0.05}}}}, "procedural": true,
        "weight": {{"normal": {{"mean": 20, "std": 5}}}}, "delay": {{"uniform": [0.5, 4]}}, "receptor": "excitatory"}},
      {{"source": "src", "target": "dst", "rule": {{"fixed_total_number": {{"N": 20000, "allow_multapses": true}}}},
        "procedural": true, "weight": -15, "delay": {{"normal": {{"mean": 2, "std": 0.5, "min": 0.5, "max": 4}}}},
        "receptor": "inhibitory"}},
      {{"source": "src", "target": "ring", "rule": {{"ring": {{"k": 20, "both_sides": true}}}}, "procedural": true,
        "weight": 7, "delay": 1.5, "receptor": "excitatory"}},
      {{"source": "src", "target": "dst", "rule": {{"fixed_indegree": {{"indegree": 5}}}}, "weight": 3, "delay": 1,
        "receptor": "excitatory"}}],
    "stimuli": [{{"spike_generator": {{"target": "src", "spike_times": [1, 3.3, 7.1], "weight": 1}}}}],
    "recorders": [{{"spikes": {{}}}},
      {{"state": {{"population": "dst", "ids": [{}], "variables": ["I_ex", "I_in"], "interval": 0.1}}}},
      {{"state": {{"population": "ring", "ids": [{}], "variables": ["I_ex"], "interval": 0.1}}}}]}})",
                                       test::build_path("GS_TEST_PLUGIN_DIR", GS_TEST_PLUGIN_DIR),
                                       fmt::join(dst_ids, ", "), fmt::join(ring_ids, ", "));
  const auto cpu = on(text, "clock"), gpu = on(text, "cuda");
  uint64_t synapses = 0;
  for (const auto& pr : cpu.net.projections) synapses += pr.synapses();
  CHECK(cpu.res.synaptic_events == 3 * 300 + 3 * synapses);  // the parrots' inputs, then every synapse thrice
  CHECK(gpu.res.synaptic_events == cpu.res.synaptic_events);
  REQUIRE(gpu.res.traces.size() == 2);
  for (size_t r = 0; r < 2; ++r) {
    const auto &tc = cpu.res.traces[r], &tg = gpu.res.traces[r];
    CHECK(tc.times == tg.times);
    for (size_t v = 0; v < tc.values.size(); ++v) {
      const auto [worst, largest] = trace_difference(tc.values[v], tg.values[v]);
      MESSAGE("recorder " << r << " variable " << v << ": largest current " << largest
                          << " pA, largest relative difference " << worst);
      CHECK(largest > 10);
      CHECK(worst < 1e-5);
    }
  }
}
