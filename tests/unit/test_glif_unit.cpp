// GLIF pieces checked on their own: the published defaults and per-level parameter tables as
// `gillespike info` lists them, check() on bad parameters, the polynomial-exponential root
// search (poly_exp_sum) against brute force in long double, the closed form across a refractory
// period and across split steps, the accuracy around the same-rate merge, and input_effect()
// and the no-spike bound as true upper bounds.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "models/exp_sum.hpp"
#include "models/glif.hpp"
#include "plugins/registry.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// Sets a parameter by its table name (the way a run file does).
template <class Model>
void set(typename Model::params& p, const std::string& name, double x) {
  for (const auto& f : Model::param_table)
    if (f.name == name) {
      p.*f.member = x;
      return;
    }
  FAIL("no parameter " << name);
}

}  // namespace

TEST_CASE("glif: defaults are the Allen fits of cell 490626718 per level, and each level lists only its parameters") {
  // As typed from NEST's glif_psc example (one parameter set per level), units mV, pF, nS, ms, 1/ms, pA.
  const std::map<std::string, double> common{{"C_m", 58.72}, {"E_L", -78.85}, {"t_ref", 3.75},
                                             {"tau_syn_ex", 2.0}, {"tau_syn_in", 2.0}, {"I_e", 0.0}};
  const std::map<std::string, double> r{{"th_spike_add", 0.37}, {"th_spike_decay", 0.009},
                                        {"voltage_reset_fraction", 0.20}, {"voltage_reset_add", 18.56}};
  const std::map<std::string, double> asc{{"asc_init_1", 0.0},  {"asc_init_2", 0.0},     {"asc_decay_1", 0.003},
                                          {"asc_decay_2", 0.1}, {"asc_amp_1", -9.18},   {"asc_amp_2", -198.94},
                                          {"asc_r_1", 1.0},     {"asc_r_2", 1.0}};
  const std::map<std::string, double> a{{"th_voltage_index", 0.005}, {"th_voltage_decay", 0.09}};
  const double g[] = {9.12, 9.12, 9.43, 9.43, 9.43}, V_th[] = {-37.88, -37.14, -50.19, -50.19, -51.68};
  const registry& reg = default_registry();
  for (int level = 1; level <= 5; ++level) {
    CAPTURE(level);
    std::map<std::string, double> want = common;
    want["g"] = g[level - 1];
    want["V_th"] = V_th[level - 1];
    if (level == 1 || level == 3) want["V_reset"] = -78.85;
    if (level == 2 || level >= 4) want.insert(r.begin(), r.end());
    if (level >= 3) want.insert(asc.begin(), asc.end());
    if (level == 5) want.insert(a.begin(), a.end());
    const model_info* m = reg.find_model(fmt::format("glif{}_psc_exp", level));
    REQUIRE(m != nullptr);
    CHECK(m->origin == "built-in");
    CHECK(m->doc.find("490626718") != std::string::npos);
    std::map<std::string, double> got;
    for (const auto& p : m->params) got[p.name] = p.default_value;
    CHECK(got == want);
    std::set<std::string> state;
    for (const auto& s : m->state) state.insert(s.name);
    std::set<std::string> want_state{"V_m", "I_ex", "I_in", "I_dc", "refractory"};
    if (level >= 3) want_state.insert({"asc_1", "asc_2"});
    if (level == 2 || level >= 4) want_state.insert("theta_s");
    if (level == 5) want_state.insert("theta_v");
    CHECK(state == want_state);
    for (const auto& s : m->state)
      if (s.name == "V_m") CHECK(s.default_value == -78.85);
    CHECK(m->receptors == std::vector<std::string>{"excitatory", "inhibitory"});
  }
}

