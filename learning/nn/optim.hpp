// Training utilities shared by every learner in learning/: AdamW (decoupled weight decay, as
// torch.optim.AdamW), a linear warm-up followed by a cosine decay of the learning rate, and
// clipping of the global gradient norm.
#pragma once

#include <cstdint>
#include <vector>

#include "learning/nn/tensor.hpp"

namespace gs::nn {

struct adamw_config {
  double lr = 1e-3;  // peak learning rate; the schedule scales it per step
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;  // applied only to parameters with param::decay set
};

template <class T>
class adamw {
 public:
  adamw_config cfg;
  // First and second moments, one per parameter in the order of the list given to the constructor;
  // public so that checkpoints can save and restore them exactly.
  std::vector<mat<T>> m, v;
  std::int64_t steps = 0;

  adamw(const param_list<T>& params, adamw_config c);
  // One update with learning rate lr (already scheduled) from the gradients in params.
  void step(const param_list<T>& params, double lr);
};

// lr(step) for step = 0, 1, ...: rises linearly to peak over `warmup` steps, then follows half a
// cosine down to peak * final_fraction at `total` steps, and stays there.
struct lr_schedule {
  double peak = 1e-3;
  std::int64_t warmup = 0, total = 1;
  double final_fraction = 0.1;
  double operator()(std::int64_t step) const;
};

// Scales all gradients together so that their joint Euclidean norm is at most max_norm (no-op
// when max_norm <= 0); returns the norm before clipping.
template <class T>
double clip_grad_norm(const param_list<T>& params, double max_norm);

}  // namespace gs::nn
