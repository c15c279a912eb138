// Connection rules against their definitions: counts, degree distributions and uniformity are
// compared with the binomial / multinomial / hypergeometric statistics of the rule as stated,
// computed here, never with the rules' own earlier output.
//
// Statistical bounds: means within 3 standard errors (as the issue asks); variances within 4
// standard errors; uniformity by Pearson's chi-square through the Wilson-Hilferty normal
// approximation, rejected when |z| > 3.89 (two-sided significance 1e-4). Every case uses fixed
// seeds, so a pass or failure is reproducible.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/network.hpp"
#include "engine/value.hpp"
#include "plugins/registry.hpp"

using gs::json;

namespace {

using edge = std::pair<uint32_t, uint32_t>;

struct edge_sink final : gs::synapse_sink {
  std::vector<edge> edges;
  void add(uint32_t s, uint32_t t) override { edges.emplace_back(s, t); }
};

const gs::rule_info& rule(const std::string& name) {
  const gs::rule_info* r = gs::default_registry().find_rule(name);
  REQUIRE_MESSAGE(r != nullptr, "rule ", name, " is not registered");
  return *r;
}

// Parameters as the config loader hands them over: every switch filled in (defaults true).
json full(const std::string& name, json given) {
  for (const auto& pi : rule(name).params)
    if (!given.contains(pi.name) && !pi.optional) {  // optional ones (mask) stay absent
      if (pi.kind != gs::param_info::boolean) {  // ones with a default (p of fixed_indegree)
        REQUIRE_MESSAGE(!std::isnan(pi.default_value), "test must give ", pi.name);
        continue;
      }
      given[pi.name] = true;
    }
  return given;
}

gs::rule_context ctx(uint32_t ns, uint32_t nt, bool same, uint64_t seed, uint32_t projection = 0) {
  gs::rule_context c;
  c.n_source = ns;
  c.n_target = nt;
  c.same_population = same;
  c.seed = seed;
  c.projection = projection;
  return c;
}

std::vector<edge> generate(const std::string& name, const json& params, const gs::rule_context& c) {
  const json p = full(name, params);
  REQUIRE_MESSAGE(rule(name).check(p, c).empty(), rule(name).check(p, c));
  edge_sink sink;
  rule(name).generate(p, c, sink);
  return sink.edges;
}

std::string check(const std::string& name, const json& params, const gs::rule_context& c) {
  return rule(name).check(full(name, params), c);
}

std::vector<uint64_t> in_degrees(const std::vector<edge>& e, uint32_t nt) {
  std::vector<uint64_t> d(nt, 0);
  for (auto [s, t] : e) d.at(t)++;
  return d;
}
std::vector<uint64_t> out_degrees(const std::vector<edge>& e, uint32_t ns) {
  std::vector<uint64_t> d(ns, 0);
  for (auto [s, t] : e) d.at(s)++;
  return d;
}

size_t duplicates(std::vector<edge> e) {
  std::sort(e.begin(), e.end());
  return e.size() - static_cast<size_t>(std::unique(e.begin(), e.end()) - e.begin());
}
size_t autapses(const std::vector<edge>& e) {
  return static_cast<size_t>(std::count_if(e.begin(), e.end(), [](const edge& x) { return x.first == x.second; }));
}

// Wilson-Hilferty: chi-square with `dof` degrees of freedom to a standard normal deviate.
double chi2_z(double x, double dof) {
  const double v = 2.0 / (9.0 * dof);
  return (std::cbrt(x / dof) - (1 - v)) / std::sqrt(v);
}
constexpr double z_crit = 3.89;  // two-sided 1e-4

// Pearson statistic of counts against equal expectations with per-cell variance `var`
// (var = mean for the multinomial; smaller for draws without replacement).
double pearson(const std::vector<uint64_t>& counts, double mean, double var) {
  double x = 0;
  for (uint64_t k : counts) x += (double(k) - mean) * (double(k) - mean) / var;
  return x;
}

struct moments {
  double mean = 0, var = 0;
};
moments sample_moments(const std::vector<uint64_t>& v) {
  moments m;
  for (uint64_t x : v) m.mean += double(x);
  m.mean /= double(v.size());
  for (uint64_t x : v) m.var += (double(x) - m.mean) * (double(x) - m.mean);
  m.var /= double(v.size() - 1);
  return m;
}

// Sample mean and variance of n iid Binomial(trials, p) values against their expectations.
void check_binomial_degrees(const std::vector<uint64_t>& deg, double trials, double p) {
  const double n = double(deg.size());
  const double mu = trials * p, s2 = trials * p * (1 - p);
  const moments m = sample_moments(deg);
  const double se_mean = std::sqrt(s2 / n);
  // Var(sample variance) = s2^2 (2 / (n - 1) + excess kurtosis / n); binomial excess kurtosis.
  const double kurt = (1 - 6 * p * (1 - p)) / s2;
  const double se_var = s2 * std::sqrt(2 / (n - 1) + kurt / n);
  INFO("degree mean ", m.mean, " expected ", mu, " (SE ", se_mean, "); variance ", m.var, " expected ", s2,
       " (SE ", se_var, ")");
  CHECK(std::fabs(m.mean - mu) <= 3 * se_mean);
  CHECK(std::fabs(m.var - s2) <= 4 * se_var);
}

// Chi-square of how often each candidate appears over many rows of k picks from n candidates.
// Without replacement each row includes a given candidate with probability q = k/n, so a count
// over `rows` rows has variance rows q (1 - q); with replacement the counts are multinomial.
double uniformity_z(const std::vector<uint64_t>& counts, double rows, double k, bool replacement) {
  const double n = double(counts.size()), q = k / n;
  const double mean = rows * q;
  const double var = replacement ? mean : rows * q * (1 - q);
  // The total is fixed, which removes one degree of freedom; without replacement the negative
  // correlation within a row scales the statistic by (n - 1)/n, leaving chi-square(n - 1).
  const double x = pearson(counts, mean, var) * (replacement ? 1.0 : (n - 1) / n);
  return chi2_z(x, n - 1);
}

}  // namespace

