// first_crossing() against brute force. The reference written here evaluates
// f(t) = c0 + sum_k c_k exp(-r_k t) + d t exp(-rd t) term by term (never through the exp_sum
// code: no shared base exponential, no bounds), scans a dense grid, and refines by bisection in
// long double. A narrow excursion above zero inside one grid cell is caught twice over: by the
// sign change of f' across the cell (bisection on f') and by a grid point above both neighbours
// (golden-section search over its two cells); the maximum found is tested against zero.
// "No crossing" is proven, not sampled: past the horizon the decaying parts are below |c0| / 2.
//
// Random sums (2-4 terms with random signs and rates, unrelated rates or commensurate ones built
// on `base`, with and without the d t exp(-rd t) term) must give the same first crossing to 1e-9
// relative, or both none; precise=false must never be later than the crossing. Near-tangent sums
// (a local maximum shifted to just below or just above zero) must report no crossing, or find
// it. Two regression cases keep bugs this file found in exp_sum.hpp from coming back.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "models/exp_sum.hpp"

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();
using real = long double;

struct term {
  double c, r;
  int m;  // r = m * base in the commensurate form
};

struct spec {
  double c0 = 0;
  std::vector<term> terms;
  double d = 0, rd = 0;
  int md = 0;
  double base = 0;

  bool has_d() const { return d != 0; }
  double rate_min() const {
    double r = has_d() ? rd : inf;
    for (const auto& k : terms) r = std::min(r, k.r);
    return r;
  }
  double rate_max() const {
    double r = has_d() ? rd : 0;
    for (const auto& k : terms) r = std::max(r, k.r);
    return r;
  }
  // Size of f's parts: the yardstick for "tiny" values of f.
  double scale() const {
    double s = std::fabs(c0) + (has_d() ? std::fabs(d) / rd : 0);
    for (const auto& k : terms) s += std::fabs(k.c);
    return s;
  }
  // Largest magnitude the decaying parts can still have at t or later.
  double tail(double t) const {
    double s = 0;
    for (const auto& k : terms) s += std::fabs(k.c) * std::exp(-k.r * t);
    if (has_d()) s += std::fabs(d) * (t >= 1 / rd ? t * std::exp(-rd * t) : std::exp(-1.0) / rd);
    return s;
  }
  template <class T>
  T f(T t) const {
    T v = c0;
    for (const auto& k : terms) v += T(k.c) * std::exp(-T(k.r) * t);
    if (has_d()) v += T(d) * t * std::exp(-T(rd) * t);
    return v;
  }
  template <class T>
  T slope(T t) const {
    T v = 0;
    for (const auto& k : terms) v -= T(k.r) * T(k.c) * std::exp(-T(k.r) * t);
    if (has_d()) v += T(d) * (1 - T(rd) * t) * std::exp(-T(rd) * t);
    return v;
  }
  gs::exp_sum build() const {
    gs::exp_sum s;
    s.c0 = c0;
    for (const auto& k : terms) s.add(k.c, k.r, k.m);
    s.d = d;
    s.rd = rd;
    s.md = md;
    s.base = base;
    s.finish();
    return s;
  }
  std::string describe() const {
    std::string out = fmt::format("c0 = {:.17g}", c0);
    for (const auto& k : terms) out += fmt::format(" + {:.17g} exp(-{:.17g} t) [m {}]", k.c, k.r, k.m);
    if (has_d()) out += fmt::format(" + {:.17g} t exp(-{:.17g} t) [md {}]", d, rd, md);
    if (base > 0) out += fmt::format("; base {:.17g}", base);
    return out;
  }
};

// Bisection to the last bit of long double: f(lo) < 0 <= f(hi).
real bisect_root(const spec& s, real lo, real hi) {
  for (int i = 0; i < 200 && hi - lo > 0; ++i) {
    const real mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (s.f(mid) >= 0 ? hi : lo) = mid;
  }
  return hi;
}
// The maximum inside (lo, hi) where f' > 0 at lo and f' < 0 at hi.
real bisect_peak(const spec& s, real lo, real hi) {
  for (int i = 0; i < 200 && hi - lo > 0; ++i) {
    const real mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (s.slope(mid) > 0 ? lo : hi) = mid;
  }
  return lo + (hi - lo) / 2;
}