TEST_CASE("glif: check() rejects bad parameters") {
  struct bad {
    const char* name;
    double value;
    const char* says;
  };
  auto reject = [](auto model, const std::vector<bad>& cases) {
    using M = decltype(model);
    CHECK(M::check(typename M::params{}).empty());
    for (const bad& b : cases) {
      typename M::params p;
      set<M>(p, b.name, b.value);
      CAPTURE(M::name);
      CAPTURE(b.name);
      CAPTURE(b.value);
      const std::string err = M::check(p);
      CHECK(err.find(b.says) != std::string::npos);
    }
  };
  const std::vector<bad> all{{"C_m", 0, "C_m must be > 0"},         {"C_m", -1, "C_m must be > 0"},
                             {"g", 0, "g must be > 0"},             {"t_ref", 0, "t_ref must be > 0"},
                             {"tau_syn_ex", 0, "tau_syn_ex"},       {"tau_syn_in", -2, "tau_syn_in"},
                             {"E_L", inf, "E_L must be finite"},  {"g", inf, "g must be finite"}};
  auto with = [&](std::vector<bad> extra) {
    extra.insert(extra.end(), all.begin(), all.end());
    return extra;
  };
  const bad low_reset{"V_reset", -30, "V_reset must be below V_th"};
  const std::vector<bad> r{{"th_spike_decay", 0, "th_spike_decay must be > 0"},
                           {"voltage_reset_fraction", 1.5, "voltage_reset_fraction must be within [0, 1]"},
                           {"voltage_reset_fraction", -0.1, "voltage_reset_fraction"}};
  const std::vector<bad> asc{{"asc_decay_1", 0, "asc_decay_1 and asc_decay_2 must be > 0"},
                             {"asc_decay_2", -0.1, "asc_decay_2"},
                             {"asc_r_1", 1.1, "asc_r_1 and asc_r_2 must be within [0, 1]"},
                             {"asc_r_2", -0.5, "asc_r_2"}};
  auto join = [](std::vector<bad> x, const std::vector<bad>& y) {
    x.insert(x.end(), y.begin(), y.end());
    return x;
  };
  reject(glif1_psc_exp{}, with({low_reset}));
  reject(glif2_psc_exp{}, with(r));
  reject(glif3_psc_exp{}, with(join({low_reset}, asc)));
  reject(glif4_psc_exp{}, with(join(r, asc)));
  reject(glif5_psc_exp{}, with(join(join(r, asc), {{"th_voltage_decay", 0, "th_voltage_decay must be > 0"}})));

  // Through a run file: the error names the JSON path; a parameter of another level is unknown.
  auto run = [](const std::string& model, const std::string& params) {
    return fmt::format(R"({{"run": {{"duration": 10.0}},
      "populations": {{"n": {{"size": 1, "model": "{}", "params": {{{}}}}}}}}})",
                       model, params);
  };
  try {
    test::simulate_json(run("glif3_psc_exp", R"("g": -1.0)"));
    FAIL("accepted g = -1");
  } catch (const std::exception& e) {
    const std::string what = e.what();
    CHECK(what.find("populations.n.params") != std::string::npos);
    CHECK(what.find("g must be > 0") != std::string::npos);
  }
  CHECK_THROWS(test::simulate_json(run("glif1_psc_exp", R"("th_spike_add": 1.0)")));
  CHECK_THROWS(test::simulate_json(run("glif4_psc_exp", R"("th_voltage_index": 0.01)")));
  CHECK_THROWS(test::simulate_json(run("glif2_psc_exp", R"("V_reset": -70.0)")));
  CHECK_NOTHROW(test::simulate_json(run("glif5_psc_exp", R"("th_voltage_index": -0.01, "asc_r_2": 0.5)")));
}

namespace {

using real = long double;

// A random poly_exp_sum and its long double twin.
struct poly_spec {
  double c0 = 0;
  std::vector<double> r;
  std::vector<std::array<double, 3>> c;

