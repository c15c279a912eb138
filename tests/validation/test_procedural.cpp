// Procedural connectivity: a projection regenerated from its seed when its source spikes has the
// connectivity statistics of the stored rule (in-degree mean, variance and distribution against
// the binomial law that pairwise_bernoulli defines, and against the stored network), draws its
// weights and delays from the run file's distributions, is the same every time it is drawn, and
// runs on the clock backend with spike data that do not depend on the thread count.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/backends/clock/simulator.hpp"
#include "tests/support/cli.hpp"
#include "tests/support/sim.hpp"

using namespace gs;

namespace {

constexpr uint32_t n_source = 2000, n_target = 3000;
constexpr double p_connect = 0.05;

std::string two_populations(bool procedural, const std::string& weight, const std::string& delay) {
  return fmt::format(R"({{
    "run": {{"duration": 10, "backend": "clock", "seed": 7}},
    "populations": {{"a": {{"size": {}, "model": "lif_psc_exp"}}, "b": {{"size": {}, "model": "lif_psc_exp"}}}},
    "projections": [{{"source": "a", "target": "b", "rule": {{"pairwise_bernoulli": {{"p": {}}}}},
                      "weight": {}, "delay": {}, "receptor": "excitatory", "procedural": {}}}]
  }})",
                     n_source, n_target, p_connect, weight, delay, procedural);
}

network build(const std::string& text) {
  test::scratch_dir dir;
  const run_config cfg = load_config(dir.write("run.json", text), {}, default_registry());
  return build_network(cfg, default_registry());
}

struct drawn {
  std::vector<uint32_t> indegree;
  std::vector<float> weights, delays;
  bool in_order = true;
};

// Every synapse of a procedural projection, chunk by chunk, as the clock backend draws them.
drawn enumerate(const projection& pr, uint32_t sources, uint32_t targets) {
  drawn d;
  d.indegree.assign(targets, 0);
  std::vector<uint32_t> t(procedural_chunk);
  std::vector<float> w(procedural_chunk), dl(procedural_chunk);
  for (uint32_t s = 0; s < sources; ++s)
    for (uint32_t c = 0; c * procedural_chunk < targets; ++c) {
      const uint32_t n = regenerate(pr, s, c, t.data(), w.data(), dl.data());
      for (uint32_t k = 0; k < n; ++k) {
        // In the chunk, increasing (what the clock backend's delivery relies on).
        d.in_order &= t[k] >= c * procedural_chunk && t[k] < std::min(targets, (c + 1) * procedural_chunk) &&
                      (k == 0 || t[k] > t[k - 1]);
        ++d.indegree[t[k]];
        d.weights.push_back(w[k]);
        d.delays.push_back(dl[k]);
      }
    }
  return d;
}

std::vector<uint32_t> stored_indegree(const projection& pr, uint32_t targets) {
  std::vector<uint32_t> in(targets, 0);
  for (uint32_t t : pr.targets) ++in[t];
  return in;
}

double mean(const std::vector<uint32_t>& x) {
  double s = 0;
  for (auto v : x) s += v;
  return s / static_cast<double>(x.size());
}
double variance(const std::vector<uint32_t>& x) {
  const double m = mean(x);
  double s = 0;
  for (auto v : x) s += (v - m) * (v - m);
  return s / static_cast<double>(x.size() - 1);
}

// Binomial(n, p) probability of k, through logarithms (n in the thousands).
double binomial_pmf(uint32_t n, double p, uint32_t k) {
  return std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) + k * std::log(p) +
                  (n - k) * std::log1p(-p));
}

// In-degrees against Binomial(n, p): mean and variance within 3 standard errors, and the counts
// in bins of about 5% of the law's mass each within 3 standard errors of their expectation.
void check_binomial(const std::vector<uint32_t>& in, uint32_t n, double p) {
  const double m = n * p, var = n * p * (1 - p), count = static_cast<double>(in.size());
  CHECK(std::fabs(mean(in) - m) < 3 * std::sqrt(var / count));
  // Standard error of a sample variance: var sqrt(2 / (count - 1)) for a near-normal law, plus
  // the binomial's small excess kurtosis (1 - 6 p (1 - p)) / var.
  const double se_var = var * std::sqrt(2 / (count - 1) + (1 - 6 * p * (1 - p)) / var / count);
  CHECK(std::fabs(variance(in) - var) < 3 * se_var);
  // Bins [lo, hi] of at least 5% of the mass; the last takes the whole upper tail.
  double below = 0, mass = 0;
  for (uint32_t lo = 0, k = 0; k <= n; ++k) {
    mass += binomial_pmf(n, p, k);
    if (k < n && (mass < 0.05 || 1 - below - mass < 0.05)) continue;
    const double seen =
        static_cast<double>(std::count_if(in.begin(), in.end(), [&](uint32_t v) { return v >= lo && v <= k; }));
    const double expected = count * mass, se = std::sqrt(count * mass * (1 - mass));
    INFO(fmt::format("in-degrees in [{}, {}]: {} seen, {:.1f} expected (se {:.1f})", lo, k, seen, expected, se));
    CHECK(std::fabs(seen - expected) < 3 * se);
    below += mass, mass = 0, lo = k + 1;
  }
}

}  // namespace