// A time after which the decaying parts stay below `level` (and the t exp(-rd t) part decays).
double horizon(const spec& s, double t0, double level) {
  double t = std::max(t0, 0.0) + 1 / s.rate_min();
  while (s.tail(t) >= level || (s.has_d() && t < 1 / s.rd)) t *= 2;
  return t;
}
// After this time f keeps the sign of c0: no crossing starts later.
double horizon(const spec& s, double t0) { return horizon(s, t0, 0.5 * std::fabs(s.c0)); }

// Grid from t0 to the horizon: steps of 1e-3 / rate_max near the start, 2e-3 t later, so every
// term changes by less than 1e-3 of its coefficient across a cell. Values in double (f and f'
// share their exponentials); refinements below are in long double.
struct grid {
  std::vector<double> t, f, slope;
};
grid sample(const spec& s, double t0, double t_end) {
  grid g;
  const double h_min = 1e-3 / s.rate_max();
  for (double t = t0;; t += std::max(h_min, 2e-3 * t)) {
    double f = s.c0, sl = 0;
    for (const auto& k : s.terms) {
      const double e = k.c * std::exp(-k.r * t);
      f += e;
      sl -= k.r * e;
    }
    if (s.has_d()) {
      const double e = s.d * std::exp(-s.rd * t);
      f += t * e;
      sl += (1 - s.rd * t) * e;
    }
    g.t.push_back(t);
    g.f.push_back(f);
    g.slope.push_back(sl);
    if (t >= t_end) break;
  }
  return g;
}

// Golden-section search for the largest value of f on [lo, hi] (f unimodal there).
real golden_peak(const spec& s, real lo, real hi) {
  const real r = (std::sqrt(real(5)) - 1) / 2;
  real x1 = hi - r * (hi - lo), x2 = lo + r * (hi - lo), f1 = s.f(x1), f2 = s.f(x2);
  for (int i = 0; i < 160 && hi - lo > 0; ++i) {
    if (f1 < f2) {
      lo = x1, x1 = x2, f1 = f2, x2 = lo + r * (hi - lo), f2 = s.f(x2);
    } else {
      hi = x2, x2 = x1, f2 = f1, x1 = hi - r * (hi - lo), f1 = s.f(x1);
    }
  }
  return f1 > f2 ? x1 : x2;
}

// Walks the grid in order and hands every candidate maximum to `peak(lo, t_peak)` (lo: a grid
// point before it with f < 0 so far) and every grid point to `point(i)`; stops when either
// returns true. Candidates: a sign change of f' across a cell (bisection on f'), and a grid
// point above both neighbours (golden section over its two cells), which also catches maxima
// whose f' is lost in rounding. `worth(lo, mid, hi)`, given grid values around a candidate,
// skips candidates that cannot matter (rounding noise on flat stretches).
template <class Point, class Peak, class Worth>
void walk(const spec& s, const grid& g, Point&& point, Peak&& peak, Worth&& worth) {
  const size_t n = g.t.size();
  if (point(size_t(0))) return;
  for (size_t i = 1; i < n; ++i) {
    if (i >= 2 && g.f[i - 1] >= g.f[i - 2] && g.f[i - 1] >= g.f[i] && worth(g.f[i - 2], g.f[i - 1], g.f[i]) &&
        peak(g.t[i - 2], golden_peak(s, g.t[i - 2], g.t[i])))
      return;
    if (g.slope[i - 1] > 0 && g.slope[i] <= 0 && worth(g.f[i - 1], std::max(g.f[i - 1], g.f[i]), g.f[i]) &&
        peak(g.t[i - 1], bisect_peak(s, g.t[i - 1], g.t[i])))
      return;
    if (point(i)) return;
  }
}

