// The storage shared by the small dense layers of learning/nn: row-major Eigen matrices (one token
// per row) and a trainable parameter that keeps its value and its accumulated gradient together,
// so optimisers, gradient checks and checkpoints walk one flat list of parameters.
#pragma once

#include <Eigen/Core>

#include <cassert>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace gs::nn {

template <class T>
using mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Every layer initialises from one engine, so a seed fixes the whole model.
using init_rng = std::mt19937_64;

template <class T>
struct param {
  std::string name;
  mat<T> value;
  mat<T> grad;       // accumulated by backward passes; zero_grad clears it
  bool decay = true;  // AdamW's weight decay applies to weight matrices, not to biases, gains or tables

  param() = default;
  param(std::string n, Eigen::Index rows, Eigen::Index cols, bool decays)
      : name(std::move(n)), value(mat<T>::Zero(rows, cols)), grad(mat<T>::Zero(rows, cols)), decay(decays) {}
  std::span<T> values() { return {value.data(), std::size_t(value.size())}; }
  std::span<T> grads() { return {grad.data(), std::size_t(grad.size())}; }
};

template <class T>
using param_list = std::vector<param<T>*>;

template <class T>
void zero_grad(const param_list<T>& ps) {
  for (auto* p : ps) p->grad.setZero();
}

// N(0, std^2) entries, the initialisation GPT-2 uses for every weight matrix.
template <class T>
void fill_normal(mat<T>& m, double std, init_rng& rng) {
  std::normal_distribution<double> d(0.0, std);
  for (Eigen::Index k = 0; k < m.size(); ++k) m.data()[k] = T(d(rng));
}

}  // namespace gs::nn

namespace gs::nn {

// Copies values between two models of the same shape, possibly of different scalar types (a
// float model checked in double, a checkpoint stored in double).
template <class From, class To>
void copy_values(const param_list<From>& from, const param_list<To>& to) {
  assert(from.size() == to.size());
  for (std::size_t k = 0; k < from.size(); ++k) {
    assert(from[k]->value.rows() == to[k]->value.rows() && from[k]->value.cols() == to[k]->value.cols());
    to[k]->value = from[k]->value.template cast<To>();
  }
}

}  // namespace gs::nn