TEST_CASE("every built-in rule is registered with its parameters") {
  for (const char* name : {"pairwise_bernoulli", "fixed_indegree", "fixed_outdegree", "fixed_total_number",
                           "one_to_one", "all_to_all"})
    CHECK(gs::default_registry().find_rule(name) != nullptr);
  auto has = [](const std::string& r, const std::string& p) {
    for (const auto& pi : rule(r).params)
      if (pi.name == p) return true;
    return false;
  };
  CHECK(has("pairwise_bernoulli", "p"));
  CHECK(has("pairwise_bernoulli", "allow_autapses"));
  CHECK(has("fixed_indegree", "indegree"));
  CHECK(has("fixed_indegree", "allow_multapses"));
  CHECK(has("fixed_outdegree", "outdegree"));
  CHECK(has("fixed_total_number", "N"));
  CHECK(has("all_to_all", "allow_autapses"));
}

TEST_CASE("pairwise_bernoulli: total count, in- and out-degrees are binomial") {
  struct cfg {
    uint32_t ns, nt;
    double p;
    uint64_t seed;
  };
  for (const cfg& c : {cfg{300, 400, 0.1, 1}, cfg{2000, 1500, 0.002, 2}, cfg{200, 250, 0.5, 3},
                       cfg{150, 120, 0.97, 4}, cfg{1, 20000, 0.3, 5}}) {
    CAPTURE(c.ns);
    CAPTURE(c.nt);
    CAPTURE(c.p);
    const auto e = generate("pairwise_bernoulli", {{"p", c.p}}, ctx(c.ns, c.nt, false, c.seed));
    const double pairs = double(c.ns) * c.nt;
    const double expected = c.p * pairs, se = std::sqrt(pairs * c.p * (1 - c.p));
    INFO("synapses ", e.size(), " expected ", expected, " +- ", se);
    CHECK(std::fabs(double(e.size()) - expected) <= 3 * se);
    CHECK(duplicates(e) == 0);
    for (auto [s, t] : e) REQUIRE((s < c.ns && t < c.nt));
    check_binomial_degrees(in_degrees(e, c.nt), c.ns, c.p);
    if (c.ns > 1) check_binomial_degrees(out_degrees(e, c.ns), c.nt, c.p);
  }
}

TEST_CASE("pairwise_bernoulli: p = 0 gives none, p = 1 gives every pair") {
  CHECK(generate("pairwise_bernoulli", {{"p", 0.0}}, ctx(100, 80, false, 7)).empty());
  CHECK(generate("pairwise_bernoulli", {{"p", 0.0}}, ctx(100, 100, true, 7)).empty());
  auto all = generate("pairwise_bernoulli", {{"p", 1.0}}, ctx(100, 80, false, 7));
  CHECK(all.size() == 8000);
  CHECK(duplicates(all) == 0);
  auto self = generate("pairwise_bernoulli", {{"p", 1.0}}, ctx(60, 60, true, 7));
  CHECK(self.size() == 3600);
  CHECK(autapses(self) == 60);
  auto no_self = generate("pairwise_bernoulli", {{"p", 1.0}, {"allow_autapses", false}}, ctx(60, 60, true, 7));
  CHECK(no_self.size() == 60 * 59);
  CHECK(autapses(no_self) == 0);
  CHECK(duplicates(no_self) == 0);
  // Integer JSON for p, as a user might write it.
  CHECK(generate("pairwise_bernoulli", {{"p", 1}}, ctx(10, 10, false, 7)).size() == 100);
}

