// Recursive least squares for the plastic inputs of spiking neurons, the math of FORCE-style
// training (Sussillo and Abbott 2009; Arthur, Kim, Chen, Preibisch and Darshan 2023): each neuron
// keeps the inverse correlation matrix P of its own plastic inputs and moves their weights so
// that its summed input follows a target. learning/rls/training.hpp drives it from the clock loop.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <vector>

namespace gs::rls {

class gpu_state;

struct neuron_inputs {
  std::vector<int> sources;  // indices into the activity vector given to update()
  Eigen::VectorXd weights;   // one per source, the initial weights w0
};

// P starts as (lambda I + mu C)^-1 with C_jk = 1 where sources j and k have the same sign (both
// excitatory or both inhibitory) and 0 otherwise: RLS then minimises
//   sum_t (w . r_t - f_t)^2 + lambda |w - w0|^2 + mu ((sum_E (w - w0))^2 + (sum_I (w - w0))^2),
// a ridge term plus a term that keeps each sign's summed weight near its start, the balance of
// excitation and inhibition. Every update is the textbook one:
//   k = P r / (1 + r' P r),  w -= (w . r - f) k,  P -= k (P r)'.
//
// P is kept in double precision, or in single precision (`single_precision_P`), which halves the
// memory the update streams through and bounds its speed on large networks (the reference keeps
// P in Float32 by default); the weights are double either way. With `on_gpu` (CUDA builds), P
// lives on the GPU and each update of all neurons is one kernel (learning/rls/gpu.hpp); the
// weights are copied back after every update.
class trainer {
 public:
  trainer(std::vector<neuron_inputs> neurons, const std::vector<bool>& excitatory_source, double lambda, double mu,
          bool single_precision_P = false, bool on_gpu = false);
  // One step for every neuron: `activity` (e.g. filtered spike trains of all sources) and one
  // target per neuron. Neurons are updated in parallel (each owns its P and w), so the result does
  // not depend on the number of threads.
  void update(const Eigen::VectorXd& activity, const Eigen::VectorXd& target);
  // Each neuron's plastic input w . r for `activity`.
  Eigen::VectorXd input(const Eigen::VectorXd& activity) const;

  std::size_t size() const { return neurons_.size(); }
  const Eigen::VectorXd& weights(std::size_t neuron) const { return neurons_[neuron].weights; }
  Eigen::MatrixXd inverse_correlation(std::size_t neuron) const;
  // Sets a neuron's weights and P, as a checkpoint saved them (same sizes as before).
  void restore(std::size_t neuron, const Eigen::VectorXd& weights, const Eigen::MatrixXd& P);

 private:
  std::vector<neuron_inputs> neurons_;
  // One of the two holds P, per neuron; only the lower triangles are kept up to date.
  std::vector<Eigen::MatrixXd> P_;
  std::vector<Eigen::MatrixXf> Pf_;
  // Set when the updates run on a GPU, which then holds P. Shared, not unique: the trainer must
  // not need gpu_state's destructor, which exists only in CUDA builds.
  std::shared_ptr<gpu_state> gpu_;
};

}  // namespace gs::rls
