// The RLS trainer's P matrices and weights on a GPU (learning.rls.device "cuda"): one update of
// every trained neuron is one kernel launch, a thread block per neuron, so the updates that stream
// through all P matrices (the bound of the CPU update) run at the GPU's memory bandwidth. Built with
// CUDA only (GILLESPIKE_HAVE_CUDA); learning/rls/rls.hpp uses it.
#pragma once

#include <Eigen/Core>

#include <memory>
#include <vector>

#include "learning/rls/rls.hpp"

namespace gs::rls {

class gpu_state {
 public:
  // Uploads each neuron's sources, weights and P (full, symmetric), in single or double precision.
  // Throws std::runtime_error when no GPU is usable.
  gpu_state(const std::vector<neuron_inputs>& neurons, const std::vector<Eigen::MatrixXd>& P, bool single_precision_P);
  ~gpu_state();
  gpu_state(const gpu_state&) = delete;
  gpu_state& operator=(const gpu_state&) = delete;

  // The textbook update of every neuron (rls.hpp), then the new weights copied into `neurons`,
  // which the engine reads.
  void update(const Eigen::VectorXd& activity, const Eigen::VectorXd& target, std::vector<neuron_inputs>& neurons);
  Eigen::MatrixXd P(std::size_t neuron) const;
  void restore(std::size_t neuron, const Eigen::VectorXd& weights, const Eigen::MatrixXd& P);

 private:
  struct impl;
  std::unique_ptr<impl> d_;
};

}  // namespace gs::rls
