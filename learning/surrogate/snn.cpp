#include "learning/surrogate/snn.hpp"

#include <cassert>
#include <cmath>
#include <numbers>

namespace gs::surrogate {

double surrogate_derivative(surrogate_kind kind, double slope, double x) {
  if (kind == surrogate_kind::fast_sigmoid) {
    const double d = 1 + slope * std::abs(x);
    return 1 / (d * d);
  }
  const double a = std::numbers::pi / 2 * slope * x;
  return slope / 2 / (1 + a * a);
}

namespace {

double logit(double p) { return std::log(p / (1 - p)); }

template <class T>
mat<T> sigmoid_row(const mat<T>& logits) {
  return logits.unaryExpr([](T a) { return T(1) / (T(1) + std::exp(-a)); });
}

}  // namespace

// ---- lif_layer

template <class T>
lif_layer<T>::lif_layer(int in, int width, bool rec, double beta, bool learn, surrogate_kind k, double sl,
                        const std::string& name, nn::init_rng& rng)
    : W_in(name + ".W_in", in, width, true),
      W_rec(name + ".W_rec", rec ? width : 0, rec ? width : 0, true),
      b(name + ".b", 1, width, false),
      beta_logit(name + ".beta_logit", 1, width, false),
      recurrent(rec),
      learn_beta(learn),
      kind(k),
      slope(sl) {
  // Input currents of unit variance per step for unit-variance inputs; weaker recurrence, so the
  // untrained network is driven by its input rather than by itself.
  nn::fill_normal(W_in.value, 1 / std::sqrt(double(in)), rng);
  if (rec) nn::fill_normal(W_rec.value, 0.5 / std::sqrt(double(width)), rng);
  beta_logit.value.setConstant(T(logit(beta)));
}

template <class T>
void lif_layer<T>::reset(Eigen::Index batch) {
  v = mat<T>::Zero(batch, width());
  s = mat<T>::Zero(batch, width());
}

template <class T>
sequence<T> lif_layer<T>::forward(const sequence<T>& x) {
  const auto beta = sigmoid_row(beta_logit.value);
  x_ = x;
  v0_ = v;
  s0_ = s;
  u_.resize(x.size());
  s_.resize(x.size());
  for (std::size_t t = 0; t < x.size(); ++t) {
    mat<T> u = x[t] * W_in.value;
    if (recurrent) u.noalias() += s * W_rec.value;
    u.array().rowwise() += b.value.row(0).array();
    u.array() += v.array().rowwise() * beta.row(0).array();
    s = (u.array() >= T(1)).template cast<T>();
    v = u - s;
    u_[t] = std::move(u);
    s_[t] = s;
  }
  return s_;
}

template <class T>
sequence<T> lif_layer<T>::backward(const sequence<T>& ds_in) {
  assert(ds_in.size() == u_.size());
  const auto beta = sigmoid_row(beta_logit.value);
  const Eigen::Index B = v0_.rows(), H = width();
  sequence<T> dx(u_.size());
  mat<T> du_next = mat<T>::Zero(B, H);
  mat<T> dbeta = mat<T>::Zero(1, H);
  for (std::size_t t = u_.size(); t-- > 0;) {
    // s_t reaches the loss directly, through v_t = u_t - s_t, and through u_{t+1}'s recurrent
    // input; v_t reaches it through u_{t+1} = beta v_t + ...
    mat<T> ds = ds_in[t];
    if (recurrent) ds.noalias() += du_next * W_rec.value.transpose();
    mat<T> du = du_next.array().rowwise() * beta.row(0).array();  // dL/dv_t
    ds -= du;
    du.array() += ds.array() * u_[t].unaryExpr([&](T u) {
      return T(surrogate_derivative(kind, slope, double(u) - 1));
    }).array();
    const mat<T>& s_prev = t > 0 ? s_[t - 1] : s0_;
    const mat<T> v_prev = t > 0 ? mat<T>(u_[t - 1] - s_[t - 1]) : v0_;
    W_in.grad.noalias() += x_[t].transpose() * du;
    if (recurrent) W_rec.grad.noalias() += s_prev.transpose() * du;
    b.grad += du.colwise().sum();
    dbeta += du.cwiseProduct(v_prev).colwise().sum();
    dx[t] = du * W_in.value.transpose();
    du_next = std::move(du);
  }
  if (learn_beta) beta_logit.grad.array() += dbeta.array() * beta.array() * (T(1) - beta.array());
  return dx;
}

template <class T>
void lif_layer<T>::collect(param_list<T>& out) {
  out.push_back(&W_in);
  if (recurrent) out.push_back(&W_rec);
  out.push_back(&b);
  if (learn_beta) out.push_back(&beta_logit);
}

// ---- leaky_readout

template <class T>
leaky_readout<T>::leaky_readout(int in, int outputs, bool leak, double alpha, bool learn, const std::string& name,
                                nn::init_rng& rng)
    : W(name + ".W", in, outputs, true),
      b(name + ".b", 1, outputs, false),
      alpha_logit(name + ".alpha_logit", 1, outputs, false),
      leaky(leak),
      learn_alpha(leak && learn) {
  // A leaky output sums about 1 / (1 - alpha) steps of input: start with outputs of unit scale.
  const double gain = leak ? (1 - alpha) : 1.0;
  nn::fill_normal(W.value, gain / std::sqrt(double(in)), rng);
  alpha_logit.value.setConstant(T(leak ? logit(alpha) : 0));
}

template <class T>
void leaky_readout<T>::reset(Eigen::Index batch) {
  y = mat<T>::Zero(batch, b.value.cols());
}

template <class T>
sequence<T> leaky_readout<T>::forward(const sequence<T>& s) {
  const auto alpha = sigmoid_row(alpha_logit.value);
  s_ = s;
  y0_ = y;
  y_.resize(s.size());
  for (std::size_t t = 0; t < s.size(); ++t) {
    mat<T> next = s[t] * W.value;
    next.array().rowwise() += b.value.row(0).array();
    if (leaky) next.array() += y.array().rowwise() * alpha.row(0).array();
    y = next;
    y_[t] = std::move(next);
  }
  return y_;
}

template <class T>
sequence<T> leaky_readout<T>::backward(const sequence<T>& dy) {
  const auto alpha = sigmoid_row(alpha_logit.value);
  sequence<T> ds(s_.size());
  mat<T> dy_next = mat<T>::Zero(y0_.rows(), y0_.cols());
  mat<T> dalpha = mat<T>::Zero(1, y0_.cols());
  for (std::size_t t = s_.size(); t-- > 0;) {
    mat<T> d = dy[t];
    if (leaky) d.array() += dy_next.array().rowwise() * alpha.row(0).array();
    const mat<T>& y_prev = t > 0 ? y_[t - 1] : y0_;
    W.grad.noalias() += s_[t].transpose() * d;
    b.grad += d.colwise().sum();
    dalpha += d.cwiseProduct(y_prev).colwise().sum();
    ds[t] = d * W.value.transpose();
    dy_next = std::move(d);
  }
  if (learn_alpha) alpha_logit.grad.array() += dalpha.array() * alpha.array() * (T(1) - alpha.array());
  return ds;
}

template <class T>
void leaky_readout<T>::collect(param_list<T>& out) {
  out.insert(out.end(), {&W, &b});
  if (learn_alpha) out.push_back(&alpha_logit);
}

// ---- spiking_net

template <class T>
spiking_net<T>::spiking_net(const snn_config& c, std::uint64_t seed) : cfg(c) {
  nn::init_rng rng(seed);
  const double dt = c.bin_ms / c.substeps;
  const double beta = std::exp(-dt / c.tau_mem_ms), alpha = std::exp(-dt / c.tau_out_ms);
  int in = c.inputs;
  for (std::size_t k = 0; k < c.hidden.size(); ++k) {
    layers.emplace_back(in, c.hidden[k], c.recurrent, beta, c.learn_tau, c.surrogate, c.slope,
                        "lif" + std::to_string(k), rng);
    in = c.hidden[k];
  }
  readout = leaky_readout<T>(in, c.outputs, c.membrane_readout, alpha, c.learn_tau, "readout", rng);
  reset(1);
}

template <class T>
void spiking_net<T>::reset(Eigen::Index batch) {
  for (auto& l : layers) l.reset(batch);
  readout.reset(batch);
}

template <class T>
sequence<T> spiking_net<T>::forward(const sequence<T>& x) {
  const std::size_t k = std::size_t(cfg.substeps);
  sequence<T> h;
  h.reserve(x.size() * k);
  for (const auto& xt : x)
    for (std::size_t j = 0; j < k; ++j) h.push_back(xt);
  firing_.clear();
  for (auto& l : layers) {
    h = l.forward(h);
    double total = 0;
    for (const auto& st : h) total += double(st.sum());
    firing_.push_back(h.empty() ? 0 : total / double(h.size() * std::size_t(h[0].size())));
  }
  const sequence<T> fine = readout.forward(h);
  sequence<T> y(x.size());
  for (std::size_t t = 0; t < x.size(); ++t) y[t] = fine[t * k + k - 1];
  return y;
}

template <class T>
void spiking_net<T>::backward(const sequence<T>& dy) {
  const std::size_t k = std::size_t(cfg.substeps);
  sequence<T> fine(dy.size() * k);
  for (std::size_t t = 0; t < dy.size(); ++t)
    for (std::size_t j = 0; j < k; ++j)
      fine[t * k + j] = j + 1 == k ? dy[t] : mat<T>::Zero(dy[t].rows(), dy[t].cols());
  sequence<T> d = readout.backward(fine);
  for (std::size_t i = layers.size(); i-- > 0;) d = layers[i].backward(d);
}

template <class T>
param_list<T> spiking_net<T>::parameters() {
  param_list<T> out;
  for (auto& l : layers) l.collect(out);
  readout.collect(out);
  return out;
}

template class lif_layer<float>;
template class lif_layer<double>;
template class leaky_readout<float>;
template class leaky_readout<double>;
template class spiking_net<float>;
template class spiking_net<double>;

}  // namespace gs::surrogate