TEST_CASE("pairwise_bernoulli: autapses excluded only within one population") {
  const uint32_t n = 600;
  const double p = 0.05;
  const auto e = generate("pairwise_bernoulli", {{"p", p}, {"allow_autapses", false}}, ctx(n, n, true, 11));
  CHECK(autapses(e) == 0);
  const double pairs = double(n) * (n - 1);
  CHECK(std::fabs(double(e.size()) - p * pairs) <= 3 * std::sqrt(pairs * p * (1 - p)));
  check_binomial_degrees(in_degrees(e, n), n - 1, p);
  // Between different populations source == target index is an ordinary pair.
  const auto other = generate("pairwise_bernoulli", {{"p", 0.5}, {"allow_autapses", false}}, ctx(n, n, false, 11));
  CHECK(autapses(other) > 0);
  const auto with = generate("pairwise_bernoulli", {{"p", 0.5}}, ctx(n, n, true, 12));
  CHECK(autapses(with) > 0);
  // About half of the n self-pairs are drawn at p = 0.5.
  CHECK(std::fabs(double(autapses(with)) - 0.5 * n) <= 3 * std::sqrt(n * 0.25));
}

TEST_CASE("fixed_indegree: exact in-degree, no duplicates without multapses, uniform sources") {
  struct cfg {
    uint32_t ns, nt, k;
    bool multapses, same, autapses;
  };
  // Covers the dense (selection sampling), short sparse, marked sparse and multapse branches,
  // each with and without an excluded autapse.
  for (const cfg& c : {cfg{200, 3000, 150, false, false, true}, cfg{200, 200, 199, false, true, false},
                       cfg{500, 4000, 10, false, false, true}, cfg{400, 400, 10, false, true, false},
                       cfg{1000, 2000, 80, false, false, true}, cfg{1000, 1000, 300, false, true, false},
                       cfg{300, 3000, 40, true, false, true}, cfg{300, 300, 500, true, true, false},
                       cfg{50, 50, 50, false, true, true}}) {
    CAPTURE(c.ns);
    CAPTURE(c.nt);
    CAPTURE(c.k);
    CAPTURE(c.multapses);
    CAPTURE(c.same);
    CAPTURE(c.autapses);
    const json p = {{"indegree", c.k}, {"allow_multapses", c.multapses}, {"allow_autapses", c.autapses}};
    const auto e = generate("fixed_indegree", p, ctx(c.ns, c.nt, c.same, 100 + c.k));
    CHECK(e.size() == uint64_t(c.nt) * c.k);
    const auto in = in_degrees(e, c.nt);
    CHECK(std::all_of(in.begin(), in.end(), [&](uint64_t d) { return d == c.k; }));
    if (!c.multapses) CHECK(duplicates(e) == 0);
    const bool excluded = c.same && !c.autapses;
    if (excluded) CHECK(autapses(e) == 0);
    if (excluded && c.k == c.ns - 1) continue;  // every other source: nothing random left
    if (!c.multapses && c.k == c.ns) continue;
    // Uniform over the allowed sources: without autapses each target's own index is not a
    // candidate, so count the sources relative to the target (s - t mod n skips 0).
    const uint32_t cand = excluded ? c.ns - 1 : c.ns;
    std::vector<uint64_t> counts(cand, 0);
    for (auto [s, t] : e) counts[excluded ? (s + c.ns - t) % c.ns - 1 : s]++;
    const double z = uniformity_z(counts, c.nt, c.k, c.multapses);
    INFO("uniformity z = ", z);
    CHECK(std::fabs(z) < z_crit);
  }
}

