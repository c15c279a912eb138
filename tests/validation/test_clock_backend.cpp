// The clock backend against the event backend, which is exact and validated on its own against
// closed forms and independent integrations: single neurons driven by inputs on the 0.1 ms grid
// spike within one step of the exact times; with a constant drive each interval is within one
// step (the grid delay of each reset adds up, as in NEST); the CUBA network has the same rates
// and irregularity; spike data do not depend on the thread count; bad clock settings are errors.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"
#include "tests/support/stats.hpp"

using namespace gs;

namespace {


// One neuron of `model` with `params`, `stimuli` (JSON array text), run for T ms.
std::string single(const std::string& model, const std::string& params, const std::string& stimuli, double T) {
  return fmt::format(R"({{
    "run": {{"duration": {}}},
    "populations": {{"n": {{"size": 1, "model": "{}", "params": {{{}}}}}}},
    "stimuli": {},
    "recorders": [{{"spikes": {{}}}}]
  }})",
                     T, model, params, stimuli);
}

// Input times on the 0.1 ms grid (so on both clock grids), at least `gap` ms apart.
std::vector<double> grid_times(uint64_t seed, double T, double gap) {
  test::lcg u{seed};
  std::vector<double> t;
  for (double x = 5 + std::round(u() * 100) / 10; x < T - 5; x += gap + std::round(u() * gap * 10) / 10) t.push_back(x);
  return t;
}

std::string generators(const std::vector<double>& strong, double w_strong, const std::vector<double>& weak,
                       double w_weak, const std::vector<double>& inh, double w_inh) {
  return fmt::format(
      R"([{{"spike_generator": {{"target": "n", "spike_times": [{}], "weight": {}, "receptor": "excitatory"}}}},
          {{"spike_generator": {{"target": "n", "spike_times": [{}], "weight": {}, "receptor": "excitatory"}}}},
          {{"spike_generator": {{"target": "n", "spike_times": [{}], "weight": {}, "receptor": "inhibitory"}}}}])",
      fmt::join(strong, ","), w_strong, fmt::join(weak, ","), w_weak, fmt::join(inh, ","), w_inh);
}

// Same number of spikes; each clock spike within one step of the exact one (`intervals`: each
// interval within one step instead, for a constant drive whose grid delays add up).
void compare(const std::string& what, const std::string& cfg, double dt, bool intervals = false) {
  const auto exact = test::spikes_of(test::simulate_json(cfg, {}).res, 0);
  const auto grid = test::spikes_of(
      test::simulate_json(cfg, {"run.backend=clock", fmt::format("run.dt={}", dt)}).res, 0);
  INFO(fmt::format("{} at dt {}: event {} spikes, clock {}", what, dt, exact.size(), grid.size()));
  CHECK(exact.size() >= 5);
  REQUIRE(grid.size() == exact.size());
  double worst = 0;
  for (size_t k = 0; k < grid.size(); ++k) {
    const double d = intervals && k > 0 ? (grid[k] - grid[k - 1]) - (exact[k] - exact[k - 1]) : grid[k] - exact[k];
    worst = std::max(worst, std::fabs(d));
  }
  MESSAGE(fmt::format("{} at dt {}: {} spikes, largest {} difference {:.4f} ms", what, dt, grid.size(),
                      intervals ? "interval" : "spike-time", worst));
  CHECK(worst <= dt * (1 + 1e-9));
}

}  // namespace

