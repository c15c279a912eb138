#include "learning/nn/gru.hpp"

#include <cmath>

namespace gs::nn {

template <class T>
gru<T>::gru(int in, int width, const std::string& name, init_rng& rng)
    : W_i(name + ".W_i", in, 3 * width, true),
      W_h(name + ".W_h", width, 3 * width, true),
      b_i(name + ".b_i", 1, 3 * width, false),
      b_h(name + ".b_h", 1, 3 * width, false) {
  // PyTorch draws every GRU weight from U(-1/sqrt(H), 1/sqrt(H)); a normal of the same variance.
  const double std = 1 / std::sqrt(3.0 * width);
  fill_normal(W_i.value, std, rng);
  fill_normal(W_h.value, std, rng);
  reset(1);
}

template <class T>
void gru<T>::reset(Eigen::Index batch) {
  h = mat<T>::Zero(batch, width());
}

template <class T>
std::vector<mat<T>> gru<T>::forward(const std::vector<mat<T>>& x) {
  const Eigen::Index H = width();
  const std::size_t steps = x.size();
  x_ = x;
  for (auto* v : {&h_prev_, &r_, &z_, &n_, &hn_}) v->resize(steps);
  std::vector<mat<T>> out(steps);
  auto sigmoid = [](T a) { return T(1) / (T(1) + std::exp(-a)); };
  for (std::size_t t = 0; t < steps; ++t) {
    mat<T> ai = x[t] * W_i.value;
    ai.rowwise() += b_i.value.row(0);
    mat<T> ah = h * W_h.value;
    ah.rowwise() += b_h.value.row(0);
    h_prev_[t] = h;
    r_[t] = (ai.leftCols(H) + ah.leftCols(H)).unaryExpr(sigmoid);
    z_[t] = (ai.middleCols(H, H) + ah.middleCols(H, H)).unaryExpr(sigmoid);
    hn_[t] = ah.rightCols(H);
    n_[t] = (ai.rightCols(H) + r_[t].cwiseProduct(hn_[t])).unaryExpr([](T a) { return std::tanh(a); });
    h = (T(1) - z_[t].array()) * n_[t].array() + z_[t].array() * h.array();
    out[t] = h;
  }
  return out;
}

template <class T>
std::vector<mat<T>> gru<T>::backward(const std::vector<mat<T>>& dh_in) {
  const Eigen::Index H = width(), B = h.rows();
  std::vector<mat<T>> dx(x_.size());
  mat<T> dh_next = mat<T>::Zero(B, H);
  mat<T> dai(B, 3 * H), dah(B, 3 * H);
  for (std::size_t t = x_.size(); t-- > 0;) {
    const mat<T> dh = dh_in[t] + dh_next;
    const auto r = r_[t].array(), z = z_[t].array(), n = n_[t].array();
    const auto dpre_n = (dh.array() * (T(1) - z)) * (T(1) - n * n);
    const auto dpre_z = (dh.array() * (h_prev_[t].array() - n)) * z * (T(1) - z);
    const auto dpre_r = (dpre_n * hn_[t].array()) * r * (T(1) - r);
    dai.leftCols(H) = dpre_r;
    dai.middleCols(H, H) = dpre_z;
    dai.rightCols(H) = dpre_n;
    dah.leftCols(H) = dpre_r;
    dah.middleCols(H, H) = dpre_z;
    dah.rightCols(H) = dpre_n * r;
    W_i.grad.noalias() += x_[t].transpose() * dai;
    W_h.grad.noalias() += h_prev_[t].transpose() * dah;
    b_i.grad += dai.colwise().sum();
    b_h.grad += dah.colwise().sum();
    dx[t] = dai * W_i.value.transpose();
    dh_next = (dh.array() * z).matrix() + dah * W_h.value.transpose();
  }
  return dx;
}

template class gru<float>;
template class gru<double>;

}  // namespace gs::nn