TEST_CASE("fixed_outdegree: exact out-degree, no duplicates without multapses, uniform targets") {
  struct cfg {
    uint32_t ns, nt, k;
    bool multapses, same, autapses;
  };
  for (const cfg& c : {cfg{3000, 200, 150, false, false, true}, cfg{300, 300, 299, false, true, false},
                       cfg{4000, 500, 10, false, false, true}, cfg{2000, 1000, 80, false, false, true},
                       cfg{1000, 1000, 300, false, true, false}, cfg{3000, 300, 40, true, false, true},
                       cfg{300, 300, 50, true, true, false}}) {
    CAPTURE(c.ns);
    CAPTURE(c.nt);
    CAPTURE(c.k);
    CAPTURE(c.multapses);
    CAPTURE(c.same);
    const json p = {{"outdegree", c.k}, {"allow_multapses", c.multapses}, {"allow_autapses", c.autapses}};
    const auto e = generate("fixed_outdegree", p, ctx(c.ns, c.nt, c.same, 200 + c.k));
    CHECK(e.size() == uint64_t(c.ns) * c.k);
    const auto out = out_degrees(e, c.ns);
    CHECK(std::all_of(out.begin(), out.end(), [&](uint64_t d) { return d == c.k; }));
    if (!c.multapses) CHECK(duplicates(e) == 0);
    const bool excluded = c.same && !c.autapses;
    if (excluded) CHECK(autapses(e) == 0);
    if (excluded && c.k == c.nt - 1) continue;
    const uint32_t cand = excluded ? c.nt - 1 : c.nt;
    std::vector<uint64_t> counts(cand, 0);
    for (auto [s, t] : e) counts[excluded ? (t + c.nt - s) % c.nt - 1 : t]++;
    const double z = uniformity_z(counts, c.ns, c.k, c.multapses);
    INFO("uniformity z = ", z);
    CHECK(std::fabs(z) < z_crit);
  }
}

TEST_CASE("fixed_indegree and fixed_outdegree: every subset of sources equally likely") {
  // Small enough to enumerate: rows of k picks out of n, many rows, chi-square over the distinct
  // (sorted) rows against their exact probabilities.
  struct cfg {
    uint32_t n, k;
    bool multapses, exclude;
  };
  for (const cfg& c : {cfg{5, 3, false, false}, cfg{5, 2, false, false}, cfg{6, 2, false, true},
                       cfg{6, 4, false, true}, cfg{3, 2, true, false}, cfg{4, 2, true, true}}) {
    CAPTURE(c.n);
    CAPTURE(c.k);
    CAPTURE(c.multapses);
    CAPTURE(c.exclude);
    for (const char* name : {"fixed_indegree", "fixed_outdegree"}) {
      CAPTURE(name);
      const bool in = std::string(name) == "fixed_indegree";
      const json p = {{in ? "indegree" : "outdegree", c.k}, {"allow_multapses", c.multapses},
                      {"allow_autapses", !c.exclude}};
      std::map<std::vector<uint32_t>, uint64_t> seen;
      uint64_t rows = 0;
      // With autapses excluded the populations coincide, so many rows need many seeds; map each
      // row to picks relative to its own neuron so all rows share one set of outcomes.
      const uint32_t other = c.exclude ? c.n : 4000;
      for (uint64_t seed = 0; rows < 12000; ++seed) {
        const auto e = generate(name, p, c.exclude ? ctx(c.n, c.n, true, seed) : in ? ctx(c.n, other, false, seed)
                                                                                    : ctx(other, c.n, false, seed));
        std::map<uint32_t, std::vector<uint32_t>> by_row;
        for (auto [s, t] : e) {
          const uint32_t row = in ? t : s, pick = in ? s : t;
          by_row[row].push_back(c.exclude ? (pick + c.n - row) % c.n - 1 : pick);
        }
        for (auto& [row, picks] : by_row) {
          std::sort(picks.begin(), picks.end());
          ++seen[picks];
          ++rows;
        }
      }
      // Exact probabilities of each sorted outcome over m = n (or n - 1) candidates.
      const uint32_t m = c.exclude ? c.n - 1 : c.n;
      std::map<std::vector<uint32_t>, double> prob;
      std::vector<uint32_t> idx(c.k, 0);
      for (;;) {  // all k-tuples; sorted tuple collects probability m^-k (with replacement)
        std::vector<uint32_t> sorted = idx;
        std::sort(sorted.begin(), sorted.end());
        const bool distinct = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
        if (c.multapses || distinct) prob[sorted] += 1;
        uint32_t i = 0;
        while (i < c.k && ++idx[i] == m) idx[i++] = 0;
        if (i == c.k) break;
      }
      double total = 0;
      for (auto& [k, v] : prob) total += v;
      double x = 0;
      for (auto& [outcome, pr] : prob) {
        const double expected = rows * pr / total;
        const double got = seen.count(outcome) ? double(seen[outcome]) : 0.0;
        x += (got - expected) * (got - expected) / expected;
      }
      for (auto& [outcome, count] : seen) REQUIRE_MESSAGE(prob.count(outcome), "impossible row drawn");
      const double z = chi2_z(x, double(prob.size() - 1));
      INFO("outcomes ", prob.size(), " rows ", rows, " chi2 ", x, " z ", z);
      CHECK(std::fabs(z) < z_crit);
    }
  }
}

