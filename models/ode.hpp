// Adaptive Dormand-Prince 5(4) integration of a small ODE system between events, for cell models
// without a closed-form propagator (AdEx, Izhikevich). It stops at the first point where a
// "crossed" predicate holds, so a diverging upstroke is never integrated past threshold.
// Fixed-size state, no allocation, no exceptions, no std::function: the same code can run in a
// CUDA kernel (nvcc needs --expt-relaxed-constexpr for std::array in device code).
#pragma once
#include <array>
#include <cmath>
#include <cstddef>

#include "models/model.hpp"

namespace gs::ode {

template <std::size_t N>
using vec = std::array<double, N>;

// The estimated local error of each accepted step is at most atol + rtol |y_i| in every component
// (max norm); a crossing is located to within t_tol (the caller's time unit). A step count beyond
// max_steps means the system is too stiff or broken for this method: the integration stops there
// rather than loop (outcome.t < h tells).
struct tolerances {
  double rtol = 1e-9, atol = 1e-9, t_tol = 1e-10;
  int max_steps = 1000000;
};

struct outcome {
  double t = 0;          // time reached: all of h, or the first point found crossed
  bool crossed = false;  // the state is at (or within t_tol past) the first crossing
  int accepted = 0, rejected = 0;
};

namespace detail {

// One Dormand-Prince step of length h from (t, y), with k1 = f(t, y): the 5th-order solution, f at
// it (the next step's k1), and the error of the embedded 4th-order solution in units of the tolerance
// (infinity when anything is not finite, so such a step is always rejected).
template <std::size_t N, class Rhs>
GS_HD double dp_step(double t, const vec<N>& y, const vec<N>& k1, double h, const Rhs& f, const tolerances& tol,
                     vec<N>& y5, vec<N>& k7) {
  constexpr double a21 = 1.0 / 5, a31 = 3.0 / 40, a32 = 9.0 / 40, a41 = 44.0 / 45, a42 = -56.0 / 15,
                   a43 = 32.0 / 9, a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561,
                   a54 = -212.0 / 729, a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247,
                   a64 = 49.0 / 176, a65 = -5103.0 / 18656, b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192,
                   b5 = -2187.0 / 6784, b6 = 11.0 / 84;
  // b - b_hat: the difference between the 5th- and 4th-order weights.
  constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                   e6 = 22.0 / 525, e7 = -1.0 / 40;
  vec<N> z;
  for (std::size_t i = 0; i < N; ++i) z[i] = y[i] + h * a21 * k1[i];
  const vec<N> k2 = f(t + h / 5, z);
  for (std::size_t i = 0; i < N; ++i) z[i] = y[i] + h * (a31 * k1[i] + a32 * k2[i]);
  const vec<N> k3 = f(t + h * (3.0 / 10), z);
  for (std::size_t i = 0; i < N; ++i) z[i] = y[i] + h * (a41 * k1[i] + a42 * k2[i] + a43 * k3[i]);
  const vec<N> k4 = f(t + h * (4.0 / 5), z);
  for (std::size_t i = 0; i < N; ++i) z[i] = y[i] + h * (a51 * k1[i] + a52 * k2[i] + a53 * k3[i] + a54 * k4[i]);
  const vec<N> k5 = f(t + h * (8.0 / 9), z);
  for (std::size_t i = 0; i < N; ++i)
    z[i] = y[i] + h * (a61 * k1[i] + a62 * k2[i] + a63 * k3[i] + a64 * k4[i] + a65 * k5[i]);
  const vec<N> k6 = f(t + h, z);
  for (std::size_t i = 0; i < N; ++i)
    y5[i] = y[i] + h * (b1 * k1[i] + b3 * k3[i] + b4 * k4[i] + b5 * k5[i] + b6 * k6[i]);
  k7 = f(t + h, y5);
  double err = 0;
  for (std::size_t i = 0; i < N; ++i) {
    const double e = h * (e1 * k1[i] + e3 * k3[i] + e4 * k4[i] + e5 * k5[i] + e6 * k6[i] + e7 * k7[i]);
    const double scale = tol.atol + tol.rtol * std::fmax(std::fabs(y[i]), std::fabs(y5[i]));
    const double r = std::fabs(e) / scale;
    if (!(r <= err)) err = r;                      // NaN lands here too
    if (!(err < HUGE_VAL)) return HUGE_VAL;
    if (!(std::fabs(k7[i]) < HUGE_VAL)) return HUGE_VAL;
  }
  return err;
}

// First step length (Hairer, Norsett & Wanner, Solving ODEs I, II.4): from the sizes of y, f and
// a finite-difference estimate of f', so that no step size has to be remembered between calls
// (a result then depends only on the state and h, not on the history of calls).
template <std::size_t N, class Rhs>
GS_HD double first_step(const vec<N>& y, const vec<N>& k1, double h, const Rhs& f, const tolerances& tol) {
  double d0 = 0, d1 = 0;
  for (std::size_t i = 0; i < N; ++i) {
    const double sc = tol.atol + tol.rtol * std::fabs(y[i]);
    d0 = std::fmax(d0, std::fabs(y[i]) / sc);
    d1 = std::fmax(d1, std::fabs(k1[i]) / sc);
  }
  double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
  h0 = std::fmin(h0, h);
  vec<N> z;
  for (std::size_t i = 0; i < N; ++i) z[i] = y[i] + h0 * k1[i];
  const vec<N> k = f(h0, z);
  double d2 = 0;
  for (std::size_t i = 0; i < N; ++i)
    d2 = std::fmax(d2, std::fabs(k[i] - k1[i]) / (tol.atol + tol.rtol * std::fabs(y[i])));
  d2 /= h0;
  const double d = std::fmax(d1, d2);
  const double h1 = d <= 1e-15 ? std::fmax(1e-6, h0 * 1e-3) : std::pow(0.01 / d, 0.2);
  return std::fmin(std::fmin(100 * h0, h1), h);
}

// Step-size factor after an accepted step with error `err` and previous error `err_old` (in units
// of the tolerance): Gustafsson's PI control as in Hairer's DOPRI5 (beta 0.04). Toward a
// diverging upstroke the error grows from step to step, and the previous error's share keeps the
// steps from lagging behind that trend (half the rejected steps on y' = exp(y)).
GS_HD inline double step_factor(double err, double err_old, double largest) {
  constexpr double beta = 0.04;
  const double e = err > 1e-10 ? err : 1e-10;
  const double f = 0.9 * std::pow(e, -(0.2 - 0.75 * beta)) * std::pow(err_old, beta);
  return std::fmin(largest, std::fmax(0.2, f));
}

}  // namespace detail

// Integrates y' = f(t, y) from t = 0 over h, with `f(double t, const vec<N>&) -> vec<N>` and
// `crossed(const vec<N>&) -> bool`. Returns with y at h, or at the first point where crossed(y)
// holds (located to within t_tol by bisecting the step that first ended crossed, each trial a
// single step from that step's start, shorter than the accepted one).
// If y is already crossed nothing moves.
//
// f must stay finite past the crossing (a model clamps its state there): steps are never shorter
// than t_tol, and one that the error control would shrink further is taken anyway, so a
// trajectory that diverges just after its crossing cannot drive the step size to zero; if such a
// step ends crossed, the crossing is within t_tol of where it started.
template <std::size_t N, class Rhs, class Crossed>
GS_HD outcome integrate(vec<N>& y, double h, const Rhs& f, const Crossed& crossed, const tolerances& tol) {
  outcome out;
  if (crossed(y)) {
    out.crossed = true;
    return out;
  }
  if (!(h > 0)) return out;
  vec<N> k1 = f(0.0, y), y5, k7;
  double t = 0, dt = detail::first_step(y, k1, h, f, tol);
  double err_old = 1e-4;
  bool just_rejected = false;  // then the next step may not grow (Hairer's rule)
  while (t < h) {
    if (out.accepted + out.rejected >= tol.max_steps) {
      out.t = t;
      return out;
    }
    const bool forced = dt <= tol.t_tol;
    if (forced) dt = tol.t_tol;
    const bool last = dt >= h - t;
    if (last) dt = h - t;
    const double err = detail::dp_step(t, y, k1, dt, f, tol, y5, k7);
    if (!(err <= 1) && !forced) {
      ++out.rejected;
      dt *= std::fmax(0.2, 0.9 * std::pow(err, -0.2));
      just_rejected = true;
      continue;
    }
    if (crossed(y5)) {
      double lo = 0, hi = dt;
      vec<N> ym, km;
      while (hi - lo > tol.t_tol) {
        const double mid = 0.5 * (lo + hi);
        detail::dp_step(t, y, k1, mid, f, tol, ym, km);
        if (crossed(ym)) {
          hi = mid;
          y5 = ym;
        } else {
          lo = mid;
        }
      }
      y = y5;
      out.t = t + hi;
      out.crossed = true;
      ++out.accepted;
      return out;
    }
    if (!(err < HUGE_VAL)) {  // a forced step that broke down: stay at the last good point
      out.t = t;
      return out;
    }
    ++out.accepted;
    y = y5;
    k1 = k7;
    t = last ? h : t + dt;
    dt *= detail::step_factor(err, err_old, just_rejected ? 1.0 : 5.0);
    err_old = err > 1e-4 ? err : 1e-4;
    just_rejected = false;
  }
  out.t = h;
  return out;
}

}  // namespace gs::ode
