// Stochastic models (pp_lif_delta, hawkes_linear, hawkes_nonlinear) against closed forms and
// quadrature written here, and Gillespie's direct method against the next-reaction queue:
// stationary Hawkes rates (I - W)^-1 mu, escape-noise ISI distributions, agreement of the two
// methods in distribution, and the models' hazard bounds checked on dense grids.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#include "engine/population.hpp"
#include "models/hawkes.hpp"
#include "models/pp_lif_delta.hpp"
#include "tests/support/sim.hpp"
#include "tests/support/stats.hpp"

using namespace gs;

namespace {

// Every thinning candidate of every population had hazard <= the bound it was drawn with.
void require_bounds_held(const test::sim_run& r) {
  for (const auto& p : r.net.populations) {
    const auto c = p->thinning_stats();
    INFO(fmt::format("{}: {} candidates, {} spikes, largest hazard / bound {:.3f}", p->name, c.candidates, c.spikes,
                     c.worst));
    REQUIRE(c.violations == 0);
    REQUIRE(c.worst <= 1.0);
  }
}

std::vector<double> isis(const run_result& res, uint32_t first, uint32_t n, double t_from = 0) {
  std::vector<std::vector<double>> per(n);
  for (size_t k = 0; k < res.spike_times.size(); ++k) {
    const uint32_t g = res.spike_gids[k];
    if (g >= first && g < first + n && res.spike_times[k] >= t_from) per[g - first].push_back(res.spike_times[k]);
  }
  std::vector<double> out;
  for (const auto& t : per)
    for (size_t k = 1; k < t.size(); ++k) out.push_back(t[k] - t[k - 1]);
  return out;
}

// Spikes of the gids [first, first + n) in bins of `bin` ms from t0 to t1.
std::vector<double> counts(const run_result& res, uint32_t first, uint32_t n, double t0, double t1, double bin) {
  std::vector<double> c(static_cast<size_t>((t1 - t0) / bin), 0.0);
  for (size_t k = 0; k < res.spike_times.size(); ++k) {
    const uint32_t g = res.spike_gids[k];
    const double t = res.spike_times[k];
    if (g < first || g >= first + n || t < t0) continue;
    const auto b = static_cast<size_t>((t - t0) / bin);
    if (b < c.size()) c[b] += 1;
  }
  return c;
}

}  // namespace

