// The true conditional intensity of a recording made by a network of hawkes_linear neurons
// (models/hawkes.hpp): the network is rebuilt from the run file and seed that made it, so its
// synapses, weights and delays are the simulated ones, and every held-out spike is scored under
// the model that generated it, with the metrics of the fitted predictors. `predict eval
// --true-run` reports it: the floor a fitted model's NLL per event can approach.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "learning/predictor/evaluate.hpp"
#include "learning/predictor/spike_data.hpp"

namespace gs::predictor {

struct hawkes_network_truth {
  struct synapse {
    int target;
    double delay_ms, jump_per_ms;  // the target's intensity rises by jump_per_ms, delay_ms after the spike
  };
  std::vector<double> mu_per_ms;         // per neuron (the run's global ids)
  std::vector<int> population_of;        // per neuron
  std::vector<double> tau_ms;            // per population: kernel decay time
  std::vector<std::vector<synapse>> out;  // per source neuron
  std::vector<int> neuron_of_token;      // token of `vocabulary` -> neuron
  std::uint64_t seed = 0, synapses = 0;  // of the rebuilt network, to check against the run's summary

  // Throws data_error when the run has anything but hawkes_linear populations with constant
  // parameters, has stimuli (inputs the recording does not show), negative weights, or when a
  // population of `vocabulary` is not in the run or is larger there; config_error for a bad run file.
  static hawkes_network_truth from_run(const std::filesystem::path& run_file,
                                       const std::vector<population_range>& vocabulary);
  // Scores events [first, end) of `train` (in the vocabulary's tokens; first >= 2, as score_model),
  // with the network's state carried from time 0, the start of the simulation.
  std::vector<event_score> score(const spike_train& train, std::size_t first, std::size_t end) const;
};

}  // namespace gs::predictor