  template <class T>
  T f(T t) const {
    T y = c0;
    for (size_t k = 0; k < r.size(); ++k) y += (T(c[k][0]) + t * (T(c[k][1]) + t * T(c[k][2]))) * std::exp(-T(r[k]) * t);
    return y;
  }
  template <class T>
  T slope(T t) const {
    T y = 0;
    for (size_t k = 0; k < r.size(); ++k) {
      const T poly = T(c[k][0]) + t * (T(c[k][1]) + t * T(c[k][2]));
      y += (T(c[k][1]) + 2 * t * T(c[k][2]) - T(r[k]) * poly) * std::exp(-T(r[k]) * t);
    }
    return y;
  }
  double tail(double t) const {
    double s = 0;
    for (size_t k = 0; k < r.size(); ++k)
      for (int p = 0; p < 3; ++p) s += std::fabs(c[k][p]) * std::pow(t, p) * std::exp(-r[k] * t);
    return s;
  }
  double scale() const {
    double s = std::fabs(c0);
    for (size_t k = 0; k < r.size(); ++k)
      for (int p = 0; p < 3; ++p) s += std::fabs(c[k][p]) * std::pow(p / r[k], p) * std::exp(-double(p));
    return s;
  }
  poly_exp_sum build() const {
    poly_exp_sum s;
    s.c0 = c0;
    s.n = static_cast<int>(r.size());
    for (int k = 0; k < s.n; ++k) {
      s.r[k] = r[k];
      s.c[k] = c[k];
    }
    s.finish();
    return s;
  }
};

real bisect(const poly_spec& s, real lo, real hi, bool on_slope) {
  for (int i = 0; i < 200; ++i) {
    const real mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    if (on_slope) (s.slope(mid) > 0 ? lo : hi) = mid;
    else (s.f(mid) >= 0 ? hi : lo) = mid;
  }
  return on_slope ? lo + (hi - lo) / 2 : hi;
}

// First crossing by a dense grid: a sign change of f, or a maximum (sign change of f') that
// reaches zero. Returns -1 when the only maxima come within `ambiguous` of zero (no verdict).
double brute_crossing(const poly_spec& s, double ambiguous) {
  double rmin = inf, rmax = 0;
  for (double x : s.r) rmin = std::min(rmin, x), rmax = std::max(rmax, x);
  double T = 4 / rmin;
  while (s.tail(T) >= 0.5 * std::fabs(s.c0)) T *= 2;
  double t_prev = 0;
  real f_prev = s.f(real(0)), sl_prev = s.slope(real(0));
  bool near = false;
  for (double t = 1e-3 / rmax;; t += std::max(1e-3 / rmax, 1e-3 * t)) {
    const real ft = s.f(real(t)), st = s.slope(real(t));
    if (ft >= 0) return double(bisect(s, t_prev, t, false));
    if (sl_prev > 0 && st <= 0) {
      const real p = bisect(s, t_prev, t, true);
      const real fp = s.f(p);
      if (fp >= 0) return double(bisect(s, t_prev, p, false));
      if (fp > -ambiguous) near = true;
    }
    if (t > T) break;
    t_prev = t, f_prev = ft, sl_prev = st;
  }
  return near ? -1 : inf;
}

}  // namespace

TEST_CASE("poly_exp_sum: first_crossing with t and t^2 pieces against a dense grid in long double") {
  std::mt19937_64 g(4242);
  auto log_uniform = [&](double lo, double hi) {
    return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(g));
  };
  int crossings = 0, none = 0, skipped = 0;
  double worst = 0;
  for (int i = 0; i < 1500; ++i) {
    poly_spec s;
    const int n = std::uniform_int_distribution<int>(1, 6)(g);
    for (int k = 0; k < n; ++k) {
      s.r.push_back(log_uniform(0.02, 5));
      std::array<double, 3> c{};
      for (int p = 0; p < 3; ++p)
        if (p == 0 || g() % 2) c[p] = (g() % 2 ? 1 : -1) * log_uniform(0.01, 10) * std::pow(s.r.back(), p);
      s.c.push_back(c);
    }
    s.c0 = (g() % 3 ? -1 : 1) * log_uniform(0.01, 10);
    if (s.f(0.0) >= 0) s.c0 -= s.f(0.0) + log_uniform(1e-3, 1) * s.scale();
    const double want = brute_crossing(s, 1e-9 * s.scale());
    if (want < 0) {
      ++skipped;
      continue;
    }
    const poly_exp_sum f = s.build();
    const double got = first_crossing(f, 0.0), low = first_crossing(f, 0.0, false);
    INFO(fmt::format("case {}: c0 {:.17g}, {} terms; got {:.17g}, want {:.17g}", i, s.c0, n, got, want));
    if (std::isinf(want)) {
      ++none;
      CHECK(std::isinf(got));
      CHECK(std::isinf(low));
      continue;
    }
    ++crossings;
    REQUIRE(std::isfinite(got));
    const double flat = 64 * 2.2e-16 * s.scale() / std::fabs(double(s.slope(real(want))));
    CHECK(std::fabs(got - want) <= std::max(1e-9 * want, flat));
    CHECK(low <= want);
    worst = std::max(worst, std::fabs(got - want) / want);
  }
  MESSAGE(fmt::format("{} crossings, {} without, {} skipped (a maximum within 1e-9 of zero); worst relative {:.3g}",
                      crossings, none, skipped, worst));
  CHECK(crossings > 400);
  CHECK(none > 200);
}