// First t >= t0 with f(t) >= 0, infinity when there is none.
double reference_crossing(const spec& s, double t0) {
  if (s.f(real(t0)) >= 0) return t0;
  const grid g = sample(s, t0, horizon(s, t0));
  double root = inf;
  walk(
      s, g,
      [&](size_t i) {
        if (i == 0 || (g.f[i] < 0 && s.f(real(g.t[i])) < 0)) return false;
        root = double(bisect_root(s, g.t[i - 1], g.t[i]));
        return true;
      },
      [&](real lo, real at) {
        if (s.f(at) < 0) return false;
        root = double(bisect_root(s, lo, at));
        return true;
      },
      // Within a cell f moves by less than 1e-3 of the scale: a maximum further below zero
      // cannot reach it.
      [&](double, double mid, double) { return mid > -2e-3 * s.scale(); });
  return root;
}

// Interior local maxima of f on [t0, infinity), each once, in time order.
struct peak {
  double value;
  real at;
};
std::vector<peak> interior_peaks(const spec& s, double t0) {
  std::vector<peak> peaks;
  // Later than the sign horizon: f may still rise (below zero) after it; beyond this one f stays
  // within rounding of c0.
  const grid g = sample(s, t0, horizon(s, t0, 1e-17 * s.scale()));
  walk(
      s, g, [](size_t) { return false; },
      [&](real lo, real p) {
        if (p <= lo || s.slope(p) != s.slope(p)) return false;
        // Both detectors may report the same maximum; keep one.
        if (!peaks.empty() && p - peaks.back().at <= 4e-3 * p + 2e-3 / s.rate_max()) {
          if (s.f(p) > peaks.back().value) peaks.back() = {double(s.f(p)), p};
          return false;
        }
        peaks.push_back({double(s.f(p)), p});
        return false;
      },
      // Bumps of a few ulps on flat stretches are rounding, not maxima.
      [&](double lo, double mid, double hi) { return mid - std::min(lo, hi) > 1e-14 * s.scale(); });
  return peaks;
}

double log_uniform(std::mt19937_64& g, double lo, double hi) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(g));
}
double signed_log_uniform(std::mt19937_64& g, double lo, double hi) {
  return (g() & 1 ? 1 : -1) * log_uniform(g, lo, hi);
}

// A random sum: form 0 unrelated rates, form 1 commensurate rates on a base; with_d adds the
// t exp(-rd t) term. Rates 0.02-5 per ms, coefficients 0.01-10 (mV-like units).
spec random_spec(std::mt19937_64& g, int form, bool with_d) {
  spec s;
  const int n = std::uniform_int_distribution<int>(2, 4)(g);
  if (form == 1) s.base = log_uniform(g, 0.02, 1.0);
  for (int k = 0; k < n; ++k) {
    term t{};
    t.c = signed_log_uniform(g, 0.01, 10);
    if (form == 1) {
      t.m = std::uniform_int_distribution<int>(1, 6)(g);
      t.r = t.m * s.base;
    } else {
      t.r = log_uniform(g, 0.02, 5);
    }
    s.terms.push_back(t);
  }
  if (with_d) {
    s.d = signed_log_uniform(g, 0.01, 10);
    if (form == 1) {
      s.md = std::uniform_int_distribution<int>(1, 4)(g);
      s.rd = s.md * s.base;
    } else {
      s.rd = log_uniform(g, 0.02, 5);
    }
  }
  s.c0 = signed_log_uniform(g, 0.01, 10);
  return s;
}

struct tally {
  int cases = 0, crossings = 0, none = 0, coarse_checked = 0;
  double worst_rel = 0;
  std::string worst;
  void error(double got, double want, const spec& s, double t0) {
    const double rel = std::fabs(got - want) / std::max(want, 1e-300);
    if (rel > worst_rel) {
      worst_rel = rel;
      worst = fmt::format("{} from t0 = {:.17g}: got {:.17g}, reference {:.17g}", s.describe(), t0, got, want);
    }
  }
};