TEST_CASE("linear Hawkes network: stationary rates are (I - W)^-1 mu, with both methods") {
  // Four populations of 25, all-to-all: a source spike in B adds W[A][B] / 25 expected spikes
  // to each neuron of A, so each A neuron's summed weight from B is W[A][B]. Spectral radius 0.49.
  constexpr int P = 4;
  constexpr uint32_t N = 25;
  const double s = 1.15;
  const std::array<std::array<double, P>, P> W{{{0.15 * s, 0.20 * s, 0.00 * s, 0.10 * s},
                                                {0.05 * s, 0.10 * s, 0.25 * s, 0.00 * s},
                                                {0.10 * s, 0.00 * s, 0.20 * s, 0.15 * s},
                                                {0.20 * s, 0.05 * s, 0.05 * s, 0.10 * s}}};
  const std::array<double, P> mu{10, 5, 8, 3}, tau{10, 5, 20, 8};
  // r = mu + W r by Gauss-Jordan on (I - W).
  std::array<std::array<double, P + 1>, P> a{};
  for (int i = 0; i < P; ++i) {
    for (int j = 0; j < P; ++j) a[i][j] = (i == j) - W[i][j];
    a[i][P] = mu[i];
  }
  for (int c = 0; c < P; ++c)
    for (int i = 0; i < P; ++i)
      if (i != c) {
        const double f = a[i][c] / a[c][c];
        for (int j = 0; j <= P; ++j) a[i][j] -= f * a[c][j];
      }
  std::array<double, P> expected{};
  for (int i = 0; i < P; ++i) expected[i] = a[i][P] / a[i][i];

  std::string pops, projs;
  for (int i = 0; i < P; ++i)
    pops += fmt::format(R"({}"p{}": {{"size": {}, "model": "hawkes_linear", "params": {{"mu": {}, "tau": {}}}}})",
                        i ? ", " : "", i, N, mu[i], tau[i]);
  for (int tgt = 0; tgt < P; ++tgt)
    for (int src = 0; src < P; ++src) {
      if (W[tgt][src] == 0) continue;
      // One projection with per-synapse delays, so the delay heap feeds both methods too.
      const std::string delay = (tgt + src) % 3 == 0 ? R"({"uniform": [0.5, 3.0]})" : "1.0";
      projs += fmt::format(R"({}{{"source": "p{}", "target": "p{}", "rule": {{"all_to_all": {{}}}}, "weight": {},
                               "delay": {}, "receptor": "excitatory"}})",
                           projs.empty() ? "" : ", ", src, tgt, W[tgt][src] / N, delay);
    }
  // Batch means: 10 batches of 1 s after a 0.5 s start per run (the rates settle within
  // tau / (1 - 0.49) ~ 40 ms; correlations last tens of ms, far below a batch), 4 seeds.
  const double warm = 500, batch = 1000;
  const int n_batch = 10;
  const int seeds = 4;
  for (const std::string method : {"next_reaction", "direct"}) {
    std::array<std::vector<double>, P> rates;
    for (int seed = 1; seed <= seeds; ++seed) {
      const auto r = test::simulate_json(fmt::format(R"({{"run": {{"duration": {}, "seed": {}, "method": "{}"}},
        "populations": {{{}}}, "projections": [{}], "recorders": [{{"spikes": {{}}}}]}})",
                                                     warm + n_batch * batch, seed + 10, method, pops, projs));
      require_bounds_held(r);
      for (int i = 0; i < P; ++i) {
        const auto c = counts(r.res, i * N, N, warm, warm + n_batch * batch, batch);
        for (double x : c) rates[i].push_back(x / N / (batch * 1e-3));
      }
    }
    for (int i = 0; i < P; ++i) {
      const auto& x = rates[i];
      const double n = static_cast<double>(x.size());
      const double m = std::accumulate(x.begin(), x.end(), 0.0) / n;
      double var = 0;
      for (double v : x) var += (v - m) * (v - m);
      const double se = std::sqrt(var / (n - 1) / n);
      // The batches are overdispersed against Poisson: the variance across them, not the count.
      const double poisson_se = std::sqrt(m / (N * batch * 1e-3) / n);
      MESSAGE(fmt::format("{} p{}: rate {:.3f} Hz, analytic {:.3f} Hz, SE {:.3f} (Poisson would say {:.3f}), "
                          "z = {:+.2f}",
                          method, i, m, expected[i], se, poisson_se, (m - expected[i]) / se));
      CHECK(std::abs(m - expected[i]) < 3 * se);
    }
  }
}

TEST_CASE("escape-noise LIF: ISIs follow the hazard along the free relaxation after reset") {
  struct variant {
    double I_e, rho_0, delta_u, rho_lin, t_ref;
  };
  // V_inf = E_L + R I_e = -70 + 0.04 I_e: below, near and above the soft threshold -55.
  for (const auto& v : {variant{325, 10, 2, 0, 2}, variant{400, 20, 3, 0, 5}, variant{450, 5, 1, 4, 1}}) {
    constexpr uint32_t n = 100;
    for (const std::string method : {"next_reaction", "direct"}) {
      const auto r = test::simulate_json(fmt::format(R"({{"run": {{"duration": 60000, "seed": 5, "method": "{}"}},
        "populations": {{"n": {{"size": {}, "model": "pp_lif_delta",
          "params": {{"I_e": {}, "rho_0": {}, "delta_u": {}, "rho_lin": {}, "t_ref": {}, "V_reset": -65}}}}}},
        "recorders": [{{"spikes": {{}}}}]}})",
                                                     method, n, v.I_e, v.rho_0, v.delta_u, v.rho_lin, v.t_ref));
      require_bounds_held(r);
      const auto x = isis(r.res, 0, n);
      REQUIRE(x.size() > 5000);

      // Quadrature of the hazard along V(t) = V_inf + (V_reset - V_inf) exp(-t / tau_m), written
      // here from the model's definition: Simpson, S = exp(-integral).
      const double tau = 10, v_inf = -70 + 10.0 / 250 * v.I_e, v_reset = -65, v_th = -55;
      auto rho = [&](double t) {
        if (t < v.t_ref) return 0.0;
        const double u = v_inf + (v_reset - v_inf) * std::exp(-t / tau) - v_th;
        return 1e-3 * (v.rho_0 * std::exp(u / v.delta_u) + v.rho_lin * std::max(u, 0.0));
      };
      // Steps of 1 ms / 512 while V still moves, 1 ms / 16 once it has settled (after 10 tau_m).
      std::vector<double> ts{0.0}, cum{0.0};
      while (cum.back() < 25) {
        const double t = ts.back(), h = t < 10 * tau ? 1.0 / 512 : 1.0 / 16;
        // The hazard jumps at t_ref; steps are aligned to it for the t_ref values used here.
        cum.push_back(cum.back() + h / 6 * (rho(t) + 4 * rho(t + h / 2) + rho(t + h)));
        ts.push_back(t + h);
        REQUIRE(ts.size() < 10'000'000);
      }
      auto cdf = [&](double t) {
        const auto k = static_cast<size_t>(std::upper_bound(ts.begin(), ts.end(), t) - ts.begin());
        if (k >= ts.size()) return 1.0;
        const double c = cum[k - 1] + (t - ts[k - 1]) / (ts[k] - ts[k - 1]) * (cum[k] - cum[k - 1]);
        return 1 - std::exp(-c);
      };
      const double mean = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
      const auto ks = test::ks_test(x, cdf);
      MESSAGE(fmt::format("{} I_e {} rho_0 {} delta_u {} rho_lin {} t_ref {}: {} ISIs, mean {:.2f} ms, KS D = {:.4f}, "
                          "p = {:.3f}",
                          method, v.I_e, v.rho_0, v.delta_u, v.rho_lin, v.t_ref, x.size(), mean, ks.d, ks.p));
      CHECK(ks.p > 0.01);
      for (double d : x) REQUIRE(d >= v.t_ref);
    }
  }
}

