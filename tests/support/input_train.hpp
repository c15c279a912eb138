// Hand-made input trains for single-neuron validation tests, and the engine run that plays them
// through spike_generator stimuli.
#pragma once
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/support/sim.hpp"

namespace gs::test {

struct input {
  double t, w;
  int receptor;  // 0 excitatory, 1 inhibitory
  bool operator<(const input& o) const { return t < o.t; }
};

// A fixed irregular train from the test LCG: exponential intervals of mean `interval`, a share
// `p_ex` excitatory. Times on a 1e-4 ms grid, so they print exactly and never tie by accident.
inline std::vector<input> input_train(uint64_t seed, double T, double interval, double p_ex, double w_ex,
                                      double w_in) {
  std::vector<input> in;
  lcg uni{seed};
  for (double t = 0;;) {
    t += -std::log(1 - uni()) * interval;
    if (t >= T) break;
    const bool ex = uni() < p_ex;
    in.push_back({std::round(t * 1e4) / 1e4, ex ? w_ex : w_in, ex ? 0 : 1});
  }
  return in;
}

// Spike times of one neuron of `model` (parameters as JSON members) under the inputs, one
// spike_generator per (weight, receptor).
inline std::vector<double> engine_spikes(const std::string& model, const std::string& params, std::vector<input> in,
                                         double T) {
  std::sort(in.begin(), in.end());
  std::map<std::pair<double, int>, std::vector<double>> groups;
  for (const auto& i : in) groups[{i.w, i.receptor}].push_back(i.t);
  std::vector<std::string> gens;
  for (const auto& [key, times] : groups)
    gens.push_back(fmt::format(
        R"({{"spike_generator": {{"target": "n", "spike_times": [{}], "weight": {}, "receptor": "{}"}}}})",
        fmt::join(times, ","), key.first, key.second == 0 ? "excitatory" : "inhibitory"));
  const std::string cfg = fmt::format(R"({{
    "run": {{"duration": {}}},
    "populations": {{"n": {{"size": 1, "model": "{}", "params": {{{}}}}}}},
    "stimuli": [{}],
    "recorders": [{{"spikes": {{}}}}]
  }})",
                                      T, model, params, fmt::join(gens, ","));
  return spikes_of(simulate_json(cfg).res, 0);
}

// The time `before` ms ahead of spike k, on a 1e-6 ms grid (to aim an input at an upstroke).
inline double ahead_of(const std::vector<double>& spikes, size_t k, double before) {
  REQUIRE(spikes.size() > k);
  return std::round((spikes[k] - before) * 1e6) / 1e6;
}

// Same number of spikes and every time within `tolerance` ms; returns the largest difference.
inline double compare_spikes(const char* what, const std::vector<double>& expected, const std::vector<double>& got,
                             double tolerance) {
  REQUIRE(got.size() == expected.size());
  double worst = 0;
  size_t at = 0;
  for (size_t k = 0; k < got.size(); ++k)
    if (std::fabs(got[k] - expected[k]) > worst) worst = std::fabs(got[k] - expected[k]), at = k;
  MESSAGE(fmt::format("{}: {} spikes, largest difference {:.3g} ms (spike {} at {} ms)", what, got.size(), worst, at,
                      got.empty() ? 0.0 : got[at]));
  CHECK(worst <= tolerance);
  return worst;
}

}  // namespace gs::test