// Compares both modes of first_crossing with the reference from t0 (no root before t0).
void compare(const spec& s, double t0, tally& tl) {
  const gs::exp_sum f = s.build();
  const double want = reference_crossing(s, t0);
  const double got = gs::first_crossing(f, t0, true);
  const double low = gs::first_crossing(f, t0, false);
  INFO(s.describe());
  INFO(fmt::format("t0 = {:.17g}: first_crossing {:.17g} (precise), {:.17g} (not precise); reference {:.17g}", t0,
                   got, low, want));
  ++tl.cases;
  if (std::isinf(want)) {
    ++tl.none;
    CHECK(std::isinf(got));
    CHECK(std::isinf(low));
    return;
  }
  ++tl.crossings;
  REQUIRE(std::isfinite(got));
  // 1e-9 relative, widened only where f is so flat at the root that rounding of f itself
  // (a few ulps of its largest part) moves the root further.
  const double flat = 64 * std::numeric_limits<double>::epsilon() * s.scale() / std::fabs(s.slope(real(want)));
  CHECK(std::fabs(got - want) <= std::max(1e-9 * want, flat));
  tl.error(got, want, s, t0);
  CHECK(low >= t0);
  CHECK(low <= want);
  ++tl.coarse_checked;
}

}  // namespace

TEST_CASE("first_crossing: simple closed forms") {
  // 1 - 2 exp(-t): root at log 2.
  gs::exp_sum a;
  a.c0 = 1;
  a.add(-2, 1);
  a.finish();
  CHECK(gs::first_crossing(a, 0) == doctest::Approx(std::log(2.0)).epsilon(1e-14));
  CHECK(gs::first_crossing(a, 0, false) <= std::log(2.0));
  // Already at or above zero at t0.
  CHECK(gs::first_crossing(a, 1.0) == 1.0);
  // -1 + exp(-t) never reaches zero.
  gs::exp_sum b;
  b.c0 = -1;
  b.add(0.5, 1);
  b.finish();
  CHECK(std::isinf(gs::first_crossing(b, 0)));
  CHECK(std::isinf(gs::first_crossing(b, 0, false)));
  // -1 + 4 t exp(-t) (commensurate form): peak 4/e > 1, first root where 4 t = exp(t).
  gs::exp_sum c;
  c.c0 = -1;
  c.base = 1;
  c.d = 4;
  c.rd = 1;
  c.md = 1;
  c.finish();
  double lo = 0, hi = 1;  // 4t - e^t changes sign on [0, 1]
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (4 * mid - std::exp(mid) >= 0 ? hi : lo) = mid;
  }
  CHECK(gs::first_crossing(c, 0) == doctest::Approx(hi).epsilon(1e-12));
}

TEST_CASE("first_crossing: random exponential sums against a dense grid with bisection") {
  std::mt19937_64 g(8675309);
  tally tl;
  struct kind {
    int form;
    bool with_d;
    const char* name;
  };
  for (const kind& k : {kind{0, false, "unrelated rates"}, kind{0, true, "unrelated rates + d t exp"},
                        kind{1, false, "commensurate (base)"}, kind{1, true, "commensurate (base) + d t exp"}}) {
    INFO(std::string(k.name));
    const tally before = tl;
    for (int i = 0; i < 700; ++i) {
      spec s = random_spec(g, k.form, k.with_d);
      if (s.f(0.0) >= 0) s.c0 -= s.f(0.0) + log_uniform(g, 1e-3, 1) * s.scale();  // start below zero
      // Half the cases start later, anywhere before the first root (none earlier, as required).
      double t0 = 0;
      if (i % 2) {
        const double first = reference_crossing(s, 0);
        const double u = std::uniform_real_distribution<double>(0, 1)(g);
        t0 = std::isinf(first) ? u * 10 / s.rate_min() : u * first;
        if (s.f(t0) >= 0) t0 = 0;  // the root itself, up to rounding
      }
      compare(s, t0, tl);
    }
    MESSAGE(fmt::format("{}: {} cases, {} with a crossing, {} without", k.name, tl.cases - before.cases,
                        tl.crossings - before.crossings, tl.none - before.none));
  }
  MESSAGE(fmt::format("random sums: {} cases ({} with a crossing, {} without); precise=false checked in {}; "
                      "worst relative error of the crossing {:.3g}",
                      tl.cases, tl.crossings, tl.none, tl.coarse_checked, tl.worst_rel));
  MESSAGE("worst case: ", tl.worst);
  CHECK(tl.crossings > 500);
  CHECK(tl.none > 200);
}

