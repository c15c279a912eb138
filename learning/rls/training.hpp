// RLS training of a run file's network on the clock backend (docs/rls.md): the plastic
// projections' weights are edited in place between steps by learning/rls/rls.hpp, from an
// observer of the one clock loop (engine/backends/clock/simulator.hpp). A presentation is one
// run of run.duration; every presentation starts from a fresh initial state.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/network.hpp"
#include "io/config.hpp"
#include "learning/rls/rls.hpp"
#include "learning/rls/spec.hpp"

namespace gs::rls {

// What one presentation recorded of the trained neurons (rows: trained neurons in the order of
// learning.rls.trained, then local id).
struct presentation {
  Eigen::MatrixXd current;  // fixed + plastic current at each sample time
  Eigen::MatrixXd plastic;  // the plastic current alone (the model's state variable)
  Eigen::MatrixXd psth;     // spikes per bin, when asked for (psth_bin > 0)
  uint64_t spikes = 0;      // of the trained neurons
  double update_s = 0;      // wall time of the RLS updates and weight write-back within it
  // Spikes as the run file's spike recorders record them (ms, global ids).
  std::vector<double> spike_times;
  std::vector<uint32_t> spike_gids;
};

class training {
 public:
  training(const run_config& cfg, const registry& reg);

  uint32_t neurons() const { return uint32_t(trained_.size()); }
  const std::vector<double>& learning_times() const { return learn_ms_; }
  const std::vector<double>& sample_times() const { return sample_ms_; }
  trainer& rls() { return *rls_; }
  network& net() { return net_; }

  // The targets, row-major neurons x learning_times(); refused (config_error naming `source`)
  // when the shape is wrong or a value is not finite.
  void set_targets(std::vector<double> targets, size_t rows, size_t columns, const std::string& source);
  const std::vector<double>& targets() const { return targets_; }

  // One presentation. `key` keys the initial state (loop number, or a test trial's own key);
  // with `learn` the weights are updated at the learning times; psth_bin (ms) > 0 counts spikes.
  presentation present(uint32_t key, bool learn, double psth_bin = 0);

  // Each trained neuron's mean current over the samples of a presentation.
  Eigen::VectorXd mean_current(const presentation& p) const;
  // Per neuron: Pearson correlation between the target and the current averaged over
  // +-smoothing ms around each learning time (NaN for a constant series).
  std::vector<double> correlations(const Eigen::MatrixXd& current) const;

  // Writes the trainer's weights into the plastic projections (as single precision).
  void write_weights();

 private:
  struct trained_neuron {
    uint32_t pop, local;
  };
  struct synapse_ref {
    uint32_t projection;
    uint64_t index;
  };
  void map_synapses();  // after the clock backend has ordered each row by target

  const run_config& cfg_;
  const registry& reg_;
  const rls_spec& spec_;
  network net_;
  std::vector<uint32_t> plastic_;          // indices into net_.projections
  std::vector<trained_neuron> trained_;
  std::vector<int32_t> trained_of_gid_;    // -1 for neurons not trained
  std::vector<std::vector<synapse_ref>> synapses_;  // per trained neuron, aligned with its sources
  std::unique_ptr<trainer> rls_;
  std::vector<double> learn_ms_, sample_ms_;
  std::vector<uint64_t> learn_step_, sample_step_;  // the steps k after which they fall
  uint32_t delay_steps_ = 1;
  std::vector<double> targets_;
};

}  // namespace gs::rls
