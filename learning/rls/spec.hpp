// The run file's "learning": {"rls": {...}} section, as io/config.cpp validates it: which
// projections are plastic, which neurons are trained towards which targets, and how
// (docs/rls.md, docs/config.md). learning/rls/training.hpp runs it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "plugins/registry.hpp"

namespace gs {

struct rls_spec {
  std::string path = "learning.rls";
  std::vector<std::string> plastic;  // projection names: their synapses are the trained weights
  std::vector<std::string> trained;  // populations, in this order the rows of the targets
  std::string plastic_current;       // state variable holding the plastic projections' input
  std::vector<std::string> fixed_current;  // state variables the target includes besides it
  double tau = 0;                          // ms, the plastic receptor's decay (filters r)
  double lambda = 1, mu = 0;
  bool single_precision_P = false;  // "P_precision": "single" (learning/rls/rls.hpp)
  bool on_gpu = false;              // "device": "cuda" (learning/rls/gpu.hpp)
  double learn_every = 10;                  // ms
  double window_start = 0, window_end = 0;  // ms; learning times in (start, end]
  uint32_t loops = 1;
  double smoothing = 50;  // ms, half-width of the boxcar before correlating with the target
  // Targets: a registered generator with its checked parameters, or a file.
  std::string generator;
  json generator_params;
  std::function<std::vector<double>(const json&, const target_context&)> make_targets;
  std::string target_file, target_dataset;  // .npy (2-D) or HDF5 (dataset), neurons x times
  uint32_t test_trials = 10;
  double psth_bin = 10;  // ms
  uint32_t checkpoint_every = 10;
};

}  // namespace gs