namespace {

// A random sum with a clear interior local maximum M, shifted so that the maximum is
// sign * eps * scale: a graze just below zero (sign -1) or a narrow crossing (sign +1).
struct tangent_case {
  spec s;
  double eps;
  int sign;
  double peak_at, want;  // want: the reference's first crossing from 0
};
struct tangent_set {
  std::vector<tangent_case> cases;
  int sums = 0, drawn = 0;
};

const tangent_set& tangent_cases() {
  static const tangent_set set = [] {
    tangent_set out;
    std::mt19937_64 g(31337);
    for (int form = 0; form < 2; ++form)
      for (int with_d = 0; with_d < 2; ++with_d)
        for (int made = 0; made < 60;) {
          ++out.drawn;
          spec s = random_spec(g, form, with_d);
          if (s.f(0.0) >= 0) s.c0 -= s.f(0.0) + 0.1 * s.scale();
          std::vector<peak> peaks;
          for (const peak& p : interior_peaks(s, 0.0)) {
            // A clear maximum: above the start, f' = 0 there, and f visibly lower on both
            // sides (not a flat stretch where rounding makes bumps).
            const real dt = 0.02L * std::max(p.at, real(1 / s.rate_max()));
            const real level = 1e-10L * s.scale();
            if (p.value - s.f(0.0) > 1e-3 * s.scale() && std::fabs(s.slope(p.at)) <= 1e-9 * s.scale() * s.rate_max() &&
                p.at > dt && p.value - s.f(p.at - dt) > level && p.value - s.f(p.at + dt) > level)
              peaks.push_back(p);
          }
          if (peaks.empty()) continue;
          const peak pk = peaks[g() % peaks.size()];
          ++made;
          ++out.sums;
          for (double eps : {1e-3, 1e-6, 1e-9, 1e-11, 1e-13})
            for (int sign : {-1, 1}) {
              spec t = s;
              t.c0 = s.c0 - pk.value + sign * eps * s.scale();
              out.cases.push_back({t, eps, sign, double(pk.at), reference_crossing(t, 0.0)});
            }
        }
    return out;
  }();
  return set;
}

// A graze just below zero that f leaves downwards and later crosses zero after all.
bool graze_then_later(const tangent_case& c) { return c.sign < 0 && std::isfinite(c.want); }

struct tangent_result {
  bool graze_reported = false;
  double rel = 0;
  bool well_conditioned = true;
};

tangent_result check_tangent(const tangent_case& c) {
  const gs::exp_sum f = c.s.build();
  const double got = gs::first_crossing(f, 0.0, true);
  const double low = gs::first_crossing(f, 0.0, false);
  const double want = c.want;
  INFO(c.s.describe());
  INFO(fmt::format("eps {} sign {}: local maximum at {:.17g}; first_crossing {:.17g} (precise), {:.17g} (not "
                   "precise); reference {:.17g}",
                   c.eps, c.sign, c.peak_at, got, low, want));
  tangent_result r;
  if (c.sign < 0) {
    // The graze is eps * scale below zero: only rounding of f can make it look reached, and
    // only at the smallest eps; then f must be within rounding of zero there.
    if (c.eps < 1e-11 && std::isfinite(got) && !(got >= want * (1 - 1e-9))) {
      r.graze_reported = true;
      CHECK(c.s.f(real(got)) >= -1e-14 * c.s.scale());
      CHECK(std::fabs(c.peak_at - got) <= 1e-3 * c.peak_at);
      return r;
    }
    if (std::isinf(want)) {
      CHECK(std::isinf(got));
      CHECK(std::isinf(low));
      return r;
    }
  }
  REQUIRE(std::isfinite(want));
  CHECK(std::isfinite(got));
  CHECK(low <= want);
  const double flat = 64 * std::numeric_limits<double>::epsilon() * c.s.scale() / std::fabs(c.s.slope(real(want)));
  CHECK(std::fabs(got - want) <= std::max(1e-9 * want, flat));
  r.rel = std::fabs(got - want) / want;
  r.well_conditioned = 1e-9 * want >= flat;
  return r;
}

}  // namespace

