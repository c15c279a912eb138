// The three ways the event engine finds a model's next spike besides a closed form: a model
// that gives only a step (integrated ahead, crossing bisected on the step) and a stochastic
// model (its hazard sampled by thinning). Minimal models written here, checked against closed
// forms.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <array>
#include <cmath>

#include "engine/population.hpp"
#include "tests/support/sim.hpp"
#include "tests/support/stats.hpp"

using namespace gs;

namespace {

// LIF given only as one classical Runge-Kutta step: no closed form, no estimate.
struct rk4_lif {
  static constexpr std::string_view name = "test_rk4_lif";
  static constexpr std::string_view doc = "test: LIF as an RK4 step";
  static constexpr double max_step = 0.1;
  struct params {
    double tau_m = 10, E_L = -70, V_th = -55, V_reset = -70, I_e = 20, R = 1;
  };
  struct state {
    double V_m = -70, refractory = 0;
  };
  static constexpr std::array param_table{field<params>{"I_e", "mV", &params::I_e, "drive (R I)"}};
  static constexpr std::array state_table{field<state>{"V_m", "mV", &state::V_m, "membrane potential"}};
  static constexpr std::array<std::string_view, 1> receptors{"excitatory"};
  static std::string check(const params&) { return {}; }
  static void prepare(params&) {}
  static state initial(const params& p) { return {p.E_L, 0}; }
  static double f(const params& p, double v) { return (p.E_L + p.R * p.I_e - v) / p.tau_m; }
  static void advance(state& s, const params& p, double h) {
    const double k1 = f(p, s.V_m), k2 = f(p, s.V_m + h / 2 * k1), k3 = f(p, s.V_m + h / 2 * k2),
                 k4 = f(p, s.V_m + h * k3);
    s.V_m += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
  }
  static void receive(state& s, const params&, double w, int) { s.V_m += w; }
  static bool crossed(const state& s, const params& p) { return s.V_m >= p.V_th; }
  static void reset(state& s, const params& p) { s.V_m = p.V_reset; }
};

// Constant hazard after a dead time: ISIs are dead + Exp(rate).
struct dead_time_poisson {
  static constexpr std::string_view name = "test_dead_time_poisson";
  static constexpr std::string_view doc = "test: Poisson process with dead time";
  struct params {
    double rate = 40, t_ref = 5;  // Hz, ms
  };
  struct state {
    double refractory = 0;
  };
  static constexpr std::array param_table{field<params>{"rate", "Hz", &params::rate, "hazard"},
                                          field<params>{"t_ref", "ms", &params::t_ref, "dead time"}};
  static constexpr std::array state_table{field<state>{"refractory", "ms", &state::refractory, "dead time left"}};
  static constexpr std::array<std::string_view, 1> receptors{"excitatory"};
  static std::string check(const params&) { return {}; }
  static void prepare(params&) {}
  static state initial(const params&) { return {}; }
  static void advance(state& s, const params&, double h) { s.refractory = std::max(0.0, s.refractory - h); }
  static void receive(state&, const params&, double, int) {}
  static void reset(state& s, const params& p) { s.refractory = p.t_ref; }
  static double hazard(const state& s, const params& p) { return s.refractory > 0 ? 0 : p.rate * 1e-3; }
  // Twice the true rate: half the candidates are rejected, which exercises the thinning.
  static rate_bound hazard_bound(const state& s, const params& p) { return {2 * p.rate * 1e-3, 0, s.refractory}; }
};

}  // namespace

TEST_CASE("a step-only model runs in the event engine: crossings bisected on the step") {
  static const bool added = [] {
    default_registry().add_model(describe_model<rk4_lif>("test"));
    return true;
  }();
  (void)added;
  const auto r = test::simulate_json(R"({"run": {"duration": 200, "seed": 1},
    "populations": {"n": {"model": "test_rk4_lif", "size": 1}}, "recorders": [{"spikes": {}}]})");
  const auto t = test::spikes_of(r.res, 0);
  // Closed form of the continuous LIF: tau ln((V_inf - V_reset) / (V_inf - V_th)).
  const double period = 10 * std::log(20.0 / 5.0);
  REQUIRE(t.size() == static_cast<size_t>(200 / period));
  for (size_t k = 0; k < t.size(); ++k) CHECK(t[k] == doctest::Approx((k + 1) * period).epsilon(1e-7));
}

TEST_CASE("a stochastic model is sampled exactly by thinning") {
  static const bool added = [] {
    default_registry().add_model(describe_model<dead_time_poisson>("test"));
    return true;
  }();
  (void)added;
  const auto r = test::simulate_json(R"({"run": {"duration": 20000, "seed": 7},
    "populations": {"n": {"model": "test_dead_time_poisson", "size": 20}}, "recorders": [{"spikes": {}}]})");
  std::vector<double> isi;
  for (uint32_t g = 0; g < 20; ++g) {
    const auto t = test::spikes_of(r.res, g);
    for (size_t k = 1; k < t.size(); ++k) isi.push_back(t[k] - t[k - 1]);
  }
  REQUIRE(isi.size() > 5000);
  for (double x : isi) REQUIRE(x >= 5.0);
  const auto ks = test::ks_test(isi, [](double x) { return 1 - std::exp(-(x - 5.0) * 0.04); });
  MESSAGE(fmt::format("{} ISIs, KS D = {:.4f}, p = {:.3f}", isi.size(), ks.d, ks.p));
  CHECK(ks.p > 0.01);
  // Same seed, same spikes; another seed, other spikes.
  const auto again = test::simulate_json(R"({"run": {"duration": 20000, "seed": 7},
    "populations": {"n": {"model": "test_dead_time_poisson", "size": 20}}, "recorders": [{"spikes": {}}]})");
  CHECK(again.res.spike_times == r.res.spike_times);
}