TEST_CASE("procedural pairwise_bernoulli has the stored rule's in-degree statistics") {
  const network stored = build(two_populations(false, "10.0", "1.0"));
  const network regen = build(two_populations(true, "10.0", "1.0"));
  REQUIRE(regen.projections[0].procedural());
  CHECK(regen.projections[0].targets.empty());  // nothing stored
  const drawn d = enumerate(regen.projections[0], n_source, n_target);
  CHECK(d.in_order);
  const std::vector<uint32_t> s = stored_indegree(stored.projections[0], n_target);
  uint64_t total = 0;
  for (auto v : d.indegree) total += v;
  CHECK(total == regen.projections[0].synapses());  // the summary's count
  check_binomial(d.indegree, n_source, p_connect);
  check_binomial(s, n_source, p_connect);
  // The two networks against each other: the difference of mean in-degrees within 3 standard
  // errors of a difference.
  const double se = std::sqrt(2 * n_source * p_connect * (1 - p_connect) / n_target);
  CHECK(std::fabs(mean(d.indegree) - mean(s)) < 3 * se);
  // Drawn again: the same synapses.
  const drawn again = enumerate(regen.projections[0], n_source, n_target);
  CHECK(again.indegree == d.indegree);
}

TEST_CASE("procedural projections within one population leave out autapses unless allowed") {
  for (bool allow : {false, true}) {
    const network net = build(fmt::format(R"({{
      "run": {{"duration": 10, "backend": "clock"}},
      "populations": {{"a": {{"size": 600, "model": "lif_psc_exp"}}}},
      "projections": [{{"source": "a", "target": "a", "procedural": true, "weight": 1.0,
                        "rule": {{"pairwise_bernoulli": {{"p": 1.0, "allow_autapses": {}}}}}}}]
    }})",
                                          allow));
    const drawn d = enumerate(net.projections[0], 600, 600);
    for (uint32_t v : d.indegree) CHECK(v == (allow ? 600u : 599u));
  }
}

TEST_CASE("procedural weights and delays follow their distributions") {
  const network net = build(two_populations(true, R"({"normal": {"mean": 10.0, "std": 2.0, "min": 0.0}})",
                                            R"({"uniform": [0.5, 2.0]})"));
  const drawn d = enumerate(net.projections[0], n_source, n_target);
  REQUIRE(d.weights.size() > 250000);
  double sw = 0, sd = 0;
  for (float w : d.weights) sw += w;
  for (float x : d.delays) sd += x;
  CHECK(*std::min_element(d.delays.begin(), d.delays.end()) >= 0.5f);
  CHECK(*std::max_element(d.delays.begin(), d.delays.end()) <= 2.0f);
  const double n = static_cast<double>(d.weights.size());
  CHECK(std::fabs(sw / n - 10.0) < 3 * 2.0 / std::sqrt(n));
  CHECK(std::fabs(sd / n - 1.25) < 3 * (1.5 / std::sqrt(12.0)) / std::sqrt(n));
}

TEST_CASE("a procedural network runs on the clock backend, the same on 1 and 2 threads") {
  std::vector<std::vector<double>> times;
  std::vector<std::vector<uint32_t>> ids;
  for (int threads : {1, 2}) {
    test::scratch_dir dir;
    const run_config cfg = load_config(GS_SOURCE_DIR "/examples/cuba.json",
                                       {"run.backend=\"clock\"", "run.duration=300", fmt::format("run.threads={}", threads),
                                        "projections.0.procedural=true", "projections.1.procedural=true"},
                                       default_registry());
    network net = build_network(cfg, default_registry());
    const run_result res = simulate_clock(net, cfg);
    CHECK(res.spike_times.size() > 1000);
    times.push_back(res.spike_times);
    ids.push_back(res.spike_gids);
  }
  CHECK(times[0] == times[1]);
  CHECK(ids[0] == ids[1]);
}

TEST_CASE("procedural projections: bad settings are refused") {
  test::scratch_dir dir;
  auto error_of = [&](const std::string& text) {
    try {
      load_config(dir.write("bad.json", text), {}, default_registry());
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string base = two_populations(true, "10.0", "1.0");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = base;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  const std::string event = error_of(with(R"("backend": "clock")", R"("backend": "event")"));
  CHECK(event.find("projections.0.procedural") != std::string::npos);
  CHECK(event.find("clock backend only") != std::string::npos);
  const std::string rule = error_of(with(R"({"pairwise_bernoulli": {"p": 0.05}})", R"({"fixed_indegree": {"indegree": 5}})"));
  CHECK(rule.find("rule \"fixed_indegree\" cannot regenerate") != std::string::npos);
  CHECK(rule.find("\"pairwise_bernoulli\"") != std::string::npos);
  const std::string delay = error_of(with(R"("delay": 1.0)", R"("delay": {"normal": {"mean": 1.5, "std": 0.5, "min": 0.1}})"));
  CHECK(delay.find("projections.0.delay") != std::string::npos);
  CHECK(delay.find("upper bound") != std::string::npos);
  const std::string kind = error_of(with(R"("procedural": true)", R"("procedural": 1)"));
  CHECK(kind.find("expected true or false") != std::string::npos);
}