TEST_CASE("fixed_total_number: exactly N, no duplicate pairs without multapses, uniform pairs") {
  struct cfg {
    uint32_t ns, nt;
    uint64_t n;
    bool multapses, same, autapses;
  };
  for (const cfg& c : {cfg{300, 400, 30000, false, false, true}, cfg{300, 400, 30000, true, false, true},
                       cfg{200, 200, 39000, false, true, false}, cfg{100, 100, 9900, false, true, false},
                       cfg{50, 60, 3000, false, false, true}, cfg{250, 250, 20000, true, true, false}}) {
    CAPTURE(c.ns);
    CAPTURE(c.nt);
    CAPTURE(c.n);
    CAPTURE(c.multapses);
    CAPTURE(c.same);
    const json p = {{"N", c.n}, {"allow_multapses", c.multapses}, {"allow_autapses", c.autapses}};
    const auto e = generate("fixed_total_number", p, ctx(c.ns, c.nt, c.same, 300 + c.n));
    CHECK(e.size() == c.n);
    for (auto [s, t] : e) REQUIRE((s < c.ns && t < c.nt));
    if (!c.multapses) CHECK(duplicates(e) == 0);
    const bool excluded = c.same && !c.autapses;
    if (excluded) CHECK(autapses(e) == 0);
    const double pairs = double(c.ns) * c.nt - (excluded ? c.ns : 0);
    if (!c.multapses && double(c.n) == pairs) continue;
    // Per-source counts: multinomial with replacement; hypergeometric without, whose variance
    // carries the finite-population factor (pairs - N) / (pairs - 1).
    const auto out = out_degrees(e, c.ns);
    const double q = (excluded ? c.nt - 1.0 : double(c.nt)) / pairs;  // share of the pairs per source
    const double mean = double(c.n) * q;
    const double var = mean * (1 - q) * (c.multapses ? 1.0 : (pairs - double(c.n)) / (pairs - 1));
    // Pearson with per-cell variance; the fixed total and equal cells leave chi-square(ns - 1)
    // after scaling by (1 - q).
    const double x = pearson(out, mean, var) * (1 - q);
    const double z = chi2_z(x, c.ns - 1.0);
    INFO("per-source uniformity z = ", z);
    CHECK(std::fabs(z) < z_crit);
    const auto in = in_degrees(e, c.nt);
    const double qt = (excluded ? c.ns - 1.0 : double(c.ns)) / pairs;
    const double mt = double(c.n) * qt;
    const double vt = mt * (1 - qt) * (c.multapses ? 1.0 : (pairs - double(c.n)) / (pairs - 1));
    const double zt = chi2_z(pearson(in, mt, vt) * (1 - qt), c.nt - 1.0);
    INFO("per-target uniformity z = ", zt);
    CHECK(std::fabs(zt) < z_crit);
  }
}

TEST_CASE("fixed_total_number: every set of N pairs equally likely") {
  // Few enough pairs to enumerate the subsets; N below and above half of the allowed pairs takes
  // both ways of drawing (the chosen pairs, or the pairs left out).
  struct cfg {
    uint32_t ns, nt, n;
    bool same;
  };
  for (const cfg& c : {cfg{2, 3, 2, false}, cfg{2, 3, 4, false}, cfg{3, 3, 2, true}, cfg{3, 3, 4, true},
                       cfg{3, 3, 5, true}}) {
    CAPTURE(c.ns);
    CAPTURE(c.nt);
    CAPTURE(c.n);
    CAPTURE(c.same);
    const json p = {{"N", c.n}, {"allow_multapses", false}, {"allow_autapses", !c.same}};
    std::vector<uint32_t> allowed;  // pair index s * nt + t
    for (uint32_t s = 0; s < c.ns; ++s)
      for (uint32_t t = 0; t < c.nt; ++t)
        if (!(c.same && s == t)) allowed.push_back(s * c.nt + t);
    std::map<uint32_t, uint64_t> seen;  // bit mask over pair indices
    const uint64_t draws = 12000;
    for (uint64_t seed = 0; seed < draws; ++seed) {
      uint32_t mask = 0;
      for (auto [s, t] : generate("fixed_total_number", p, ctx(c.ns, c.nt, c.same, seed, 5))) {
        REQUIRE_FALSE((c.same && s == t));
        mask |= 1u << (s * c.nt + t);
      }
      REQUIRE(std::popcount(mask) == int(c.n));
      ++seen[mask];
    }
    uint64_t subsets = 0;
    for (uint32_t mask = 0; mask < (1u << (c.ns * c.nt)); ++mask) {
      bool ok = std::popcount(mask) == int(c.n);
      for (uint32_t b = 0; b < c.ns * c.nt && ok; ++b)
        if ((mask >> b & 1) && std::find(allowed.begin(), allowed.end(), b) == allowed.end()) ok = false;
      subsets += ok;
    }
    const double expected = double(draws) / double(subsets);
    double x = 0;
    for (auto [mask, count] : seen) x += (count - expected) * (count - expected) / expected;
    x += double(subsets - seen.size()) * expected;  // subsets never drawn
    REQUIRE(seen.size() <= subsets);
    const double z = chi2_z(x, double(subsets - 1));
    INFO("subsets ", subsets, " chi2 ", x, " z ", z);
    CHECK(std::fabs(z) < z_crit);
  }
}

