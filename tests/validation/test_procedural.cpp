// Procedural connectivity: a projection regenerated from its seed when its source spikes has the
// connectivity statistics of the stored rule (in-degree mean, variance and distribution against
// the binomial law that pairwise_bernoulli defines, and against the stored network; in- and
// out-degrees of fixed_total_number with multapses against theirs), draws its
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
const std::string bernoulli = fmt::format(R"({{"pairwise_bernoulli": {{"p": {}}}}})", p_connect);

std::string two_populations(bool procedural, const std::string& weight, const std::string& delay,
                            const std::string& rule = bernoulli) {
  return fmt::format(R"({{
    "run": {{"duration": 10, "backend": "clock", "seed": 7}},
    "populations": {{"a": {{"size": {}, "model": "lif_psc_exp"}}, "b": {{"size": {}, "model": "lif_psc_exp"}}}},
    "projections": [{{"source": "a", "target": "b", "rule": {},
                      "weight": {}, "delay": {}, "receptor": "excitatory", "procedural": {}}}]
  }})",
                     n_source, n_target, rule, weight, delay, procedural);
}

network build(const std::string& text) {
  test::scratch_dir dir;
  const run_config cfg = load_config(dir.write("run.json", text), {}, default_registry());
  return build_network(cfg, default_registry());
}

struct drawn {
  std::vector<uint32_t> indegree, outdegree;
  std::vector<uint32_t> targets;  // all of them, source by source
  std::vector<float> weights, delays;
  bool in_order = true, strictly = true;  // increasing in each chunk; without repeats
  uint64_t same_id = 0;                   // target id = source id: autapses within one population
};

// Every synapse of a procedural projection, chunk by chunk, as the clock backend draws them.
drawn enumerate(const projection& pr, uint32_t sources, uint32_t targets) {
  drawn d;
  d.indegree.assign(targets, 0);
  d.outdegree.assign(sources, 0);
  std::vector<uint32_t> t(procedural_chunk);
  std::vector<float> w(procedural_chunk), dl(procedural_chunk);
  for (uint32_t s = 0; s < sources; ++s)
    for (uint32_t c = 0; c * procedural_chunk < targets; ++c) {
      const uint32_t n = regenerate(pr, s, c, t.data(), w.data(), dl.data());
      for (uint32_t k = 0; k < n; ++k) {
        // In the chunk, increasing (what the clock backend's delivery relies on).
        d.in_order &= t[k] >= c * procedural_chunk && t[k] < std::min(targets, (c + 1) * procedural_chunk) &&
                      (k == 0 || t[k] >= t[k - 1]);
        d.strictly &= k == 0 || t[k] > t[k - 1];
        ++d.indegree[t[k]];
        ++d.outdegree[s];
        d.same_id += t[k] == s;
        d.targets.push_back(t[k]);
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

std::vector<uint32_t> stored_outdegree(const projection& pr, uint32_t sources) {
  std::vector<uint32_t> out(sources);
  for (uint32_t s = 0; s < sources; ++s) out[s] = static_cast<uint32_t>(pr.row[s + 1] - pr.row[s]);
  return out;
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
  CHECK(d.strictly);
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

// N pairs uniform over all (source, target) pairs: a target's in-degree is Binomial(N, 1/n_target)
// and a source's out-degree Binomial(N, 1/n_source), multapses included.
TEST_CASE("procedural fixed_total_number with multapses has the stored rule's degree statistics") {
  constexpr uint32_t total = 300000;  // 50 synapses per source and 256-target chunk on average
  const std::string rule = fmt::format(R"({{"fixed_total_number": {{"N": {}}}}})", total);
  const network stored = build(two_populations(false, "10.0", "1.0", rule));
  const network regen = build(two_populations(true, "10.0", "1.0", rule));
  REQUIRE(regen.projections[0].procedural());
  CHECK(regen.projections[0].targets.empty());
  const drawn d = enumerate(regen.projections[0], n_source, n_target);
  CHECK(d.in_order);
  CHECK_FALSE(d.strictly);  // at 50 per chunk, repeats are certain (multapses)
  CHECK(d.targets.size() == total);
  CHECK(regen.projections[0].synapses() == total);
  check_binomial(d.indegree, total, 1.0 / n_target);
  check_binomial(d.outdegree, total, 1.0 / n_source);
  const std::vector<uint32_t> s_in = stored_indegree(stored.projections[0], n_target);
  check_binomial(s_in, total, 1.0 / n_target);
  // Both have exactly N synapses, so equal mean in-degrees; the variances agree within 3
  // standard errors of a difference (the binomial's, as in check_binomial).
  CHECK(mean(d.indegree) == mean(s_in));
  const double var = total * (1.0 / n_target) * (1 - 1.0 / n_target);
  CHECK(std::fabs(variance(d.indegree) - variance(s_in)) < 3 * var * std::sqrt(2 * 2.0 / (n_target - 1)));
  // The pairs' cells are drawn as the stored rule draws its pairs: the same out-degrees.
  CHECK(d.outdegree == stored_outdegree(stored.projections[0], n_source));
  const drawn again = enumerate(regen.projections[0], n_source, n_target);
  CHECK(again.targets == d.targets);
}

TEST_CASE("procedural fixed_total_number within one population leaves out autapses unless allowed") {
  constexpr uint32_t n = 600, total = 90000;  // 150 synapses per target, 50 per source and chunk
  for (bool allow : {false, true}) {
    CAPTURE(allow);
    const network net = build(fmt::format(R"({{
      "run": {{"duration": 10, "backend": "clock"}},
      "populations": {{"a": {{"size": {}, "model": "lif_psc_exp"}}}},
      "projections": [{{"source": "a", "target": "a", "procedural": true, "weight": 1.0,
                        "rule": {{"fixed_total_number": {{"N": {}, "allow_autapses": {}}}}}}}]
    }})",
                                          n, total, allow));
    const drawn d = enumerate(net.projections[0], n, n);
    CHECK(d.targets.size() == total);
    // Each of the n (n - 1) allowed pairs, or n^2, equally likely: still 1/n per target and source.
    check_binomial(d.indegree, total, 1.0 / n);
    check_binomial(d.outdegree, total, 1.0 / n);
    if (allow)
      CHECK(d.same_id > 0);  // expected N / n = 150
    else
      CHECK(d.same_id == 0);
  }
}

// Cells of 255 or 256 synapses (the most a chunk holds) are kept outside the one-byte table: a
// seed where the densest of 100 one-chunk cells (mean 215) reaches that, against the stored rule,
// whose out-degrees the cells are.
TEST_CASE("procedural fixed_total_number keeps cells of up to a full chunk") {
  constexpr uint32_t sources = 100, total = 21500;
  auto text = [&](bool procedural, int seed) {
    return fmt::format(R"({{"run": {{"duration": 10, "backend": "clock", "seed": {}}},
      "populations": {{"a": {{"size": {}, "model": "lif_psc_exp"}}, "b": {{"size": {}, "model": "lif_psc_exp"}}}},
      "projections": [{{"source": "a", "target": "b", "procedural": {}, "weight": 1.0,
                        "rule": {{"fixed_total_number": {{"N": {}}}}}}}]}})",
                       seed, sources, procedural_chunk, procedural, total);
  };
  bool found = false;
  for (int seed = 1; seed <= 200 && !found; ++seed) {
    const network stored = build(text(false, seed));
    const std::vector<uint32_t> out = stored_outdegree(stored.projections[0], sources);
    const uint32_t densest = *std::max_element(out.begin(), out.end());
    if (densest < 255 || densest > procedural_chunk) continue;
    found = true;
    CAPTURE(seed);
    const drawn d = enumerate(build(text(true, seed)).projections[0], sources, procedural_chunk);
    CHECK(d.outdegree == out);
    CHECK(d.targets.size() == total);
  }
  CHECK(found);
}

