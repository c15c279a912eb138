// The hidden-neuron mask of a synthetic data set (docs/config.md, "outputs.hidden"): the neurons a
// model trained on the visible ones is scored on, chosen per population uniformly at random or as
// a spatial cluster, from a seed, so the same run file always hides the same neurons.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace gs {

struct run_config;

struct hidden_spec {
  double fraction = 0;                 // of each listed population, rounded to whole neurons
  std::string selection = "uniform";   // "uniform" or "clustered" (the neurons nearest a random point)
  uint64_t seed = 1;
  std::vector<std::string> populations;  // empty: all
};

// One byte per global neuron id: 1 hidden, 0 visible. `centres`, when given, receives per
// population the point a clustered selection is nearest to (NaN otherwise).
std::vector<uint8_t> hidden_mask(const run_config& cfg, std::vector<std::array<double, 2>>* centres = nullptr);

}  // namespace gs