TEST_CASE("one_to_one and all_to_all") {
  const auto o = generate("one_to_one", json::object(), ctx(500, 500, false, 1));
  REQUIRE(o.size() == 500);
  for (uint32_t i = 0; i < 500; ++i) CHECK((o[i].first == i && o[i].second == i));
  CHECK(generate("one_to_one", json::object(), ctx(40, 40, true, 1)).size() == 40);

  auto a = generate("all_to_all", json::object(), ctx(30, 50, false, 1));
  CHECK(a.size() == 1500);
  CHECK(duplicates(a) == 0);
  auto s = generate("all_to_all", json::object(), ctx(40, 40, true, 1));
  CHECK(s.size() == 1600);
  CHECK(autapses(s) == 40);
  auto n = generate("all_to_all", {{"allow_autapses", false}}, ctx(40, 40, true, 1));
  CHECK(n.size() == 1560);
  CHECK(autapses(n) == 0);
  CHECK(duplicates(n) == 0);
  // Different populations of equal size: index i to index i is not an autapse.
  CHECK(generate("all_to_all", {{"allow_autapses", false}}, ctx(40, 40, false, 1)).size() == 1600);
}

TEST_CASE("check() rejects impossible parameters and accepts the limits") {
  const auto c = ctx(100, 80, false, 1);
  const auto same = ctx(100, 100, true, 1);
  CHECK_FALSE(check("pairwise_bernoulli", {{"p", -0.1}}, c).empty());
  CHECK_FALSE(check("pairwise_bernoulli", {{"p", 1.0000001}}, c).empty());
  CHECK_FALSE(check("pairwise_bernoulli", {{"p", 2}}, c).empty());
  CHECK_FALSE(check("pairwise_bernoulli", {{"p", std::nan("")}}, c).empty());
  CHECK(check("pairwise_bernoulli", {{"p", 0.0}}, c).empty());
  CHECK(check("pairwise_bernoulli", {{"p", 1.0}}, c).empty());

  CHECK_FALSE(check("fixed_indegree", {{"indegree", 101u}, {"allow_multapses", false}}, c).empty());
  CHECK(check("fixed_indegree", {{"indegree", 100u}, {"allow_multapses", false}}, c).empty());
  CHECK(check("fixed_indegree", {{"indegree", 1000u}, {"allow_multapses", true}}, c).empty());
  CHECK_FALSE(check("fixed_indegree", {{"indegree", 100u}, {"allow_multapses", false}, {"allow_autapses", false}},
                    same).empty());
  CHECK(check("fixed_indegree", {{"indegree", 99u}, {"allow_multapses", false}, {"allow_autapses", false}}, same)
            .empty());
  CHECK_FALSE(check("fixed_indegree", {{"indegree", 1u}, {"allow_autapses", false}}, ctx(1, 1, true, 1)).empty());

  CHECK_FALSE(check("fixed_outdegree", {{"outdegree", 81u}, {"allow_multapses", false}}, c).empty());
  CHECK(check("fixed_outdegree", {{"outdegree", 80u}, {"allow_multapses", false}}, c).empty());
  CHECK(check("fixed_outdegree", {{"outdegree", 500u}, {"allow_multapses", true}}, c).empty());
  CHECK_FALSE(check("fixed_outdegree", {{"outdegree", 100u}, {"allow_multapses", false}, {"allow_autapses", false}},
                    same).empty());

  CHECK_FALSE(check("fixed_total_number", {{"N", 8001u}, {"allow_multapses", false}}, c).empty());
  CHECK(check("fixed_total_number", {{"N", 8000u}, {"allow_multapses", false}}, c).empty());
  CHECK(check("fixed_total_number", {{"N", 20000u}, {"allow_multapses", true}}, c).empty());
  CHECK_FALSE(check("fixed_total_number", {{"N", 9901u}, {"allow_multapses", false}, {"allow_autapses", false}},
                    same).empty());
  CHECK(check("fixed_total_number", {{"N", 9900u}, {"allow_multapses", false}, {"allow_autapses", false}}, same)
            .empty());
  CHECK_FALSE(check("fixed_total_number", {{"N", 1u}, {"allow_autapses", false}}, ctx(1, 1, true, 1)).empty());

  CHECK_FALSE(check("one_to_one", json::object(), c).empty());
  CHECK(check("one_to_one", json::object(), ctx(80, 80, false, 1)).empty());
  CHECK(check("all_to_all", json::object(), c).empty());
}