namespace {

template <int L>
typename glif_psc_exp<L>::params prepared(std::initializer_list<std::pair<const char*, double>> changes = {}) {
  using M = glif_psc_exp<L>;
  typename M::params p;
  for (auto [k, x] : changes) set<M>(p, k, x);
  REQUIRE(M::check(p).empty());
  M::prepare(p);
  return p;
}

glif_state some_state(std::mt19937_64& g, int level) {
  std::uniform_real_distribution<double> u(-1, 1);
  glif_state s;
  s.V_m = -60 + 15 * u(g);
  s.I_ex = 200 * (1 + u(g));
  s.I_in = -200 * (1 + u(g));
  s.I_dc = 100 * u(g);
  if (level >= 3) s.asc_1 = 20 * u(g), s.asc_2 = -150 * (1 + u(g));
  if (level == 2 || level >= 4) s.theta_s = 2 * (1 + u(g));
  if (level == 5) s.theta_v = 3 * u(g);
  return s;
}

template <int L>
double max_diff(const glif_state& a, const glif_state& b) {
  double d = 0;
  for (const auto& f : glif_psc_exp<L>::state_table) d = std::max(d, std::fabs(a.*f.member - b.*f.member));
  return d;
}

template <int L>
void split_steps(std::initializer_list<std::pair<const char*, double>> changes, const char* what) {
  using M = glif_psc_exp<L>;
  const auto p = prepared<L>(changes);
  std::mt19937_64 g(99);
  double worst = 0;
  for (int i = 0; i < 200; ++i) {
    glif_state s = some_state(g, L), one = s, two = s;
    if (i % 3 == 0) s.refractory = one.refractory = two.refractory = 2.5;
    const double h1 = 7.3 * (1 + i % 5), h2 = 4.1;
    M::advance(one, p, h1 + h2);
    M::advance(two, p, h1);
    M::advance(two, p, h2);
    worst = std::max(worst, max_diff<L>(one, two));
  }
  MESSAGE(fmt::format("glif{} {}: advance(h1 + h2) vs advance(h1), advance(h2): largest difference {:.3g}", L, what,
                      worst));
  CHECK(worst <= 1e-9);
}

}  // namespace

TEST_CASE("glif: the closed form composes (one step = two steps), also with coinciding rates") {
  split_steps<1>({}, "published");
  split_steps<3>({}, "published");
  split_steps<5>({}, "published");
  split_steps<5>({{"C_m", 60.0}, {"g", 10.0}, {"tau_syn_ex", 6.0}, {"th_voltage_decay", 10.0 / 60.0}}, "t^2 terms");
  split_steps<5>({{"asc_decay_2", 0.5}, {"th_voltage_decay", 0.5}, {"th_spike_decay", 1.0 / 3}, {"tau_syn_in", 3.0}},
                 "b_v = 1 / tau_syn_ex = asc_decay_2");
}

TEST_CASE("glif: during t_ref only the synaptic currents move") {
  using M = glif5_psc_exp;
  const auto p = prepared<5>();
  glif_state s;
  s.V_m = -70, s.I_ex = 100, s.I_in = -50, s.asc_1 = -9, s.asc_2 = -150, s.theta_s = 1, s.theta_v = 2;
  s.refractory = 3;
  glif_state t = s;
  M::advance(t, p, 2);
  CHECK(t.V_m == s.V_m);
  CHECK(t.asc_1 == s.asc_1);
  CHECK(t.asc_2 == s.asc_2);
  CHECK(t.theta_s == s.theta_s);
  CHECK(t.theta_v == s.theta_v);
  CHECK(t.I_ex == doctest::Approx(100 * std::exp(-1.0)).epsilon(1e-14));
  CHECK(t.I_in == doctest::Approx(-50 * std::exp(-1.0)).epsilon(1e-14));
  CHECK(t.refractory == doctest::Approx(1).epsilon(1e-14));
  // The reset: V from the spike's V, theta_s and the ASCs decayed over t_ref plus their increments.
  glif_state r;
  r.V_m = -40, r.theta_s = 2, r.asc_1 = -10, r.asc_2 = -100, r.theta_v = 1.5;
  M::reset(r, p);
  CHECK(r.V_m == doctest::Approx(-78.85 + 0.2 * (-40 + 78.85) + 18.56).epsilon(1e-14));
  CHECK(r.theta_s == doctest::Approx(2 * std::exp(-0.009 * 3.75) + 0.37).epsilon(1e-14));
  CHECK(r.asc_1 == doctest::Approx(-10 * std::exp(-0.003 * 3.75) - 9.18).epsilon(1e-14));
  CHECK(r.asc_2 == doctest::Approx(-100 * std::exp(-0.1 * 3.75) - 198.94).epsilon(1e-14));
  CHECK(r.theta_v == 1.5);
  CHECK(r.refractory == 3.75);
  glif_state q;
  q.V_m = -30;
  glif1_psc_exp::reset(q, prepared<1>());
  CHECK(q.V_m == -78.85);
}