TEST_CASE("procedural fixed_total_number: what cannot be regenerated is refused") {
  test::scratch_dir dir;
  const std::string no_multapses = two_populations(
      true, "10.0", "1.0", R"({"fixed_total_number": {"N": 1000, "allow_multapses": false}})");
  try {
    load_config(dir.write("bad.json", no_multapses), {}, default_registry());
    FAIL("no error");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()).find("allow_multapses true") != std::string::npos);
  }
  // More synapses in one (source, chunk) cell than a chunk holds: refused when built.
  const std::string dense = R"({"run": {"duration": 10, "backend": "clock"},
    "populations": {"a": {"size": 4, "model": "lif_psc_exp"}},
    "projections": [{"source": "a", "target": "a", "procedural": true, "weight": 1.0,
                     "rule": {"fixed_total_number": {"N": 2000}}}]})";
  const run_config cfg = load_config(dir.write("dense.json", dense), {}, default_registry());
  try {
    build_network(cfg, default_registry());
    FAIL("no error");
  } catch (const config_error& e) {
    CHECK(std::string(e.what()).find("too dense to regenerate") != std::string::npos);
  }
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
  CHECK(event.find("clock and cuda backends only") != std::string::npos);
  const std::string rule = error_of(with(R"({"pairwise_bernoulli": {"p": 0.05}})", R"({"fixed_indegree": {"indegree": 5}})"));
  CHECK(rule.find("rule \"fixed_indegree\" cannot regenerate") != std::string::npos);
  CHECK(rule.find("\"pairwise_bernoulli\"") != std::string::npos);
  const std::string delay = error_of(with(R"("delay": 1.0)", R"("delay": {"normal": {"mean": 1.5, "std": 0.5, "min": 0.1}})"));
  CHECK(delay.find("projections.0.delay") != std::string::npos);
  CHECK(delay.find("upper bound") != std::string::npos);
  const std::string kind = error_of(with(R"("procedural": true)", R"("procedural": 1)"));
  CHECK(kind.find("expected true or false") != std::string::npos);
}