TEST_CASE("direct and next-reaction methods agree in distribution on a recurrent network") {
  // E and I escape-noise LIF with Poisson drive, and a rectified nonlinear Hawkes population
  // driven by E, inhibited by I (dead times) and feeding back onto E. All-to-all, so both
  // methods see the same connectivity while their seeds differ.
  const std::string net = R"(
    "populations": {
      "e": {"size": 80, "model": "pp_lif_delta", "params": {"I_e": 300, "t_ref": 2}},
      "i": {"size": 20, "model": "pp_lif_delta", "params": {"I_e": 320, "t_ref": 1}},
      "h": {"size": 30, "model": "hawkes_nonlinear",
            "params": {"link": 1, "lambda_0": 10, "mu": 1.0, "tau_ex": 5, "tau_in": 15}}},
    "projections": [
      {"source": "e", "target": ["e", "i"], "rule": {"all_to_all": {"allow_autapses": false}}, "weight": 0.08, "delay": 1.5},
      {"source": "i", "target": ["e", "i"], "rule": {"all_to_all": {}}, "weight": -0.6, "delay": 1.0},
      {"source": "e", "target": "h", "rule": {"all_to_all": {}}, "weight": 0.05, "delay": 2.0},
      {"source": "i", "target": "h", "rule": {"all_to_all": {}}, "weight": -0.4, "delay": 1.0},
      {"source": "h", "target": "e", "rule": {"all_to_all": {}}, "weight": 0.1, "delay": {"uniform": [1.0, 4.0]}}],
    "stimuli": [{"poisson": {"target": ["e", "i"], "rate": 200, "weight": 0.5}}],
    "recorders": [{"spikes": {}}]})";
  const double T = 20000, warm = 200, bin = 50;
  const std::array<std::string, 3> names{"e", "i", "h"};
  const std::array<uint32_t, 3> first{0, 80, 100}, size{80, 20, 30};
  std::array<std::array<std::vector<double>, 3>, 2> isi, cnt;
  std::array<std::array<double, 3>, 2> spikes{};
  for (int m = 0; m < 2; ++m) {
    for (int seed : {1, 2, 3, 4}) {
      const auto r = test::simulate_json(fmt::format(R"({{"run": {{"duration": {}, "seed": {}, "method": "{}"}}, {})",
                                                     T, seed + 100 * m, m ? "direct" : "next_reaction", net));
      require_bounds_held(r);
      for (int p = 0; p < 3; ++p) {
        const auto x = isis(r.res, first[p], size[p], warm);
        isi[m][p].insert(isi[m][p].end(), x.begin(), x.end());
        const auto c = counts(r.res, first[p], size[p], warm, T, bin);
        cnt[m][p].insert(cnt[m][p].end(), c.begin(), c.end());
        spikes[m][p] += std::accumulate(c.begin(), c.end(), 0.0);
      }
    }
  }
  for (int p = 0; p < 3; ++p) {
    const auto ks_isi = test::ks_test_2(isi[0][p], isi[1][p]);
    const auto ks_cnt = test::ks_test_2(cnt[0][p], cnt[1][p]);
    const double rate_nr = spikes[0][p] / size[p] / (4 * (T - warm) * 1e-3),
                 rate_d = spikes[1][p] / size[p] / (4 * (T - warm) * 1e-3);
    MESSAGE(fmt::format("{}: rate {:.2f} Hz (next reaction) vs {:.2f} Hz (direct); ISIs {} vs {}, KS p = {:.3f}; "
                        "counts per {} ms bin KS D = {:.4f}, p = {:.3f}",
                        names[p], rate_nr, rate_d, isi[0][p].size(), isi[1][p].size(), ks_isi.p, bin, ks_cnt.d,
                        ks_cnt.p));
    CHECK(ks_isi.p > 0.01);
    CHECK(ks_cnt.p > 0.01);
  }
}

