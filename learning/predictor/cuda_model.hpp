// The predictor on the GPU (`predict train|eval --device cuda`): parameters, gradients, AdamW moments,
// the recording and a batch's activations stay on the device; cuBLAS runs the matrix products and
// small kernels the rest. Builds with CUDA only (GILLESPIKE_HAVE_CUDA); docs/predictor.md, "CUDA".
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backends/cuda/device_info.hpp"  // cuda_unusable_reason
#include "learning/nn/optim.hpp"
#include "learning/predictor/model.hpp"

namespace gs::predictor {


class cuda_model {
 public:
  // Per step, only the windows' start indices go in and two loss sums and the gradient norm out.
  // Uploads the model's parameters (read, not changed), the optimizer's moments and step count (zero
  // without one), and the whole event sequence; allocates the activations of `batch` windows of
  // the model's context.
  cuda_model(spike_transformer<float>& model, const nn::adamw<float>* optimizer, const event_sequence& seq, int batch);
  ~cuda_model();
  cuda_model(const cuda_model&) = delete;
  cuda_model& operator=(const cuda_model&) = delete;

  struct loss {
    double time = 0, mark = 0;  // NLL summed over the batch's positions
  };
  // Forward and backward over the windows starting at `starts` (one per batch slot; tokens
  // start .. start + context - 1 predict events start + 1 .. start + context, as window_at). The
  // gradients on the device become those of weight x (summed NLL), replacing the previous ones.
  loss forward_backward(std::span<const std::uint64_t> starts, float weight);
  // Scales the gradients so that their global norm is at most clip (none when clip <= 0), then takes
  // one AdamW step with learning rate lr, as nn::clip_grad_norm and nn::adamw::step do on the CPU.
  // Returns the norm before clipping.
  double step(double lr, double clip);
  // Forward only, for evaluation, over the windows at `starts` (at most `batch`): for the last
  // `rows` positions of each window, window by window, the NLL parts, the neuron probabilities
  // (vocabulary per row) and the interval mixture's parameters (3 x components per row, as
  // lognormal_mixture takes them). The gradients are left alone.
  struct prediction {
    std::vector<float> time, mark, probabilities, mixture;
  };
  prediction predict(std::span<const std::uint64_t> starts, int rows);
  // Copies the device's parameters and gradients into `model`, and the moments and step count into
  // `optimizer` (both must have the shapes the trainer was made from).
  void download(spike_transformer<float>& model, nn::adamw<float>& optimizer) const;

 private:
  struct impl;
  std::unique_ptr<impl> d_;
};

}  // namespace gs::predictor