TEST_CASE("first_crossing: near-tangent sums") {
  // Just below zero the answer must be "none" (a graze reported as a crossing is allowed only
  // where rounding of f reaches zero); just above zero the narrow crossing must be found. Grazes
  // followed by a later crossing are checked in the next test case.
  const tangent_set& set = tangent_cases();
  int below = 0, above = 0, graze_reported = 0, later = 0;
  double worst_rel = 0, worst_flat_rel = 0;
  for (const tangent_case& c : set.cases) {
    if (graze_then_later(c)) {
      ++later;
      continue;
    }
    ++(c.sign < 0 ? below : above);
    const tangent_result r = check_tangent(c);
    graze_reported += r.graze_reported;
    (r.well_conditioned ? worst_rel : worst_flat_rel) = std::max(r.well_conditioned ? worst_rel : worst_flat_rel, r.rel);
  }
  MESSAGE(fmt::format("near-tangent: {} sums with a clear interior local maximum (of {} drawn); {} grazes just "
                      "below zero with no later crossing ({} reported as a crossing at eps = 1e-13), {} narrow "
                      "crossings just above zero; worst relative error {:.3g} where the root is well conditioned, "
                      "{:.3g} where f is too flat at the root for 1e-9; {} grazes followed by a later crossing "
                      "left to the next test case",
                      set.sums, set.drawn, below, graze_reported, above, worst_rel, worst_flat_rel, later));
}