namespace {

// Drives a model from a random state through random inputs whose positive effects add up to
// at most the bound's margin (inhibition and DC included), and checks on a dense grid that
// the hazard stays at most the bound's rate, and at 0 during its dead time.
template <class Model>
void check_bound(const typename Model::params& p0, const std::function<typename Model::state(test::lcg&)>& random_state,
                 const std::vector<std::pair<int, double>>& inputs, double horizon) {
  typename Model::params p = p0;
  REQUIRE(Model::check(p).empty());
  Model::prepare(p);
  test::lcg u{12345};
  int dead_seen = 0;
  for (int trial = 0; trial < 400; ++trial) {
    auto s = random_state(u);
    const rate_bound b = Model::hazard_bound(s, p);
    double room = b.margin, t = 0;
    dead_seen += b.dead > 0;
    // Random input times on [0, horizon); each input a random choice of the given kinds.
    std::vector<double> times;
    for (int k = 0; k < 20; ++k) times.push_back(u() * horizon);
    std::sort(times.begin(), times.end());
    for (size_t k = 0; k <= times.size(); ++k) {
      const double next = k < times.size() ? times[k] : horizon;
      for (; t < next; t += horizon / 4000) {
        auto c = s;
        Model::advance(c, p, t - (k ? times[k - 1] : 0.0));
        const double hz = Model::hazard(c, p);
        REQUIRE(hz <= b.rate);
        if (t < b.dead) REQUIRE(hz == 0);
      }
      if (k == times.size()) break;
      Model::advance(s, p, times[k] - (k ? times[k - 1] : 0.0));
      const auto [receptor, w_max] = inputs[static_cast<size_t>(u() * inputs.size())];
      double w = w_max * u();
      const double e = Model::input_effect(p, w, receptor);
      if (e > room) w *= room / e;  // what is left of the margin, spent in one input
      room = std::max(0.0, room - Model::input_effect(p, w, receptor));
      Model::receive(s, p, w, receptor);
    }
  }
  MESSAGE(fmt::format("{}: 400 random courses, {} bounds with a dead time", Model::name, dead_seen));
}

}  // namespace

TEST_CASE("hazard bounds hold for every later time while inputs stay within the margin") {
  {
    pp_lif_delta::params p;
    p.I_e = 400;
    p.rho_lin = 3;
    check_bound<pp_lif_delta>(
        p,
        [](test::lcg& u) {
          return pp_lif_delta::state{-80 + 40 * u(), 100 * (u() - 0.5), u() < 0.3 ? 3 * u() : 0.0};
        },
        {{0, 2.0}, {1, -3.0}, {dc_receptor, 200.0}, {dc_receptor, -200.0}}, 60);
  }
  {
    hawkes_linear::params p;
    p.mu = 5;
    check_bound<hawkes_linear>(
        p, [](test::lcg& u) { return hawkes_linear::state{200 * u(), 10 * (u() - 0.5)}; },
        {{0, 0.5}, {dc_receptor, 5.0}, {dc_receptor, -5.0}}, 60);
  }
  for (const double link : {0.0, 1.0, 2.0}) {
    hawkes_nonlinear::params p;
    p.link = link;
    p.mu = 0.5;
    p.tau_ex = 4;
    p.tau_in = 12;
    check_bound<hawkes_nonlinear>(
        p,
        [](test::lcg& u) {
          return hawkes_nonlinear::state{3 * u(), -8 * u() * u(), u() < 0.2 ? u() - 0.5 : 0.0};
        },
        {{0, 1.5}, {1, -2.0}, {dc_receptor, 0.5}}, 60);
  }
}

