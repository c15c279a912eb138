#include "learning/nn/layers.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numbers>

namespace gs::nn {

// ---- linear

template <class T>
linear<T>::linear(int in, int out, const std::string& name, init_rng& rng, double init_std)
    : W(name + ".W", in, out, true), b(name + ".b", 1, out, false) {
  fill_normal(W.value, init_std, rng);
}

template <class T>
mat<T> linear<T>::forward(const mat<T>& x) {
  assert(x.cols() == W.value.rows());
  x_ = x;
  mat<T> y = x * W.value;
  y.rowwise() += b.value.row(0);
  return y;
}

template <class T>
mat<T> linear<T>::backward(const mat<T>& dy) {
  W.grad.noalias() += x_.transpose() * dy;
  b.grad += dy.colwise().sum();
  return dy * W.value.transpose();
}

// ---- embedding

template <class T>
embedding<T>::embedding(int vocabulary, int width, const std::string& name, init_rng& rng, double init_std)
    : table(name + ".table", vocabulary, width, false) {
  fill_normal(table.value, init_std, rng);
}

template <class T>
mat<T> embedding<T>::forward(std::span<const int> ids) {
  ids_.assign(ids.begin(), ids.end());
  mat<T> y(Eigen::Index(ids.size()), table.value.cols());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    assert(ids[i] >= 0 && ids[i] < table.value.rows());
    y.row(Eigen::Index(i)) = table.value.row(ids[i]);
  }
  return y;
}

template <class T>
void embedding<T>::backward(const mat<T>& dy) {
  for (std::size_t i = 0; i < ids_.size(); ++i) table.grad.row(ids_[i]) += dy.row(Eigen::Index(i));
}

// ---- layer_norm

template <class T>
layer_norm<T>::layer_norm(int width, const std::string& name)
    : gain(name + ".gain", 1, width, false), bias(name + ".bias", 1, width, false) {
  gain.value.setOnes();
}

template <class T>
mat<T> layer_norm<T>::forward(const mat<T>& x) {
  const Eigen::Index n = x.rows(), d = x.cols();
  xhat_.resize(n, d);
  rstd_.resize(std::size_t(n));
  mat<T> y(n, d);
  for (Eigen::Index i = 0; i < n; ++i) {
    const T mean = x.row(i).mean();
    const T var = (x.row(i).array() - mean).square().mean();
    const T rstd = T(1) / std::sqrt(var + eps);
    rstd_[std::size_t(i)] = rstd;
    xhat_.row(i) = (x.row(i).array() - mean) * rstd;
    y.row(i) = xhat_.row(i).cwiseProduct(gain.value.row(0)) + bias.value.row(0);
  }
  return y;
}

template <class T>
mat<T> layer_norm<T>::backward(const mat<T>& dy) {
  const Eigen::Index n = dy.rows();
  gain.grad += dy.cwiseProduct(xhat_).colwise().sum();
  bias.grad += dy.colwise().sum();
  mat<T> dx(n, dy.cols());
  for (Eigen::Index i = 0; i < n; ++i) {
    const auto dxhat = dy.row(i).cwiseProduct(gain.value.row(0));
    const T m1 = dxhat.mean();
    const T m2 = dxhat.cwiseProduct(xhat_.row(i)).mean();
    dx.row(i) = rstd_[std::size_t(i)] * (dxhat.array() - m1 - xhat_.row(i).array() * m2);
  }
  return dx;
}

// ---- gelu

template <class T>
mat<T> gelu<T>::forward(const mat<T>& x) {
  x_ = x;
  return x.unaryExpr([](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(std::numbers::sqrt2 / 2))); });
}

template <class T>
mat<T> gelu<T>::backward(const mat<T>& dy) {
  const T inv_sqrt_2pi = T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
  const mat<T> slope = x_.unaryExpr([&](T v) {
    return T(0.5) * (T(1) + std::erf(v * T(std::numbers::sqrt2 / 2))) + v * inv_sqrt_2pi * std::exp(T(-0.5) * v * v);
  });
  return dy.cwiseProduct(slope);
}

