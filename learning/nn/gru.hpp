// A gated recurrent unit layer (Cho et al. 2014, in PyTorch's torch.nn.GRU convention) over a
// batch of sequences, with an explicit backward pass through time: the recurrent baseline the
// spiking decoder of learning/surrogate is compared with. Instantiated for float and double.
#pragma once

#include <string>
#include <vector>

#include "learning/nn/tensor.hpp"

namespace gs::nn {

// r = sigmoid(x W_i.r + b_i.r + h W_h.r + b_h.r), z likewise,
// n = tanh(x W_i.n + b_i.n + r * (h W_h.n + b_h.n)), h' = (1 - z) n + z h;
// W_i (in x 3H) and W_h (H x 3H) hold the r, z, n blocks side by side, as PyTorch's weight_ih_l0
// and weight_hh_l0 transposed. The state carries over between calls to forward; the gradient does
// not (truncated BPTT).
template <class T>
class gru {
 public:
  param<T> W_i, W_h, b_i, b_h;
  gru() = default;
  gru(int in, int width, const std::string& name, init_rng& rng);
  int width() const { return int(W_h.value.rows()); }
  void reset(Eigen::Index batch);
  // One B x in matrix per step in, one B x H hidden state per step out.
  std::vector<mat<T>> forward(const std::vector<mat<T>>& x);
  std::vector<mat<T>> backward(const std::vector<mat<T>>& dh);
  void collect(param_list<T>& out) { out.insert(out.end(), {&W_i, &W_h, &b_i, &b_h}); }

  mat<T> h;  // the state after the last step run

 private:
  std::vector<mat<T>> x_, h_prev_, r_, z_, n_, hn_;  // hn = h W_h.n + b_h.n
};

}  // namespace gs::nn
