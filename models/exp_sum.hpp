// First threshold crossing of a sum of decaying exponentials, f(t) = c0 + sum_k c_k exp(-r_k t)
// (+ d t exp(-r_d t) for a synaptic time constant equal to the membrane's). Every term is
// monotone (or unimodal), so an interval gets a guaranteed bound from its end points alone;
// intervals that cannot hold a root are skipped and the first that can is solved by Newton
// kept inside the bracket.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>

#include "models/model.hpp"

namespace gs {

struct exp_sum {
  double c0 = 0;
  std::array<double, 4> c{}, r{};
  std::array<int, 4> m{};  // r[k] = m[k] * base when every rate is a multiple of one base rate
  int n = 0, md = 0;
  double d = 0, rd = 0;    // d * t * exp(-rd * t), rd = md * base
  double base = 0;         // 0: the rates are unrelated and each term needs its own exp()
  double rate_max = 0;  // set by finish()

  // The terms' exponentials at one time, shared by the value, the slope and the bounds.
  struct point {
    double t = 0, f = 0, slope = 0, ed = 0;
    std::array<double, 4> e{};
  };

  void add(double coeff, double rate, int multiple = 0) {
    c[n] = coeff;
    r[n] = rate;
    m[n] = multiple;
    ++n;
  }
  point at(double t) const {
    point p;
    p.t = t;
    const double x = base > 0 ? std::exp(-base * t) : 0;  // one exp serves commensurate rates
    p.ed = d == 0 ? 0 : base > 0 ? ipow(x, md) : std::exp(-rd * t);
    p.f = c0 + d * t * p.ed;
    p.slope = d * (1 - rd * t) * p.ed;
    for (int k = 0; k < n; ++k) {
      p.e[k] = base > 0 ? ipow(x, m[k]) : std::exp(-r[k] * t);
      p.f += c[k] * p.e[k];
      p.slope -= r[k] * c[k] * p.e[k];
    }
    return p;
  }
  // Upper bound of f on [a, b].
  double upper(const point& a, const point& b) const {
    double u = c0;
    for (int k = 0; k < n; ++k) u += c[k] * (c[k] > 0 ? a.e[k] : b.e[k]);
    if (d != 0) {
      const double ga = a.t * a.ed, gb = b.t * b.ed, peak = 1 / rd;
      const double gmax = (a.t <= peak && peak <= b.t) ? peak * std::exp(-1.0) : std::max(ga, gb);
      u += d > 0 ? d * gmax : d * std::min(ga, gb);
    }
    return u + slack(a, b);
  }
  // Lower and upper bounds of f' on [a, b].
  double slope_lower(const point& a, const point& b) const { return slope_bound(a, b, -1); }
  double slope_upper(const point& a, const point& b) const { return slope_bound(a, b, +1); }
  double slope_bound(const point& a, const point& b, int side) const {
    double l = 0;
    for (int k = 0; k < n; ++k) {
      const double s = -r[k] * c[k];  // the term's slope is s exp(-r t): monotone
      l += s * ((s < 0) == (side < 0) ? a.e[k] : b.e[k]);
    }
    if (d != 0) {
      // g'(t) = (1 - rd t) exp(-rd t) falls until t = 2/rd and rises after.
      const double ga = (1 - rd * a.t) * a.ed, gb = (1 - rd * b.t) * b.ed, lo = 2 / rd;
      const double gmin = (a.t <= lo && lo <= b.t) ? -std::exp(-2.0) : std::min(ga, gb);
      const double gmax = std::max(ga, gb);
      l += (d > 0) == (side < 0) ? d * gmin : d * gmax;
    }
    return l + side * slack(a, b) * rate_max;
  }
  // Upper bound of f on [a, b] from the values at the ends and the slope bounds:
  // f(t) <= f(a) + s_up (t - a) and f(t) <= f(b) - s_low (b - t). Second order in b - a, so it
  // settles near a maximum that stays just below zero, where the term bounds need tiny steps.
  double upper_by_slopes(const point& a, const point& b) const {
    const double su = slope_upper(a, b), sl = slope_lower(a, b), h = b.t - a.t;
    double m;
    if (su <= 0) m = a.f;
    else if (sl >= 0) m = b.f;
    else m = a.f + su * std::clamp((b.f - sl * h - a.f) / (su - sl), 0.0, h);
    return m + slack(a, b);
  }
  // Upper bound of f on [a, infinity).
  double tail_upper(const point& a) const {
    double u = c0;
    for (int k = 0; k < n; ++k)
      if (c[k] > 0) u += c[k] * a.e[k];
    if (d > 0) u += d * (a.t <= 1 / rd ? std::exp(-1.0) / rd : a.t * a.ed);
    return u + slack(a, a);
  }
  // Call once all terms are in.
  void finish() {
    rate_max = rd;
    for (int k = 0; k < n; ++k) rate_max = std::max(rate_max, r[k]);
  }
  // Rounding in evaluating f on [a, b]: a few ulp of the terms' present sizes (they decay, so
  // far out the allowance shrinks with them). Keeps the interval bounds guaranteed.
  double slack(const point& a, const point& b) const {
    double mag = std::fabs(c0);
    for (int k = 0; k < n; ++k) mag += std::fabs(c[k]) * a.e[k];
    if (d != 0) {
      const double peak = 1 / rd;
      mag += std::fabs(d) * ((a.t <= peak && peak <= b.t) ? peak * std::exp(-1.0) : std::max(a.t * a.ed, b.t * b.ed));
    }
    return 4e-15 * mag;
  }
};

// Root of f in [a, b] where f(a) < 0 <= f(b) and f is increasing: Newton kept inside the bracket.
// Newton's error after a step of size h is of order h^2 f''/f', so a step below 1e-10 (relative)
// leaves an error far below rounding and the iteration stops there.
inline double solve_bracketed(const exp_sum& f, exp_sum::point a, exp_sum::point b) {
  exp_sum::point p = b;
  for (int it = 0; it < 100; ++it) {
    const double newton = p.slope > 0 ? p.t - p.f / p.slope : a.t;
    const bool inside = newton > a.t && newton < b.t;
    const double next = inside ? newton : 0.5 * (a.t + b.t);
    if (inside && std::fabs(next - p.t) <= 1e-10 * std::max(1.0, p.t)) return next;
    p = f.at(next);
    (p.f < 0 ? a : b) = p;
    if (b.t - a.t <= 4e-16 * std::max(1.0, b.t)) break;
  }
  return b.t;
}

// First t >= t0 with f(t) >= 0 (no_spike if there is none), given that no root lies before t0.
// With `precise` false it returns a time no later than that root, without refining it.
// A maximum within rounding (f.slack()) of zero counts as reaching it: at that scale the
// question has no answer, and the search must not stall there.
inline double first_crossing(const exp_sum& f, double t0, bool precise = true) {
  exp_sum::point a = f.at(t0);
  if (a.f >= 0) return t0;
  // First step: the time the current slope needs to close the gap (at least a sliver).
  double h = a.slope > 0 ? std::min(-a.f / a.slope, 0.5 / f.rate_max) : 0.5 / f.rate_max;
  h = std::max(h, 1e-9 / f.rate_max);
  for (int it = 0; it < 100000; ++it) {
    if (f.tail_upper(a) < 0 || a.t > 1e12) return no_spike;
    const exp_sum::point b = f.at(a.t + h);
    if (f.upper(a, b) < 0 || f.upper_by_slopes(a, b) < 0) {  // no root in [a, b]
      a = b;
      h *= 2;
      continue;
    }
    const bool increasing = f.slope_lower(a, b) > 0;
    if (increasing) {
      if (b.f >= 0) return precise ? solve_bracketed(f, a, b) : a.t;
      a = b;  // increasing and still below zero at b
      h *= 2;
      continue;
    }
    if (h <= 1e-13 * std::max(1.0, a.t)) return b.f >= 0 ? b.t : a.t;  // within rounding of zero
    h *= 0.5;
  }
  return a.t;  // not reached in practice; a.t is at least no later than the crossing
}

}  // namespace gs