// ---- causal self-attention

template <class T>
causal_self_attention<T>::causal_self_attention(int width, int heads, const std::string& name, init_rng& rng,
                                                double proj_std)
    : qkv(width, 3 * width, name + ".qkv", rng), proj(width, width, name + ".proj", rng, proj_std), heads_(heads) {
  assert(heads > 0 && width % heads == 0);
}

template <class T>
mat<T> causal_self_attention<T>::forward(const mat<T>& x) {
  const Eigen::Index n = x.rows(), d = x.cols(), dh = d / heads_;
  const T scale = T(1) / std::sqrt(T(dh));
  qkv_out_ = qkv.forward(x);
  probs_.resize(std::size_t(heads_));
  mat<T> out(n, d);
  for (int h = 0; h < heads_; ++h) {
    const auto Q = qkv_out_.middleCols(h * dh, dh);
    const auto K = qkv_out_.middleCols(d + h * dh, dh);
    const auto V = qkv_out_.middleCols(2 * d + h * dh, dh);
    mat<T>& P = probs_[std::size_t(h)];
    P.noalias() = (Q * K.transpose()) * scale;
    for (Eigen::Index i = 0; i < n; ++i) {
      auto row = P.row(i);
      const T top = row.head(i + 1).maxCoeff();
      row.head(i + 1) = (row.head(i + 1).array() - top).exp();
      row.head(i + 1) /= row.head(i + 1).sum();
      row.tail(n - i - 1).setZero();
    }
    out.middleCols(h * dh, dh).noalias() = P * V;
  }
  return proj.forward(out);
}

template <class T>
mat<T> causal_self_attention<T>::backward(const mat<T>& dy) {
  const mat<T> dout = proj.backward(dy);
  const Eigen::Index n = dout.rows(), d = dout.cols(), dh = d / heads_;
  const T scale = T(1) / std::sqrt(T(dh));
  mat<T> dqkv(n, 3 * d);
  for (int h = 0; h < heads_; ++h) {
    const auto Q = qkv_out_.middleCols(h * dh, dh);
    const auto K = qkv_out_.middleCols(d + h * dh, dh);
    const auto V = qkv_out_.middleCols(2 * d + h * dh, dh);
    const mat<T>& P = probs_[std::size_t(h)];
    const auto dO = dout.middleCols(h * dh, dh);
    dqkv.middleCols(2 * d + h * dh, dh).noalias() = P.transpose() * dO;
    mat<T> dS = dO * V.transpose();  // dP, turned into dS in place: P (dP - rowsum(P . dP))
    for (Eigen::Index i = 0; i < n; ++i) {
      const T dot = P.row(i).dot(dS.row(i));
      dS.row(i) = P.row(i).cwiseProduct((dS.row(i).array() - dot).matrix());
    }
    dS *= scale;
    dqkv.middleCols(h * dh, dh).noalias() = dS * K;
    dqkv.middleCols(d + h * dh, dh).noalias() = dS.transpose() * Q;
  }
  return qkv.backward(dqkv);
}

template <class T>
mat<T> causal_self_attention<T>::step(const mat<T>& x, kv_cache& cache) {
  assert(x.rows() == 1);
  const Eigen::Index d = x.cols(), dh = d / heads_, n = cache.k.rows() + 1;
  const mat<T> row = qkv.forward(x);
  cache.k.conservativeResize(n, d);
  cache.v.conservativeResize(n, d);
  cache.k.row(n - 1) = row.middleCols(d, d);
  cache.v.row(n - 1) = row.middleCols(2 * d, d);
  mat<T> out(1, d);
  for (int h = 0; h < heads_; ++h) {
    Eigen::Matrix<T, 1, Eigen::Dynamic> s = row.middleCols(h * dh, dh) * cache.k.middleCols(h * dh, dh).transpose();
    s *= T(1) / std::sqrt(T(dh));
    s = (s.array() - s.maxCoeff()).exp();
    s /= s.sum();
    out.middleCols(h * dh, dh).noalias() = s * cache.v.middleCols(h * dh, dh);
  }
  return proj.forward(out);
}