namespace {

struct csr {
  std::vector<uint64_t> row;
  std::vector<uint32_t> targets;
  std::vector<float> weights, delays;
  bool operator==(const csr&) const = default;
};
csr build(const std::string& name, const json& params, const gs::rule_context& c,
            const gs::value_spec& w = gs::value_spec::of(1.0), const gs::value_spec& d = gs::value_spec::of(1.0)) {
  gs::projection p = gs::connect(rule(name), full(name, params), c, w, d);
  REQUIRE(p.row.size() == c.n_source + 1);
  REQUIRE(p.row.front() == 0);
  REQUIRE(p.row.back() == p.targets.size());
  REQUIRE(std::is_sorted(p.row.begin(), p.row.end()));
  REQUIRE((p.weights.empty() || p.weights.size() == p.targets.size()));
  REQUIRE((p.delays.empty() || p.delays.size() == p.targets.size()));
  return {p.row, p.targets, p.weights, p.delays};
}

gs::value_spec uniform(double a, double b) {
  gs::value_spec v;
  v.kind = gs::value_spec::uniform;
  v.a = a;
  v.b = b;
  return v;
}

// The (source, target) pairs a CSR holds, in row order.
std::vector<edge> edges_of(const csr& p) {
  std::vector<edge> e;
  for (uint32_t s = 0; s + 1 < p.row.size(); ++s)
    for (uint64_t k = p.row[s]; k < p.row[s + 1]; ++k) e.emplace_back(s, p.targets[k]);
  return e;
}

}  // namespace

TEST_CASE("connect: the CSR holds exactly the pairs the rule emits") {
  for (const auto& [name, params] : std::vector<std::pair<std::string, json>>{
           {"pairwise_bernoulli", {{"p", 0.1}}},
           {"fixed_indegree", {{"indegree", 20u}}},
           {"fixed_outdegree", {{"outdegree", 20u}}},
           {"fixed_total_number", {{"N", 5000u}}},
           {"one_to_one", json::object()},
           {"all_to_all", json::object()}}) {
    CAPTURE(name);
    const auto c = ctx(300, 300, false, 42, 3);
    auto emitted = generate(name, params, c);
    auto stored = edges_of(build(name, params, c));
    std::sort(emitted.begin(), emitted.end());
    std::sort(stored.begin(), stored.end());
    CHECK(emitted == stored);
  }
}

TEST_CASE("determinism: same seed same CSR, another seed or projection another CSR") {
  for (const auto& [name, params] : std::vector<std::pair<std::string, json>>{
           {"pairwise_bernoulli", {{"p", 0.1}}},
           {"fixed_indegree", {{"indegree", 20u}, {"allow_multapses", false}}},
           {"fixed_indegree", {{"indegree", 200u}, {"allow_multapses", false}}},
           {"fixed_outdegree", {{"outdegree", 20u}}},
           {"fixed_total_number", {{"N", 5000u}, {"allow_multapses", false}}}}) {
    CAPTURE(name);
    const auto w = uniform(0.5, 2.0), d = uniform(0.1, 3.0);
    const csr a = build(name, params, ctx(300, 300, true, 42, 3), w, d);
    const csr b = build(name, params, ctx(300, 300, true, 42, 3), w, d);
    CHECK(a == b);
    CHECK_FALSE(a == build(name, params, ctx(300, 300, true, 43, 3), w, d));
    CHECK_FALSE(a == build(name, params, ctx(300, 300, true, 42, 4), w, d));
    // Seeds that differ only in the upper 32 bits are different seeds too.
    CHECK_FALSE(a == build(name, params, ctx(300, 300, true, 42 + (uint64_t(1) << 32), 3), w, d));

    // The builder calls generate twice and relies on the same emission order both times.
    edge_sink first, second;
    const json p = full(name, params);
    rule(name).generate(p, ctx(300, 300, true, 42, 3), first);
    rule(name).generate(p, ctx(300, 300, true, 42, 3), second);
    CHECK(first.edges == second.edges);
  }
}

