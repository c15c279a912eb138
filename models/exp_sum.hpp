// First threshold crossing of a sum of decaying exponentials, f(t) = c0 + sum_k c_k exp(-r_k t)
// (+ d t exp(-r_d t) for a synaptic time constant equal to the membrane's), or of the general
// form with polynomial factors up to t^2 (poly_exp_sum). Every term is monotone (or unimodal), so
// an interval gets a guaranteed bound from its end points alone; intervals that cannot hold a
// root are skipped and the first that can is solved by Newton kept inside the bracket.
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
  // Always inlined: the root search calls it in its inner loop, and GCC stops inlining it once
  // plugins/registry.cpp instantiates enough other models (measured: +2.3 % instructions on CUBA).
  [[gnu::always_inline]] point at(double t) const {
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

// f(t) = c0 + sum_k (c_k0 + c_k1 t + c_k2 t^2) exp(-r_k t): the solution of a linear system
// whose decay rates may coincide (a first-order filter driven at its own rate gains a power of t;
// the GLIF models reach t^2). Each piece t^p exp(-r t) rises until t = p / r and falls after, and
// its slope has at most two interior extrema, at known places; so, as for exp_sum, an interval's
// bounds come from its end points and those places. The caller keeps the rates distinct.
struct poly_exp_sum {
  static constexpr int max_terms = 8;
  double c0 = 0;
  int n = 0;
  std::array<double, max_terms> r{};
  std::array<std::array<double, 3>, max_terms> c{};  // c[k][p]: coefficient of t^p exp(-r_k t)
  double rate_max = 0;                               // set by finish()

  struct point {
    double t = 0, f = 0, slope = 0;
    std::array<double, max_terms> e{};  // exp(-r_k t)
  };

  // Call once all terms are in.
  void finish() {
    rate_max = 0;
    for (int k = 0; k < n; ++k) rate_max = std::max(rate_max, r[k]);
  }
  point at(double t) const {
    point q;
    q.t = t;
    q.f = c0;
    for (int k = 0; k < n; ++k) {
      const double e = std::exp(-r[k] * t);
      const auto& a = c[k];
      const double poly = a[0] + t * (a[1] + t * a[2]);
      q.e[k] = e;
      q.f += poly * e;
      q.slope += (a[1] + 2 * t * a[2] - r[k] * poly) * e;
    }
    return q;
  }

  // The piece t^p exp(-r t) and its slope, given e = exp(-r t); at x = r t without it.
  static double piece(int p, double t, double e) { return p == 0 ? e : p == 1 ? t * e : t * t * e; }
  static double piece_slope(int p, double r, double t, double e) {
    return p == 0 ? -r * e : p == 1 ? (1 - r * t) * e : (2 - r * t) * t * e;
  }
  static double piece_x(int p, double r, double x) { return p == 1 ? x / r * std::exp(-x) : x * x / (r * r) * std::exp(-x); }
  static double slope_x(int p, double r, double x) { return p == 1 ? (1 - x) * std::exp(-x) : (2 - x) * x / r * std::exp(-x); }

  // Range of piece (k, p) on [a, b]: the peak (x = p) is its only interior extremum.
  void piece_range(int k, int p, const point& a, const point& b, double& lo, double& hi) const {
    const double ga = piece(p, a.t, a.e[k]), gb = piece(p, b.t, b.e[k]);
    lo = std::min(ga, gb);
    hi = std::max(ga, gb);
    if (p > 0 && r[k] * a.t < p && p < r[k] * b.t) hi = std::max(hi, piece_x(p, r[k], p));
  }
  // Range of the slope of piece (k, p) on [a, b]. p = 1: (1 - x) e^-x falls to its minimum at
  // x = 2, then rises. p = 2: (2 - x) x e^-x / r rises to x = 2 - sqrt 2, falls to 2 + sqrt 2,
  // then rises.
  void slope_range(int k, int p, const point& a, const point& b, double& lo, double& hi) const {
    const double sa = piece_slope(p, r[k], a.t, a.e[k]), sb = piece_slope(p, r[k], b.t, b.e[k]);
    lo = std::min(sa, sb);
    hi = std::max(sa, sb);
    const double xa = r[k] * a.t, xb = r[k] * b.t;
    auto inside = [&](double x) { return xa < x && x < xb; };
    if (p == 1 && inside(2)) lo = std::min(lo, slope_x(1, r[k], 2));
    if (p == 2) {
      const double x1 = 2 - std::sqrt(2.0), x2 = 2 + std::sqrt(2.0);
      if (inside(x1)) hi = std::max(hi, slope_x(2, r[k], x1));
      if (inside(x2)) lo = std::min(lo, slope_x(2, r[k], x2));
    }
  }

  // Upper bound of f on [a, b].
  double upper(const point& a, const point& b) const {
    double u = c0;
    for (int k = 0; k < n; ++k)
      for (int p = 0; p < 3; ++p) {
        const double w = c[k][p];
        if (w == 0) continue;
        double lo, hi;
        piece_range(k, p, a, b, lo, hi);
        u += w * (w > 0 ? hi : lo);
      }
    return u + slack(a, b);
  }
  double slope_lower(const point& a, const point& b) const { return slope_bound(a, b, -1); }
  double slope_upper(const point& a, const point& b) const { return slope_bound(a, b, +1); }
  double slope_bound(const point& a, const point& b, int side) const {
    double l = 0, mag = 0;
    for (int k = 0; k < n; ++k)
      for (int p = 0; p < 3; ++p) {
        const double w = c[k][p];
        if (w == 0) continue;
        double lo, hi;
        slope_range(k, p, a, b, lo, hi);
        l += w * ((w > 0) == (side < 0) ? lo : hi);
        mag += std::fabs(w) * std::max(std::fabs(lo), std::fabs(hi));
      }
    return l + side * (4e-15 * mag + slack(a, b) * rate_max);
  }
  // Upper bound of f on [a, infinity): the pieces are >= 0 and tend to 0.
  double tail_upper(const point& a) const {
    double u = c0, mag = std::fabs(c0);
    for (int k = 0; k < n; ++k)
      for (int p = 0; p < 3; ++p) {
        const double w = c[k][p];
        if (w == 0) continue;
        const double hi = (p > 0 && r[k] * a.t < p) ? piece_x(p, r[k], p) : piece(p, a.t, a.e[k]);
        if (w > 0) u += w * hi;
        mag += std::fabs(w) * hi;
      }
    return u + 4e-15 * mag;
  }
  // Rounding in evaluating f on [a, b]: a few ulp of the pieces' largest sizes there.
  double slack(const point& a, const point& b) const {
    double mag = std::fabs(c0);
    for (int k = 0; k < n; ++k)
      for (int p = 0; p < 3; ++p) {
        const double w = c[k][p];
        if (w == 0) continue;
        double lo, hi;
        piece_range(k, p, a, b, lo, hi);
        mag += std::fabs(w) * hi;
      }
    return 4e-15 * mag;
  }
};

// Root of f in [a, b] where f(a) < 0 <= f(b) and f is increasing: Newton kept inside the bracket.
// Newton's error after a step of size h is of order h^2 f''/f', so a step below 1e-10 (relative)
// leaves an error far below rounding and the iteration stops there.
// Sum is exp_sum or poly_exp_sum: both give points, interval bounds and rate_max.
template <class Sum>
double solve_bracketed(const Sum& f, typename Sum::point a, typename Sum::point b) {
  typename Sum::point p = b;
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

// Upper bound of a sum f (exp_sum or poly_exp_sum) on [a, b] from the values at the ends and
// the slope bounds: f(t) <= f(a) + s_up (t - a) and f(t) <= f(b) - s_low (b - t). Second order in
// b - a, so it settles near a maximum that stays just below zero, where the term bounds need
// tiny steps.
template <class Sum>
double upper_by_slopes(const Sum& f, const typename Sum::point& a, const typename Sum::point& b) {
  const double su = f.slope_upper(a, b), sl = f.slope_lower(a, b), h = b.t - a.t;
  double m;
  if (su <= 0) m = a.f;
  else if (sl >= 0) m = b.f;
  else m = a.f + su * std::clamp((b.f - sl * h - a.f) / (su - sl), 0.0, h);
  return m + f.slack(a, b);
}

// First t >= t0 with f(t) >= 0 (no_spike if there is none), given that no root lies before t0.
// With `precise` false it returns a time no later than that root, without refining it.
// A maximum within rounding (f.slack()) of zero counts as reaching it: at that scale the
// question has no answer, and the search must not stall there.
template <class Sum>
double first_crossing(const Sum& f, double t0, bool precise = true) {
  typename Sum::point a = f.at(t0);
  if (a.f >= 0) return t0;
  // First step: the time the current slope needs to close the gap (at least a sliver).
  double h = a.slope > 0 ? std::min(-a.f / a.slope, 0.5 / f.rate_max) : 0.5 / f.rate_max;
  h = std::max(h, 1e-9 / f.rate_max);
  for (int it = 0; it < 100000; ++it) {
    if (f.tail_upper(a) < 0 || a.t > 1e12) return no_spike;
    const typename Sum::point b = f.at(a.t + h);
    if (f.upper(a, b) < 0 || upper_by_slopes(f, a, b) < 0) {  // no root in [a, b]
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