// ---- transformer block

template <class T>
transformer_block<T>::transformer_block(int width, int heads, int mlp_width, int blocks, const std::string& name,
                                        init_rng& rng)
    : ln1(width, name + ".ln1"),
      ln2(width, name + ".ln2"),
      attn(width, heads, name + ".attn", rng, 0.02 / std::sqrt(2.0 * blocks)),
      fc1(width, mlp_width, name + ".fc1", rng),
      fc2(mlp_width, width, name + ".fc2", rng, 0.02 / std::sqrt(2.0 * blocks)) {}

template <class T>
mat<T> transformer_block<T>::forward(const mat<T>& x) {
  mat<T> h = x + attn.forward(ln1.forward(x));
  return h + fc2.forward(act.forward(fc1.forward(ln2.forward(h))));
}

template <class T>
mat<T> transformer_block<T>::step(const mat<T>& x, typename causal_self_attention<T>::kv_cache& cache) {
  mat<T> h = x + attn.step(ln1.forward(x), cache);
  return h + fc2.forward(act.forward(fc1.forward(ln2.forward(h))));
}

template <class T>
mat<T> transformer_block<T>::backward(const mat<T>& dy) {
  const mat<T> dh = dy + ln2.backward(fc1.backward(act.backward(fc2.backward(dy))));
  return dh + ln1.backward(attn.backward(dh));
}

template <class T>
void transformer_block<T>::collect(param_list<T>& out) {
  ln1.collect(out);
  attn.collect(out);
  ln2.collect(out);
  fc1.collect(out);
  fc2.collect(out);
}

// ---- softmax cross-entropy

template <class T>
std::vector<T> softmax_cross_entropy<T>::forward(const mat<T>& logits, std::span<const int> targets) {
  assert(Eigen::Index(targets.size()) == logits.rows());
  targets_.assign(targets.begin(), targets.end());
  probs_.resize(logits.rows(), logits.cols());
  std::vector<T> loss(targets.size());
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    const T top = logits.row(i).maxCoeff();
    probs_.row(i) = (logits.row(i).array() - top).exp();
    const T sum = probs_.row(i).sum();
    probs_.row(i) /= sum;
    loss[std::size_t(i)] = std::log(sum) + top - logits(i, targets[std::size_t(i)]);
  }
  return loss;
}

template <class T>
mat<T> softmax_cross_entropy<T>::backward(std::span<const T> dloss) const {
  mat<T> d = probs_;
  for (Eigen::Index i = 0; i < d.rows(); ++i) {
    d(i, targets_[std::size_t(i)]) -= T(1);
    d.row(i) *= dloss[std::size_t(i)];
  }
  return d;
}

// ---- log-normal mixture

namespace {
constexpr double half_log_2pi = 0.91893853320467274178;  // log(2 pi) / 2
}

template <class T>
std::vector<T> lognormal_mixture<T>::forward(const mat<T>& params, std::span<const double> tau) {
  assert(params.cols() == 3 * K && Eigen::Index(tau.size()) == params.rows());
  const Eigen::Index n = params.rows();
  resp_.resize(n, K);
  zres_.resize(n, K);
  inv_sigma_.resize(n, K);
  w_.resize(n, K);
  std::vector<T> nll(static_cast<std::size_t>(n));
  std::vector<T> logj(static_cast<std::size_t>(K));
  for (Eigen::Index i = 0; i < n; ++i) {
    const double y = std::log(tau[std::size_t(i)]);
    const T z = T((y - shift) / scale);
    const auto a = params.row(i).segment(0, K);
    const T amax = a.maxCoeff();
    const T alse = amax + std::log((a.array() - amax).exp().sum());
    T top = -std::numeric_limits<T>::infinity();
    for (int k = 0; k < K; ++k) {
      const T mu = params(i, K + k), log_sigma = params(i, 2 * K + k);
      const T r = (z - mu) * std::exp(-log_sigma);
      zres_(i, k) = r;
      inv_sigma_(i, k) = std::exp(-log_sigma);
      w_(i, k) = std::exp(a(k) - alse);
      logj[std::size_t(k)] = a(k) - alse - T(0.5) * r * r - log_sigma - T(half_log_2pi);
      top = std::max(top, logj[std::size_t(k)]);
    }
    T sum = 0;
    for (int k = 0; k < K; ++k) sum += std::exp(logj[std::size_t(k)] - top);
    const T lse = top + std::log(sum);
    for (int k = 0; k < K; ++k) resp_(i, k) = std::exp(logj[std::size_t(k)] - lse);
    // Change of variables z -> log tau -> tau: p(tau) = p(z) / (scale * tau).
    nll[std::size_t(i)] = -lse + T(std::log(scale) + y);
  }
  return nll;
}