TEST_CASE("single neurons: clock spikes within one step of the exact ones") {
  const double T = 1000;
  const auto strong = grid_times(1, T, 40), weak = grid_times(2, T, 30), inh = grid_times(3, T, 50);
  for (double dt : {0.1, 0.01}) {
    CAPTURE(dt);
    // lif_psc_exp: 10 mV below threshold at rest; strong inputs cross, weak ones stay clearly below.
    const std::string lif = R"("tau_syn_ex": 2.0, "tau_syn_in": 5.0, "I_e": 200.0)";
    compare("lif_psc_exp, inputs", single("lif_psc_exp", lif, generators(strong, 4000, weak, 800, inh, -2000), T), dt);
    compare("lif_psc_exp, I_e", single("lif_psc_exp", R"("I_e": 400.0)", "[]", 300), dt, true);
    compare("lif_psc_delta, inputs",
            single("lif_psc_delta", R"("I_e": 200.0)", generators(strong, 12, weak, 4, inh, -5), T), dt);
    compare("lif_psc_delta, I_e", single("lif_psc_delta", R"("I_e": 400.0)", "[]", 300), dt, true);
    compare("glif3_psc_exp, inputs",
            single("glif3_psc_exp", R"("I_e": 100.0)", generators(strong, 6000, weak, 600, inh, -2000), T), dt);
    // Without spike-triggered adaptation (b = 0): with b, a reset up to a step late shifts w,
    // which carries the grid's delay into the next spike (1.09 dt measured at dt 0.01, b = 80.5).
    compare("aeif_psc_exp, inputs",
            single("aeif_psc_exp", R"("tau_syn_ex": 2.0, "tau_syn_in": 5.0, "I_e": 400.0, "b": 0.0)",
                   generators(strong, 3000, weak, 300, inh, -2000), T),
            dt);
  }
}

TEST_CASE("clock backend: state samples on the grid equal the exact state there") {
  // Below threshold, with inputs and a DC step on the 0.1 ms grid, lif_psc_exp's step is its
  // exact propagator: the sampled trajectory is the event backend's to rounding.
  const auto weak = grid_times(2, 400, 20);
  std::string stimuli = generators(weak, 500, weak, 0, grid_times(3, 400, 30), -800);
  stimuli.insert(stimuli.size() - 1, R"(, {"dc": {"target": "n", "amplitude": 150.0, "start": 100.0, "stop": 300.0}})");
  std::string cfg = single("lif_psc_exp", R"("tau_syn_ex": 2.0, "tau_syn_in": 5.0, "I_e": 100.0)", stimuli, 400);
  cfg.replace(cfg.find(R"([{"spikes": {}}])"), 16,
              R"([{"spikes": {}}, {"state": {"population": "n", "ids": [0], "variables": ["V_m", "I_ex"], "interval": 0.5}}])");
  const auto exact = test::simulate_json(cfg, {});
  const auto grid = test::simulate_json(cfg, {"run.backend=clock", "run.dt=0.1"});
  REQUIRE(exact.res.traces.size() == 1);
  REQUIRE(grid.res.traces.size() == 1);
  const auto &e = exact.res.traces[0], &c = grid.res.traces[0];
  CHECK(e.times.size() == 800);
  REQUIRE(c.times.size() == e.times.size());
  CHECK(grid.res.spike_times.empty());
  double worst_t = 0, worst_v = 0;
  for (size_t j = 0; j < e.times.size(); ++j) {
    worst_t = std::max(worst_t, std::fabs(c.times[j] - e.times[j]));
    for (size_t v = 0; v < 2; ++v) worst_v = std::max(worst_v, std::fabs(c.values[v][j] - e.values[v][j]));
  }
  MESSAGE(fmt::format("traces: {} samples, largest time difference {:.2g} ms, value difference {:.2g}",
                      e.times.size(), worst_t, worst_v));
  CHECK(worst_t < 1e-9);
  CHECK(worst_v < 1e-6);
}

TEST_CASE("CUBA network: clock rates and ISI CV as the event backend's over three seeds") {
  const std::string text = test::read_example("cuba.json");
  const double duration = 2000, skip = 200;  // the first 200 ms are transient
  double event_sum = 0, clock_sum = 0;
  for (int seed : {1, 2, 3}) {
    CAPTURE(seed);
    const auto [e, c] = test::event_and_clock(text, seed, duration, skip);
    CHECK(std::fabs(c.rate / e.rate - 1) < 0.03);
    CHECK(std::fabs(c.cv - e.cv) < 0.05);
    event_sum += e.rate;
    clock_sum += c.rate;
  }
  MESSAGE(fmt::format("mean over 3 seeds: event {:.3f} Hz, clock {:.3f} Hz ({:+.2f} %)", event_sum / 3, clock_sum / 3,
                      100 * (clock_sum / event_sum - 1)));
  CHECK(std::fabs(clock_sum / event_sum - 1) < 0.03);
}