// Regression: f peaks just below zero, falls, and crosses later. The term bounds alone, taken
// from the end points, stayed above zero near the peak unless the step was tiny, so the search
// crept on until its iteration cap and returned no_spike (in lif_psc_exp a lost spike whenever a
// bump peaked within ~3e-6 mV of threshold). Fixed by the second-order bound from the slopes.
TEST_CASE("first_crossing: a graze just below zero followed by a later crossing") {
  // Hand-made: f = c0 - 10 exp(-0.05 t) + d t exp(-t) peaks 1e-10 below zero near t = 1.056,
  // falls, and rises to c0 ~ 0.5, crossing near t = 59.9146.
  spec hand;
  hand.c0 = 0.49999999985455756;
  hand.terms.push_back({-10, 0.05, 0});
  hand.d = 24.462611229617846;
  hand.rd = 1;
  tangent_case hc{hand, 1e-10, -1, 1.0557, reference_crossing(hand, 0.0)};
  CHECK(hc.want == doctest::Approx(59.9146).epsilon(1e-5));
  // One assertion for the lot, naming the first miss, so a known failure does not flood the log.
  std::map<double, std::pair<int, int>> by_eps;  // eps: (missed, cases)
  std::string first_miss;
  auto run = [&](const tangent_case& c) {
    const gs::exp_sum f = c.s.build();
    const double got = gs::first_crossing(f, 0.0, true), low = gs::first_crossing(f, 0.0, false);
    auto& [missed, cases] = by_eps[c.eps];
    ++cases;
    // The later crossing, to 1e-9; or, at the smallest eps only, the graze itself if rounding
    // puts f within 1e-14 of the scale of zero there.
    const bool graze = c.eps < 1e-11 && std::isfinite(got) && got < c.want && c.s.f(real(got)) >= -1e-14 * c.s.scale();
    const bool ok = graze || (std::fabs(got - c.want) <= 1e-9 * c.want && low <= c.want);
    if (!ok) {
      ++missed;
      if (first_miss.empty())
        first_miss = fmt::format("{}: first_crossing {:.17g} (precise), {:.17g} (not precise); reference {:.17g}",
                                 c.s.describe(), got, low, c.want);
    }
  };
  run(hc);
  // The same through a LIF trajectory (lif_psc_exp: tau_m 20 ms, C_m 250 pF, E_L -70 mV, V_th
  // -50 mV, I_e 300 pA, tau_syn_ex 2 ms, tau_syn_in 10 ms; state V_m -50.832761641591652 mV,
  // I_ex 2000 pA, I_in -1500 pA): V - V_th = 4 + K_ex e^(-t/2) + K_in e^(-t/10) + c_m e^(-t/20),
  // K = I tau_m tau_s / (C_m (tau_s - tau_m)). The excitatory bump peaks 3e-6 mV below threshold
  // at t = 0.81 ms; the bias then carries V over threshold at t = 64.845 ms. Commensurate form.
  spec lif;
  lif.base = 1.0 / 20;
  lif.c0 = -70 + 20.0 / 250 * 300 - (-50);
  const double k_ex = 2000 * 20 * 2 / (250 * (2.0 - 20)), k_in = -1500 * 20 * 10 / (250 * (10.0 - 20));
  lif.terms = {{k_ex, 10 * lif.base, 10},
               {k_in, 2 * lif.base, 2},
               {-50.832761641591652 - (-70 + 20.0 / 250 * 300) - k_ex - k_in, lif.base, 1}};
  tangent_case lc{lif, 3e-6 / lif.scale(), -1, 0.8113, reference_crossing(lif, 0.0)};
  CHECK(lc.want == doctest::Approx(64.8452).epsilon(1e-5));
  run(lc);
  for (const tangent_case& c : tangent_cases().cases)
    if (graze_then_later(c)) run(c);
  std::string summary;
  int missed = 0;
  for (auto [eps, counts] : by_eps) {
    summary += fmt::format(" eps {:g}: {} of {} missed;", eps, counts.first, counts.second);
    missed += counts.first;
  }
  MESSAGE("grazes just below zero (by eps * scale) followed by a later crossing:", summary);
  INFO("first miss: ", first_miss);
  CHECK(missed == 0);
}

// Regression: where f creeps towards zero, a rounding allowance sized from the original
// coefficients (terms long decayed) kept any interval from being proven monotone. The allowance
// now follows the terms' present sizes.
TEST_CASE("first_crossing: slow approach to a crossing") {
  // Rises to its maximum 2.7e-9 above zero near t = 3585 (slack 2.7e-12), crossing at 3536.047.
  spec plateau;
  plateau.c0 = -7.6323620141986333e-08;
  plateau.terms = {{3.3646341052126383, 0.29513029669287372, 0},
                   {0.036062733635009184, 67.087004439306511, 0},
                   {-269.31201270043056, 0.0058954682047297939, 0}};
  plateau.d = 0.00044641183189822762;
  plateau.rd = 0.0043633971960106797;
  // Rises towards c0 = 1.58e-12 (20 times the slack), crossing near t = 865.4.
  spec creep;
  creep.c0 = 1.5830258442733179e-12;
  creep.terms = {{-1.0196813890940997, 0.056618370264475346, 0},
                 {-5.6326566212641875, 0.050859728418794742, 0},
                 {-0.87836503144723066, 2.754268975543317, 0},
                 {-0.020307275319177375, 0.026894359489594608, 0}};
  for (const spec* s : {&plateau, &creep}) {
    const double want = reference_crossing(*s, 0.0);
    const double got = gs::first_crossing(s->build(), 0.0, true);
    const double low = gs::first_crossing(s->build(), 0.0, false);
    INFO(s->describe());
    INFO(fmt::format("first_crossing {:.17g} (precise), {:.17g}; reference {:.17g}", got, low, want));
    REQUIRE(std::isfinite(want));
    CHECK(std::fabs(got - want) <= 1e-6 * want);  // f is very flat here: a looser tolerance
    CHECK(low <= want);
  }
}