template <class T>
mat<T> lognormal_mixture<T>::backward(std::span<const T> dloss) const {
  const Eigen::Index n = resp_.rows();
  mat<T> d(n, 3 * K);
  for (Eigen::Index i = 0; i < n; ++i) {
    const T g = dloss[std::size_t(i)];
    for (int k = 0; k < K; ++k) {
      const T r = resp_(i, k), e = zres_(i, k);
      d(i, k) = g * (w_(i, k) - r);
      d(i, K + k) = g * (-r * e * inv_sigma_(i, k));
      d(i, 2 * K + k) = g * (-r * (e * e - T(1)));
    }
  }
  return d;
}

template <class T>
typename lognormal_mixture<T>::mixture lognormal_mixture<T>::row(const mat<T>& params, Eigen::Index i) const {
  mixture m;
  m.log_w.resize(std::size_t(K));
  m.mu.resize(std::size_t(K));
  m.sigma.resize(std::size_t(K));
  double amax = -std::numeric_limits<double>::infinity();
  for (int k = 0; k < K; ++k) amax = std::max(amax, double(params(i, k)));
  double sum = 0;
  for (int k = 0; k < K; ++k) sum += std::exp(double(params(i, k)) - amax);
  for (int k = 0; k < K; ++k) {
    m.log_w[std::size_t(k)] = double(params(i, k)) - amax - std::log(sum);
    m.mu[std::size_t(k)] = shift + scale * double(params(i, K + k));
    m.sigma[std::size_t(k)] = scale * std::exp(double(params(i, 2 * K + k)));
  }
  return m;
}

template <class T>
double lognormal_mixture<T>::mixture::log_density(double tau) const {
  const double y = std::log(tau);
  double top = -std::numeric_limits<double>::infinity();
  std::vector<double> terms(log_w.size());
  for (std::size_t k = 0; k < terms.size(); ++k) {
    const double r = (y - mu[k]) / sigma[k];
    terms[k] = log_w[k] - 0.5 * r * r - std::log(sigma[k]) - half_log_2pi;
    top = std::max(top, terms[k]);
  }
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return top + std::log(sum) - y;
}

template <class T>
double lognormal_mixture<T>::mixture::cdf(double tau) const {
  double c = 0;
  for (std::size_t k = 0; k < log_w.size(); ++k)
    c += std::exp(log_w[k]) * 0.5 * std::erfc(-(std::log(tau) - mu[k]) / (sigma[k] * std::numbers::sqrt2));
  return c;
}

template <class T>
double lognormal_mixture<T>::mixture::mean() const {
  double m = 0;
  for (std::size_t k = 0; k < log_w.size(); ++k) m += std::exp(log_w[k] + mu[k] + 0.5 * sigma[k] * sigma[k]);
  return m;
}

#define GS_NN_INSTANTIATE(T)                 \
  template class linear<T>;                  \
  template class embedding<T>;               \
  template class layer_norm<T>;              \
  template class gelu<T>;                    \
  template class causal_self_attention<T>;   \
  template class transformer_block<T>;       \
  template class softmax_cross_entropy<T>;   \
  template class lognormal_mixture<T>;
GS_NN_INSTANTIATE(float)
GS_NN_INSTANTIATE(double)
#undef GS_NN_INSTANTIATE

}  // namespace gs::nn
