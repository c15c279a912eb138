// Dense layers with explicit forward and backward passes over one sequence at a time (rows are
// tokens). Each forward caches what its backward needs, so a layer object serves one sequence at a
// time; threads each work on their own copy of the model. Backward passes add into param::grad
// and return the gradient with respect to the layer's input. Instantiated for float (training)
// and double (gradient checks).
#pragma once

#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "learning/nn/tensor.hpp"

namespace gs::nn {

// y = x W + b, W: in x out.
template <class T>
class linear {
 public:
  param<T> W, b;
  linear() = default;
  linear(int in, int out, const std::string& name, init_rng& rng, double init_std = 0.02);
  mat<T> forward(const mat<T>& x);
  mat<T> backward(const mat<T>& dy);
  void collect(param_list<T>& out) { out.insert(out.end(), {&W, &b}); }

 private:
  mat<T> x_;
};

// Row i of the output is row ids[i] of the table.
template <class T>
class embedding {
 public:
  param<T> table;
  embedding() = default;
  embedding(int vocabulary, int width, const std::string& name, init_rng& rng, double init_std = 0.02);
  mat<T> forward(std::span<const int> ids);
  void backward(const mat<T>& dy);  // the ids are not differentiable: nothing to return
  void collect(param_list<T>& out) { out.push_back(&table); }

 private:
  std::vector<int> ids_;
};

// Per row: (x - mean) / sqrt(var + eps) * gain + bias, with the biased variance as in PyTorch.
template <class T>
class layer_norm {
 public:
  param<T> gain, bias;
  T eps = T(1e-5);
  layer_norm() = default;
  layer_norm(int width, const std::string& name);
  mat<T> forward(const mat<T>& x);
  mat<T> backward(const mat<T>& dy);
  void collect(param_list<T>& out) { out.insert(out.end(), {&gain, &bias}); }

 private:
  mat<T> xhat_;
  std::vector<T> rstd_;
};

// The exact GELU, x * Phi(x) (PyTorch's default, not the tanh approximation).
template <class T>
class gelu {
 public:
  mat<T> forward(const mat<T>& x);
  mat<T> backward(const mat<T>& dy);

 private:
  mat<T> x_;
};

// Multi-head self-attention in which token i attends to tokens 0..i: one fused linear map to
// queries, keys and values, softmax(Q K^T / sqrt(d_head)) V per head, and an output projection.
template <class T>
class causal_self_attention {
 public:
  linear<T> qkv, proj;
  causal_self_attention() = default;
  causal_self_attention(int width, int heads, const std::string& name, init_rng& rng, double proj_std);
  mat<T> forward(const mat<T>& x);
  mat<T> backward(const mat<T>& dy);
  void collect(param_list<T>& out) {
    qkv.collect(out);
    proj.collect(out);
  }

  // Incremental decoding (no backward): the keys and values of the tokens seen so far, one row
  // each; step takes one new token's row, appends its key and value, and returns its output,
  // equal to the last row of forward over all the tokens, at the cost of one row.
  struct kv_cache {
    mat<T> k, v;
  };
  mat<T> step(const mat<T>& x, kv_cache& cache);

 private:
  int heads_ = 1;
  mat<T> qkv_out_;
  std::vector<mat<T>> probs_;  // one L x L attention matrix per head, zero above the diagonal
};

// Pre-norm transformer block: h = x + attn(LN1(x)); y = h + W2 GELU(W1 LN2(h)).
template <class T>
class transformer_block {
 public:
  layer_norm<T> ln1, ln2;
  causal_self_attention<T> attn;
  linear<T> fc1, fc2;
  gelu<T> act;
  transformer_block() = default;
  // The residual projections start smaller by 1/sqrt(2 * blocks), as in GPT-2, so the residual
  // stream's variance does not grow with depth.
  transformer_block(int width, int heads, int mlp_width, int blocks, const std::string& name, init_rng& rng);
  mat<T> forward(const mat<T>& x);
  mat<T> backward(const mat<T>& dy);
  void collect(param_list<T>& out);
  // One new token's row through the block, attending via `cache` (see causal_self_attention::step).
  mat<T> step(const mat<T>& x, typename causal_self_attention<T>::kv_cache& cache);
};

// Softmax over each row of logits with one target class per row: loss_i = -log softmax(z_i)[y_i].
template <class T>
class softmax_cross_entropy {
 public:
  std::vector<T> forward(const mat<T>& logits, std::span<const int> targets);
  // dloss[i] is d(total)/d(loss_i); returns d(total)/d(logits).
  mat<T> backward(std::span<const T> dloss) const;
  const mat<T>& probabilities() const { return probs_; }

 private:
  mat<T> probs_;
  std::vector<int> targets_;
};

// Intensity-free interval density (Shchur, Bilos and Guennemann 2020): log(tau) standardised as
// z = (log tau - shift) / scale follows a mixture of K Gaussians whose weight logits, means and
// log standard deviations are the K-column blocks of each input row (width 3K, from a linear
// layer). forward returns the exact -log p(tau), p the density of tau itself (per unit of tau).
template <class T>
class lognormal_mixture {
 public:
  int K = 1;
  double shift = 0, scale = 1;  // fixed from the training data, not trained
  lognormal_mixture() = default;
  explicit lognormal_mixture(int components) : K(components) {}
  std::vector<T> forward(const mat<T>& params, std::span<const double> tau);
  mat<T> backward(std::span<const T> dloss) const;

  // One row's mixture in the units of tau, for evaluation and sampling (double throughout).
  struct mixture {
    std::vector<double> log_w, mu, sigma;  // of log(tau): mu = shift + scale * mean_z, ...
    double log_density(double tau) const;
    double cdf(double tau) const;
    double mean() const;  // E[tau] = sum_k w_k exp(mu_k + sigma_k^2 / 2)
    template <class Rng>
    double sample(Rng& rng) const;
  };
  mixture row(const mat<T>& params, Eigen::Index i) const;

 private:
  mat<T> resp_, zres_;  // responsibilities r_ik, standardised residuals (z - mu_ik) / sigma_ik
  mat<T> inv_sigma_, w_;  // 1 / sigma_ik, mixture weights
};

template <class T>
template <class Rng>
double lognormal_mixture<T>::mixture::sample(Rng& rng) const {
  std::vector<double> w(log_w.size());
  for (std::size_t k = 0; k < w.size(); ++k) w[k] = std::exp(log_w[k]);
  const std::size_t k = std::discrete_distribution<std::size_t>(w.begin(), w.end())(rng);
  return std::exp(std::normal_distribution<double>(mu[k], sigma[k])(rng));
}

}  // namespace gs::nn