namespace {

// A model that breaks its promise: the bound is half the hazard.
struct broken_bound {
  static constexpr std::string_view name = "test_broken_bound";
  static constexpr std::string_view doc = "test: a hazard bound that does not hold";
  struct params {
    double rate = 50;  // Hz
  };
  struct state {
    double unused = 0;
  };
  static constexpr std::array param_table{field<params>{"rate", "Hz", &params::rate, "hazard"}};
  static constexpr std::array state_table{field<state>{"unused", "1", &state::unused, "nothing"}};
  static constexpr std::array<std::string_view, 1> receptors{"excitatory"};
  static std::string check(const params&) { return {}; }
  static void prepare(params&) {}
  static state initial(const params&) { return {}; }
  static void advance(state&, const params&, double) {}
  static void receive(state&, const params&, double, int) {}
  static void reset(state&, const params&) {}
  static double hazard(const state&, const params& p) { return p.rate * 1e-3; }
  static rate_bound hazard_bound(const state&, const params& p) { return {0.5 * p.rate * 1e-3, 0, 0}; }
};

}  // namespace

TEST_CASE("a bound below the hazard is caught by the thinning counters, with both methods") {
  static const bool added = [] {
    default_registry().add_model(describe_model<broken_bound>("test"));
    return true;
  }();
  (void)added;
  for (const std::string method : {"next_reaction", "direct"}) {
    const auto r = test::simulate_json(R"({"run": {"duration": 1000, "method": ")" + method + R"("},
      "populations": {"n": {"size": 10, "model": "test_broken_bound"}}})");
    const auto c = r.net.populations[0]->thinning_stats();
    MESSAGE(fmt::format("{}: {} candidates, {} violations, largest hazard / bound {:.2f}", method, c.candidates,
                        c.violations, c.worst));
    CHECK(c.violations == c.candidates);
    CHECK(c.candidates > 100);
    CHECK(c.worst == doctest::Approx(2.0));
  }
}

TEST_CASE("run.method direct refuses a population without a hazard, naming it") {
  const std::string net = R"("populations": {"a": {"size": 2, "model": "hawkes_linear"},
                                                "b": {"size": 2, "model": "lif_psc_delta"}}})";
  try {
    test::simulate_json(R"({"run": {"duration": 10, "method": "direct"}, )" + net);
    FAIL("no error");
  } catch (const config_error& e) {
    CHECK(e.path == "run.method");
    CHECK(e.problem.find("\"b\"") != std::string::npos);
    CHECK(e.problem.find("lif_psc_delta") != std::string::npos);
  }
  try {
    test::simulate_json(R"({"run": {"duration": 10, "method": "gillespie"}, )" + net);
    FAIL("no error");
  } catch (const config_error& e) {
    CHECK(e.path == "run.method");
  }
  // The next-reaction method (the default) runs both kinds together.
  CHECK_NOTHROW(test::simulate_json(R"({"run": {"duration": 10}, )" + net));
}

TEST_CASE("summed-input models keep their course in long runs without input") {
  // The frame origin used to move only when inputs arrived: after ~700 tau_m without any, the
  // frame factors underflowed to 0 / 0. lif_psc_delta with a bias alone must keep the period
  // t_ref + tau_m ln((V_inf - V_reset) / (V_inf - V_th)) = 2 + 10 ln(20 / 5) ms for 20 s.
  const auto r = test::simulate_json(R"({"run": {"duration": 20000},
    "populations": {"n": {"size": 2, "model": "lif_psc_delta", "params": {"I_e": 500}}},
    "recorders": [{"spikes": {}}]})");
  // From rest, the first spike comes without the dead time before it.
  const double period = 2 + 10 * std::log(4.0);
  const auto t = test::spikes_of(r.res, 1);
  REQUIRE(t.size() == static_cast<size_t>((20000 + 2) / period));
  CHECK(t.back() == doctest::Approx(t.size() * period - 2).epsilon(1e-9));
}