TEST_CASE("distributed weights: within bounds, mean within 3 standard errors") {
  const double a = -3.0, b = 5.0;
  const csr p = build("fixed_indegree", {{"indegree", 100u}}, ctx(1000, 1000, false, 9), uniform(a, b));
  REQUIRE(p.weights.size() == p.targets.size());
  CHECK(p.delays.empty());
  double sum = 0, sum2 = 0;
  for (float w : p.weights) {
    REQUIRE((w >= a && w <= b));
    sum += w;
    sum2 += double(w) * w;
  }
  const double n = double(p.weights.size());
  const double mean = sum / n, var = sum2 / n - mean * mean;
  const double se = (b - a) / std::sqrt(12 * n);
  INFO("weight mean ", mean, " expected ", (a + b) / 2, " SE ", se, "; variance ", var, " expected ",
       (b - a) * (b - a) / 12);
  CHECK(std::fabs(mean - (a + b) / 2) <= 3 * se);
  // Uniform variance (b-a)^2/12 with SE (b-a)^2 sqrt(1/180 n) (fourth central moment (b-a)^4/80).
  CHECK(std::fabs(var - (b - a) * (b - a) / 12) <= 4 * (b - a) * (b - a) * std::sqrt(1 / (180 * n)));
  // Weights are not all equal and not correlated with the position in the row.
  CHECK(std::set<float>(p.weights.begin(), p.weights.end()).size() > p.weights.size() / 2);
}

TEST_CASE("distributed delays: rows sorted by delay, each synapse keeps its target, weight and delay") {
  // Without multapses a target appears once per row, so (row, target) names a synapse. The
  // weight stream does not depend on the delay spec and vice versa, so the unsorted projection
  // with constant delay says which weight belongs to which synapse, and the one with constant
  // weight which delay does.
  for (const auto& [name, params] : std::vector<std::pair<std::string, json>>{
           {"fixed_indegree", {{"indegree", 50u}, {"allow_multapses", false}}},
           {"pairwise_bernoulli", {{"p", 0.2}}},
           {"fixed_total_number", {{"N", 20000u}, {"allow_multapses", false}}},
           {"all_to_all", json::object()}}) {
    CAPTURE(name);
    const auto c = ctx(400, 300, false, 77, 2);
    const auto w = uniform(0.5, 2.0), d = uniform(0.1, 5.0);
    const csr wonly = build(name, params, c, w, gs::value_spec::of(1.5));
    const csr donly = build(name, params, c, gs::value_spec::of(0.7), d);
    const csr both = build(name, params, c, w, d);
    REQUIRE(wonly.delays.empty());
    REQUIRE(donly.weights.empty());
    REQUIRE(both.weights.size() == both.targets.size());
    REQUIRE(both.delays.size() == both.targets.size());
    CHECK(both.row == wonly.row);
    CHECK(both.row == donly.row);
    uint64_t checked = 0;
    double dsum = 0;
    for (uint32_t s = 0; s < c.n_source; ++s) {
      std::map<uint32_t, float> weight_of, delay_of;
      for (uint64_t k = wonly.row[s]; k < wonly.row[s + 1]; ++k) weight_of[wonly.targets[k]] = wonly.weights[k];
      for (uint64_t k = donly.row[s]; k < donly.row[s + 1]; ++k) delay_of[donly.targets[k]] = donly.delays[k];
      std::set<std::tuple<uint32_t, float, float>> expected, got;
      for (auto [t, wt] : weight_of) expected.emplace(t, wt, delay_of.at(t));
      for (uint64_t k = both.row[s]; k < both.row[s + 1]; ++k) {
        got.emplace(both.targets[k], both.weights[k], both.delays[k]);
        REQUIRE((both.delays[k] >= 0.1f && both.delays[k] <= 5.0f));
        dsum += both.delays[k];
        if (k > both.row[s]) REQUIRE(both.delays[k - 1] <= both.delays[k]);
        ++checked;
      }
      REQUIRE(weight_of.size() == wonly.row[s + 1] - wonly.row[s]);  // no multapses
      REQUIRE(got == expected);
      REQUIRE(std::is_sorted(donly.delays.begin() + donly.row[s], donly.delays.begin() + donly.row[s + 1]));
    }
    CHECK(checked == both.targets.size());
    const double n = double(checked), mean = dsum / n, se = 4.9 / std::sqrt(12 * n);
    INFO("delay mean ", mean, " expected 2.55 SE ", se);
    CHECK(std::fabs(mean - 2.55) <= 3 * se);
  }
}