TEST_CASE("clock backend: the same spike data with 1 and 2 threads") {
  const std::string text = test::read_example("cuba.json");
  const std::vector<std::string> sets{"run.backend=clock", "run.duration=300", "run.seed=5"};
  auto with = [&](int threads) {
    std::vector<std::string> s = sets;
    s.push_back(fmt::format("run.threads={}", threads));
    return test::simulate_json(text, s);
  };
  const auto one = with(1), two = with(2);
  CHECK(one.res.threads == 1);
  CHECK(two.res.threads == 2);
  REQUIRE(one.res.spike_times.size() > 1000);
  CHECK(one.res.spike_gids == two.res.spike_gids);
  CHECK(one.res.spike_times == two.res.spike_times);
  CHECK(one.res.synaptic_events == two.res.synaptic_events);
  // In time order, then by gid within a step.
  bool ordered = true;
  for (size_t k = 1; k < one.res.spike_times.size(); ++k)
    ordered &= one.res.spike_times[k - 1] < one.res.spike_times[k] ||
               (one.res.spike_times[k - 1] == one.res.spike_times[k] && one.res.spike_gids[k - 1] < one.res.spike_gids[k]);
  CHECK(ordered);
}

TEST_CASE("clock backend: stochastic neurons spike at the hazard's rate") {
  // A Hawkes process without input has a constant hazard mu: 200 neurons for 2 s at mu.
  const std::string cfg = R"({
    "run": {"duration": 2000.0, "backend": "clock", "dt": 0.1},
    "populations": {"n": {"size": 200, "model": "hawkes_linear", "params": {"mu": 20.0}}},
    "recorders": [{"spikes": {}}]
  })";
  const auto run = test::simulate_json(cfg, {});
  const double rate = run.res.spike_times.size() / (200 * 2.0);
  MESSAGE(fmt::format("constant hazard 20 Hz: clock rate {:.2f} Hz", rate));
  // 8000 expected spikes: 3 standard deviations is about 3.4 %.
  CHECK(std::fabs(rate / 20.0 - 1) < 0.035);
}

TEST_CASE("clock backend: bad settings are errors naming the JSON path") {
  test::scratch_dir dir;
  const std::string base = test::read_example("cuba.json");
  const auto file = dir.write("cuba.json", base);
  struct bad {
    std::vector<std::string> sets;
    std::vector<std::string> words;
  };
  const std::vector<bad> cases{
      {{"run.backend=clock", "run.dt=0.5", "projections.0.delay=0.2"},
       {"projections.0.delay", "round to 0 steps", "run.dt = 0.5"}},
      {{"run.backend=clock", "run.method=direct"}, {"run.method", "event backend"}},
      {{"run.backend=clock", "run.dt=0"}, {"run.dt", "positive"}},
      {{"run.backend=clock", "run.dt=-0.1"}, {"run.dt", "positive"}},
      {{"run.backend=clocks"}, {"run.backend", "did you mean \"clock\""}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"run", file.string(), "-q", "-o", (dir.path / "out").string()};
    for (const auto& s : c.sets) args.insert(args.end(), {"--set", s});
    const auto r = test::cli(args, dir.path);
    INFO(r.err);
    CHECK(r.status == 2);
    CHECK(test::has(r.err, "cuba.json"));
    for (const auto& w : c.words) CHECK(test::has(r.err, w));
    CHECK(!std::filesystem::exists(dir.path / "out"));
  }
}

TEST_CASE("clock backend: CLI run writes the same files and says the grid in the summary") {
  test::scratch_dir dir;
  const auto file = dir.write("cuba.json", test::read_example("cuba.json"));
  const auto r = test::cli({"run", file.string(), "-q", "-o", (dir.path / "out").string(), "--set", "run.backend=clock",
                            "--set", "run.duration=100", "--set", "run.threads=2"},
                           dir.path);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const std::string summary = test::slurp(dir.path / "out" / "summary.json");
  CHECK(test::has(summary, "on the grid, dt = 0.1 ms (clock backend)"));
  CHECK(test::has(summary, "\"threads\": 2"));
  CHECK(std::filesystem::exists(dir.path / "out" / "spikes.h5"));
}