TEST_CASE("glif: accuracy around the same-rate merge (tau_syn_ex near C_m / g)") {
  // V under a synaptic current alone, against the closed form evaluated stably in long double:
  // U(t) = I0 exp(-r_m t) t phi((r_m - r_s) t) / C, phi(x) = expm1(x) / x. Level 1 takes the
  // direct propagator, level 5 the general courses (both merge rates the same way).
  const double C = 60, g = 10, I0 = 500;
  auto sweep = [&](auto model) {
    using M = decltype(model);
    double worst = 0;
    for (double rel : {0.0, 1e-14, 1e-12, 1e-10, 3e-9, 1e-8, 1.99e-8, 2.01e-8, -2.01e-8, 3e-8, 1e-7, 1e-6, 1e-5,
                       1e-3}) {
      const double tau_s = (C / g) * (1 + rel);
      typename M::params p;
      for (auto [k, x] : {std::pair{"C_m", C}, {"g", g}, {"tau_syn_ex", tau_s}, {"E_L", 0.0}, {"V_th", 100.0}})
        set<M>(p, k, x);
      REQUIRE(M::check(p).empty());
      M::prepare(p);
      for (double t : {0.5, 3.0, 6.0, 20.0}) {
        glif_state s = M::initial(p);
        s.V_m = 0;
        s.I_ex = I0;
        M::advance(s, p, t);
        const real rm = real(g) / C, rs = 1 / real(tau_s), x = (rm - rs) * t;
        const real phi = x == 0 ? 1 : std::expm1(x) / x;
        const real want = real(I0) * std::exp(-rm * t) * t * phi / C;
        const double err = std::fabs(double(s.V_m - want));
        CAPTURE(rel);
        CAPTURE(t);
        CHECK(err <= 5e-7);
        worst = std::max(worst, err);
      }
    }
    MESSAGE(fmt::format("{}: largest V error around the merge {:.3g} mV (peak PSP about 31 mV)", M::name, worst));
  };
  sweep(glif1_psc_exp{});
  sweep(glif5_psc_exp{});
}

TEST_CASE("glif: input_effect bounds the rise of V - threshold; the no-spike bound holds") {
  std::mt19937_64 g(2024);
  auto check_level = [&](auto model, std::initializer_list<std::pair<const char*, double>> changes) {
    using M = decltype(model);
    typename M::params p;
    for (auto [k, x] : changes) set<M>(p, k, x);
    REQUIRE(M::check(p).empty());
    M::prepare(p);
    const int level = M::name[4] - '0';
    double tightest = 0;
    for (int i = 0; i < 60; ++i) {
      const glif_state s = some_state(g, level);
      const poly_exp_sum base = M::trajectory(s, p);
      for (int receptor : {0, 1, dc_receptor})
        for (double w : {150.0, -150.0}) {
          glif_state si = s;
          M::receive(si, p, w, receptor);
          const poly_exp_sum with = M::trajectory(si, p);
          double rise = -inf;
          for (double t = 0; t < 2000; t += t < 50 ? 0.01 : 1) rise = std::max(rise, with.at(t).f - base.at(t).f);
          const double bound = M::input_effect(p, w, receptor);
          CAPTURE(receptor);
          CAPTURE(w);
          CHECK(rise <= bound + 1e-9);
          if (bound > 0) tightest = std::max(tightest, rise / bound);
        }
      // No crossing promised: the trajectory stays below threshold by more than the margin.
      const spike_estimate e = M::estimate(s, p);
      if (!e.exact && std::isinf(e.dt)) {
        double top = -inf;
        for (double t = 0; t < 2000; t += t < 50 ? 0.01 : 1) top = std::max(top, base.at(t).f);
        CHECK(top + e.margin < 0);
      }
    }
    MESSAGE(fmt::format("{}: largest rise / input_effect {:.3f}", M::name, tightest));
  };
  check_level(glif1_psc_exp{}, {});
  check_level(glif4_psc_exp{}, {});
  check_level(glif5_psc_exp{}, {});
  check_level(glif5_psc_exp{}, {{"th_voltage_index", 0.05}, {"th_voltage_decay", 0.03}});
  check_level(glif5_psc_exp{}, {{"th_voltage_index", -0.02}});
  check_level(glif5_psc_exp{}, {{"C_m", 60.0}, {"g", 10.0}, {"tau_syn_ex", 6.0}, {"th_voltage_decay", 10.0 / 60.0}});
}
