// Reference integration for the validation tests, written independently of the engine's models
// and of models/ode.hpp: a Dormand-Prince 5(4) step and an adaptive driver that stops at a
// threshold crossing.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <stdexcept>
#include <utility>

namespace gs::test {

// The 5th-order solution after h and the error estimate scaled by 1e-12 (absolute and relative):
// a step is accurate to that tolerance when the second value is <= 1.
template <size_t N, class Deriv>
std::pair<std::array<double, N>, double> dormand_prince_step(const std::array<double, N>& y, double h,
                                                             const Deriv& deriv) {
  using y_t = std::array<double, N>;
  static constexpr double a21 = 1.0 / 5, a31 = 3.0 / 40, a32 = 9.0 / 40, a41 = 44.0 / 45, a42 = -56.0 / 15,
                          a43 = 32.0 / 9, a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                          a54 = -212.0 / 729, a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247,
                          a64 = 49.0 / 176, a65 = -5103.0 / 18656, b1 = 35.0 / 384, b3 = 500.0 / 1113,
                          b4 = 125.0 / 192, b5 = -2187.0 / 6784, b6 = 11.0 / 84, e1 = 71.0 / 57600,
                          e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200, e6 = 22.0 / 525,
                          e7 = -1.0 / 40;
  auto comb = [&](std::initializer_list<std::pair<double, const y_t*>> terms) {
    y_t r = y;
    for (auto [c, k] : terms)
      for (size_t i = 0; i < N; ++i) r[i] += h * c * (*k)[i];
    return r;
  };
  const y_t k1 = deriv(y);
  const y_t k2 = deriv(comb({{a21, &k1}}));
  const y_t k3 = deriv(comb({{a31, &k1}, {a32, &k2}}));
  const y_t k4 = deriv(comb({{a41, &k1}, {a42, &k2}, {a43, &k3}}));
  const y_t k5 = deriv(comb({{a51, &k1}, {a52, &k2}, {a53, &k3}, {a54, &k4}}));
  const y_t k6 = deriv(comb({{a61, &k1}, {a62, &k2}, {a63, &k3}, {a64, &k4}, {a65, &k5}}));
  const y_t y5 = comb({{b1, &k1}, {b3, &k3}, {b4, &k4}, {b5, &k5}, {b6, &k6}});
  const y_t k7 = deriv(y5);
  double err = 0;
  for (size_t i = 0; i < N; ++i) {
    const double e = h * (e1 * k1[i] + e3 * k3[i] + e4 * k4[i] + e5 * k5[i] + e6 * k6[i] + e7 * k7[i]);
    const double scale = 1e-12 + 1e-12 * std::max(std::fabs(y[i]), std::fabs(y5[i]));
    err = std::max(err, std::fabs(e) / scale);
  }
  return {y5, err};
}

// Adaptive integration with `step(y, h) -> {y_next, scaled error}` from t0 toward t1 that stops at
// the first point where fired(y) holds: the step that first ends past it is bisected to 1e-10 ms
// and y is left just past the crossing. Returns the crossing time, or t1.
template <size_t N, class Step, class Fired>
double integrate_until(const Step& step, const Fired& fired, std::array<double, N>& y, double t0, double t1) {
  double t = t0, h = std::min(1e-3, t1 - t0);
  while (t < t1) {
    const bool last = h >= t1 - t;
    const double hs = last ? t1 - t : h;
    auto [y1, err] = step(y, hs);
    if (!(err <= 1)) {
      h = hs * std::max(0.1, 0.9 * std::pow(err, -0.2));
      if (!(h > 1e-18)) throw std::runtime_error("reference step size underflow");
      continue;
    }
    if (fired(y1)) {
      double lo = 0, hi = hs;
      while (hi - lo > 1e-10) {
        const double mid = 0.5 * (lo + hi);
        (fired(step(y, mid).first) ? hi : lo) = mid;
      }
      y = step(y, hi).first;
      return t + hi;
    }
    y = y1;
    t = last ? t1 : t + hs;
    h = hs * std::min(4.0, 0.9 * std::pow(std::max(err, 1e-8), -0.2));
  }
  return t1;
}

}  // namespace gs::test
