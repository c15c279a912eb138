// Spatial populations and distance-dependent rules: positions as documented, masks respected
// exactly (compared with a brute-force enumeration of all pairs written here), fixed_indegree's
// spatial sampling against its exact probabilities, and run-file errors that name the JSON path.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/network.hpp"
#include "io/config.hpp"
#include "tests/support/sim.hpp"

namespace {

using gs::json;
using edge = std::pair<uint32_t, uint32_t>;

struct built {
  gs::run_config cfg;
  gs::network net;
};

gs::run_config load(const json& doc) {
  gs::test::scratch_dir dir;
  return gs::load_config(dir.write("run.json", doc.dump()), {}, gs::default_registry());
}

built build(const json& doc) {
  built b{load(doc), {}};
  b.net = gs::build_network(b.cfg, gs::default_registry());
  return b;
}

// The error a bad run file gives: its dotted path and message parts.
void expect_error(const json& doc, const std::string& path, const std::vector<std::string>& parts, bool at_build = false) {
  try {
    if (at_build) build(doc);
    else load(doc);
    FAIL("no error for ", path);
  } catch (const gs::config_error& e) {
    INFO("error: ", e.what());
    CHECK(e.path == path);
    for (const auto& part : parts) CHECK_MESSAGE(e.problem.find(part) != std::string::npos, "missing: ", part);
  }
}

json doc_with(const json& populations, const json& projections = json::array()) {
  return {{"run", {{"duration", 1.0}, {"seed", 5}}}, {"populations", populations}, {"projections", projections}};
}

json layer(const json& positions, uint32_t size = 0) {
  json p = {{"model", "parrot_neuron"}, {"positions", positions}};
  if (size) p["size"] = size;
  return p;
}

std::vector<edge> edges_of(const gs::projection& p) {
  std::vector<edge> e;
  for (uint32_t s = 0; s + 1 < p.row.size(); ++s)
    for (uint64_t k = p.row[s]; k < p.row[s + 1]; ++k) e.emplace_back(s, p.targets[k]);
  return e;
}

// Minimum-image displacement, written out independently of the library.
std::pair<double, double> disp(const gs::position& a, const gs::position& b, bool periodic, double w, double h) {
  double dx = b[0] - a[0], dy = b[1] - a[1];
  if (periodic) {
    dx = std::remainder(dx, w);
    dy = std::remainder(dy, h);
  }
  return {dx, dy};
}

struct edge_sink final : gs::synapse_sink {
  std::vector<edge> edges;
  void add(uint32_t s, uint32_t t) override { edges.emplace_back(s, t); }
};

const gs::rule_info& rule(const std::string& name) { return *gs::default_registry().find_rule(name); }

}  // namespace

TEST_CASE("grid positions: cell centres row-major from the top left; size derived from the shape or checked") {
  const json g = {{"grid", {{"shape", {3, 4}}, {"extent", {2.0, 1.5}}, {"center", {1.0, -2.0}}}}};
  const built b = build(doc_with({{"g", layer(g)}}));
  REQUIRE(b.cfg.populations[0].size == 12);
  const auto& pos = b.net.positions[0];
  REQUIRE(pos.size() == 12);
  for (uint32_t i = 0; i < 12; ++i) {
    const uint32_t r = i / 4, c = i % 4;
    CAPTURE(i);
    CHECK(pos[i][0] == doctest::Approx(1.0 - 1.0 + 0.5 * (c + 0.5)));  // columns 0.5 apart from x = 0
    CHECK(pos[i][1] == doctest::Approx(-2.0 + 0.75 - 0.5 * (r + 0.5)));  // rows 0.5 apart from y = -1.25, top first
  }
  // Given, the size must agree with the shape.
  json sized = layer(g, 12);
  CHECK(load(doc_with({{"g", sized}})).populations[0].size == 12);
  expect_error(doc_with({{"g", layer(g, 13)}}), "populations.g.size", {"size 13", "3 x 4 = 12"});
  // Defaults: extent [1, 1] around the origin.
  const built d = build(doc_with({{"g", layer({{"grid", {{"shape", {1, 2}}}}})}}));
  CHECK(d.net.positions[0][0][0] == doctest::Approx(-0.25));
  CHECK(d.net.positions[0][1][0] == doctest::Approx(0.25));
  CHECK(d.net.positions[0][1][1] == doctest::Approx(0.0));
  // Populations without positions have none.
  const built plain = build(doc_with({{"p", {{"size", 3}, {"model", "parrot_neuron"}}}}));
  CHECK(plain.net.positions[0].empty());
}

TEST_CASE("random positions: inside the extent, uniform, reproducible and keyed by the seed") {
  const json r = {{"random", {{"extent", {3.0, 0.5}}, {"center", {-1.0, 4.0}}}}};
  const uint32_t n = 20000;
  json doc = doc_with({{"a", layer(r, n)}, {"b", layer(r, n)}});
  const built b = build(doc);
  const auto& pos = b.net.positions[0];
  REQUIRE(pos.size() == n);
  double mx = 0, my = 0;
  for (const auto& p : pos) {
    REQUIRE((p[0] >= -2.5 && p[0] < 0.5 && p[1] >= 3.75 && p[1] < 4.25));
    mx += p[0] / n, my += p[1] / n;
  }
  // Uniform means within 3 standard errors (side / sqrt(12 n)).
  CHECK(std::fabs(mx + 1.0) <= 3 * 3.0 / std::sqrt(12.0 * n));
  CHECK(std::fabs(my - 4.0) <= 3 * 0.5 / std::sqrt(12.0 * n));
  // Quadrant counts: a chi-square with 3 degrees of freedom, below its 1e-4 quantile 21.1.
  std::vector<double> q(4, 0);
  for (const auto& p : pos) q[size_t((p[0] > -1.0) + 2 * (p[1] > 4.0))] += 1;
  double chi2 = 0;
  for (double c : q) chi2 += (c - n / 4.0) * (c - n / 4.0) / (n / 4.0);
  CHECK(chi2 < 21.1);
  // Another population with the same layout gets other positions; the same seed the same ones.
  CHECK(b.net.positions[1] != pos);
  CHECK(build(doc).net.positions[0] == pos);
  doc["run"]["seed"] = 6;
  CHECK(build(doc).net.positions[0] != pos);
}

TEST_CASE("masks are exact: with p = 1 the synapses are exactly the pairs inside the mask") {
  struct mcase {
    std::string name;
    json mask;
    bool periodic;
    bool grid;
  };
  auto inside = [](const json& m, double dx, double dy) {
    const double r = std::sqrt(dx * dx + dy * dy);
    if (m.contains("circular")) return r <= m["circular"]["radius"].get<double>();
    if (m.contains("doughnut"))
      return r >= m["doughnut"]["inner_radius"].get<double>() && r <= m["doughnut"]["outer_radius"].get<double>();
    const auto& b = m["box"];
    return dx >= b["lower_left"][0].get<double>() && dx <= b["upper_right"][0].get<double>() &&
           dy >= b["lower_left"][1].get<double>() && dy <= b["upper_right"][1].get<double>();
  };
  const json circ = {{"circular", {{"radius", 0.13}}}};
  const json dough = {{"doughnut", {{"inner_radius", 0.05}, {"outer_radius", 0.2}}}};
  const json box = {{"box", {{"lower_left", {0.02, -0.3}}, {"upper_right", {0.25, -0.1}}}}};
  const json huge = {{"circular", {{"radius", 0.9}}}};  // beyond half the extent of a torus
  for (const mcase& mc : std::vector<mcase>{{"circular", circ, false, true},
                                            {"circular periodic", circ, true, false},
                                            {"doughnut", dough, false, false},
                                            {"doughnut periodic", dough, true, true},
                                            {"box", box, false, true},
                                            {"box periodic", box, true, false},
                                            {"large periodic", huge, true, false}}) {
    CAPTURE(mc.name);
    const json pos = mc.grid ? json{{"grid", {{"shape", {30, 40}}, {"extent", {1.2, 0.9}}}}, {"periodic", mc.periodic}}
                             : json{{"random", {{"extent", {1.2, 0.9}}}}, {"periodic", mc.periodic}};
    const json other = {{"random", {{"extent", {1.2, 0.9}}, {"center", {0.0, 0.0}}}}, {"periodic", mc.periodic}};
    const json doc = doc_with(
        {{"a", layer(pos, mc.grid ? 0 : 1100)}, {"b", layer(other, 900)}},
        json::array({{{"source", "a"}, {"target", {"a", "b"}},
                      {"rule", {{"pairwise_bernoulli", {{"p", 1.0}, {"mask", mc.mask}, {"allow_autapses", false}}}}}}}));
    const built b = build(doc);
    for (uint32_t k = 0; k < 2; ++k) {
      const auto& src = b.net.positions[0];
      const auto& tgt = b.net.positions[k];
      std::vector<edge> expected;
      for (uint32_t s = 0; s < src.size(); ++s)
        for (uint32_t t = 0; t < tgt.size(); ++t) {
          if (k == 0 && s == t) continue;
          const auto [dx, dy] = disp(src[s], tgt[t], mc.periodic, 1.2, 0.9);
          if (inside(mc.mask, dx, dy)) expected.emplace_back(s, t);
        }
      const auto got = edges_of(b.net.projections[k]);
      CHECK(got == expected);  // rows in increasing target order
      CHECK_FALSE(expected.empty());
    }
  }
}

TEST_CASE("a constant p with a mask: each pair inside the mask with probability p, none outside") {
  const json pos = {{"grid", {{"shape", {60, 60}}}}, {"periodic", true}};
  const json doc = doc_with({{"a", layer(pos)}}, json::array({{{"source", "a"}, {"target", "a"},
                                                                {"rule", {{"pairwise_bernoulli",
                                                                           {{"p", 0.3}, {"mask", {{"circular", {{"radius", 0.1}}}}}}}}}}}));
  const built b = build(doc);
  const auto& pos_a = b.net.positions[0];
  uint64_t pairs = 0;
  for (uint32_t s = 0; s < pos_a.size(); ++s)
    for (uint32_t t = 0; t < pos_a.size(); ++t) {
      const auto [dx, dy] = disp(pos_a[s], pos_a[t], true, 1, 1);
      pairs += dx * dx + dy * dy <= 0.01;
    }
  for (const auto& [s, t] : edges_of(b.net.projections[0])) {
    const auto [dx, dy] = disp(pos_a[s], pos_a[t], true, 1, 1);
    REQUIRE(dx * dx + dy * dy <= 0.01);
  }
  const double n = double(b.net.projections[0].synapses()), mean = 0.3 * pairs, se = std::sqrt(pairs * 0.3 * 0.7);
  INFO("synapses ", n, " expected ", mean, " +- ", se);
  CHECK(std::fabs(n - mean) <= 3 * se);
}

TEST_CASE("spatial fixed_indegree: exact in-degree, sources inside the mask, drawn in proportion to the profile") {
  const double sigma = 0.1, radius = 0.25;
  for (bool multapses : {true, false}) {
    CAPTURE(multapses);
    const json doc = doc_with(
        {{"src", layer({{"random", {{"extent", {1.0, 1.0}}}}, {"periodic", true}}, 3000)},
         {"tgt", layer({{"grid", {{"shape", {20, 20}}}}, {"periodic", true}})}},
        json::array({{{"source", "src"}, {"target", "tgt"},
                      {"rule", {{"fixed_indegree", {{"indegree", 25}, {"allow_multapses", multapses},
                                                    {"p", {{"gaussian", {{"sigma", sigma}}}}},
                                                    {"mask", {{"circular", {{"radius", radius}}}}}}}}}}}));
    const built b = build(doc);
    const auto& src = b.net.positions[0];
    const auto& tgt = b.net.positions[1];
    const auto e = edges_of(b.net.projections[0]);
    std::vector<uint64_t> indeg(tgt.size(), 0);
    std::set<edge> distinct;
    const int bins = 5;
    std::vector<double> found(bins, 0), mean(bins, 0), var(bins, 0);
    auto bin_of = [&](double r) { return std::min(bins - 1, int(r / radius * bins)); };
    for (auto [s, t] : e) {
      ++indeg[t];
      distinct.insert({s, t});
      const auto [dx, dy] = disp(src[s], tgt[t], true, 1, 1);
      const double r = std::sqrt(dx * dx + dy * dy);
      REQUIRE(r <= radius);
      found[size_t(bin_of(r))] += 1;
    }
    CHECK(std::all_of(indeg.begin(), indeg.end(), [](uint64_t d) { return d == 25; }));
    if (!multapses) CHECK(distinct.size() == e.size());
    if (!multapses) continue;
    // With replacement each target's 25 draws are multinomial over its candidates, weight
    // exp(-r^2 / 2 sigma^2): the count in a distance bin has mean 25 q and variance 25 q (1 - q)
    // per target, q the bin's share of the target's total weight.
    for (uint32_t t = 0; t < tgt.size(); ++t) {
      std::vector<double> w(bins, 0);
      double total = 0;
      for (uint32_t s = 0; s < src.size(); ++s) {
        const auto [dx, dy] = disp(src[s], tgt[t], true, 1, 1);
        const double r = std::sqrt(dx * dx + dy * dy);
        if (r > radius) continue;
        const double x = std::exp(-r * r / (2 * sigma * sigma));
        w[size_t(bin_of(r))] += x, total += x;
      }
      for (int i = 0; i < bins; ++i) {
        const double q = w[size_t(i)] / total;
        mean[size_t(i)] += 25 * q, var[size_t(i)] += 25 * q * (1 - q);
      }
    }
    for (int i = 0; i < bins; ++i) {
      const double se = std::sqrt(var[size_t(i)]);
      INFO("bin ", i, ": ", found[size_t(i)], " expected ", mean[size_t(i)], " +- ", se);
      CHECK(std::fabs(found[size_t(i)] - mean[size_t(i)]) <= 3 * se);
    }
  }
}

TEST_CASE("spatial fixed_indegree without multapses is successive sampling: exact subset probabilities") {
  // Three sources at distances 0.1, 0.2, 0.3 from every target; two draws without repeats. A
  // subset {i, j} is drawn with probability w_i/W * w_j/(W - w_i) + w_j/W * w_i/(W - w_j).
  const uint32_t targets = 30000;
  std::vector<gs::position> src{{0.1, 0}, {0, 0.2}, {-0.3, 0}}, tgt(targets, gs::position{0, 0});
  gs::rule_context c;
  c.n_source = 3, c.n_target = targets, c.seed = 99, c.projection = 0;
  c.source_spatial = c.target_spatial = true;
  c.source_positions = src, c.target_positions = tgt;
  const double tau = 0.15;
  const json p = {{"indegree", 2u}, {"allow_autapses", true}, {"allow_multapses", false},
                  {"p", {{"exponential", {{"tau", tau}}}}}, {"mask", {{"circular", {{"radius", 0.5}}}}}};
  REQUIRE(rule("fixed_indegree").check(p, c).empty());
  edge_sink sink;
  rule("fixed_indegree").generate(p, c, sink);
  REQUIRE(sink.edges.size() == 2 * targets);
  std::map<std::pair<uint32_t, uint32_t>, double> seen;
  for (size_t k = 0; k < sink.edges.size(); k += 2) {
    REQUIRE(sink.edges[k].second == sink.edges[k + 1].second);
    REQUIRE(sink.edges[k].first < sink.edges[k + 1].first);
    seen[{sink.edges[k].first, sink.edges[k + 1].first}] += 1;
  }
  const double w[3] = {std::exp(-0.1 / tau), std::exp(-0.2 / tau), std::exp(-0.3 / tau)};
  const double W = w[0] + w[1] + w[2];
  double chi2 = 0;
  for (auto [i, j] : std::vector<std::pair<int, int>>{{0, 1}, {0, 2}, {1, 2}}) {
    const double prob = w[i] / W * w[j] / (W - w[i]) + w[j] / W * w[i] / (W - w[j]);
    const double expected = prob * targets, got = seen[{uint32_t(i), uint32_t(j)}];
    chi2 += (got - expected) * (got - expected) / expected;
  }
  INFO("chi2 (2 degrees of freedom) = ", chi2);
  CHECK(chi2 < 18.4);  // the 1e-4 quantile
}

TEST_CASE("spatial fixed_indegree: a target with too few sources in its mask is an error naming the projection") {
  const json doc = doc_with(
      {{"a", layer({{"grid", {{"shape", {10, 10}}}}})}},
      json::array({{{"source", "a"}, {"target", "a"},
                    {"rule", {{"fixed_indegree", {{"indegree", 6}, {"allow_multapses", false}, {"allow_autapses", false},
                                                  {"mask", {{"circular", {{"radius", 0.1}}}}}}}}}}}));
  // On a 10 x 10 grid of spacing 0.1 a corner neuron has 2 neighbours within 0.1, an inner one 4.
  expect_error(doc, "projections.0.rule.fixed_indegree", {"target neuron 0", "fewer than indegree 6",
                                                          "without multapses", "source \"a\", target \"a\""}, true);
}

TEST_CASE("spatial rules are deterministic and visit each pair once") {
  const json doc = doc_with(
      {{"a", layer({{"random", {{"extent", {1.0, 1.0}}}}, {"periodic", true}}, 4000)}},
      json::array({{{"source", "a"}, {"target", "a"},
                    {"rule", {{"pairwise_bernoulli", {{"p", {{"gaussian", {{"p_center", 0.5}, {"sigma", 0.05}}}}},
                                                      {"mask", {{"circular", {{"radius", 0.2}}}}}}}}}},
                   {{"source", "a"}, {"target", "a"},
                    {"rule", {{"fixed_indegree", {{"indegree", 10}, {"p", {{"exponential", {{"tau", 0.1}}}}}}}}}}}));
  const built a = build(doc), b = build(doc);
  for (size_t k = 0; k < 2; ++k) {
    CHECK(a.net.projections[k].row == b.net.projections[k].row);
    CHECK(a.net.projections[k].targets == b.net.projections[k].targets);
    const auto e = edges_of(a.net.projections[k]);
    if (k == 0) CHECK(std::set<edge>(e.begin(), e.end()).size() == e.size());
  }
  json other = doc;
  other["run"]["seed"] = 77;
  CHECK(build(other).net.projections[0].targets != a.net.projections[0].targets);
}

TEST_CASE("run-file errors name the JSON path") {
  const json grid = layer({{"grid", {{"shape", {10, 10}}}}});
  auto with_rule = [&](const json& rule_body, const json& pops = nullptr) {
    return doc_with(pops.is_null() ? json{{"a", grid}, {"plain", {{"size", 10}, {"model", "parrot_neuron"}}}} : pops,
                    json::array({{{"source", "a"}, {"target", "a"}, {"rule", {{"pairwise_bernoulli", rule_body}}}}}));
  };
  const std::string rp = "projections.0.rule.pairwise_bernoulli";
  expect_error(with_rule({{"p", {{"gaussian", {{"p_center", 1.5}, {"sigma", 0.1}}}}}}), rp + ".p.gaussian.p_center",
               {"p_center = 1.5 is outside [0, 1]"});
  expect_error(with_rule({{"p", {{"gaussian", {{"sigma", 0.0}}}}}}), rp + ".p.gaussian.sigma", {"sigma must be > 0"});
  expect_error(with_rule({{"p", {{"exponential", {{"tau", -1.0}}}}}}), rp + ".p.exponential.tau", {"tau must be > 0"});
  expect_error(with_rule({{"p", {{"gaussian", {{"p_center", 0.5}}}}}}), rp + ".p.gaussian.sigma", {"required"});
  expect_error(with_rule({{"p", {{"gausian", {{"sigma", 0.1}}}}}}), rp + ".p.gausian",
               {"unknown", "did you mean \"gaussian\"?"});
  expect_error(with_rule({{"p", {{"gaussian", {{"sigma", 0.1}, {"mean", 0.0}}}}}}), rp + ".p.gaussian.mean",
               {"unknown key"});
  expect_error(with_rule({{"p", "far"}}), rp + ".p", {"expected a number in [0, 1] or a distance profile"});
  expect_error(with_rule({{"p", 0.1}, {"mask", {{"circular", {{"radious", 0.1}}}}}}), rp + ".mask.circular.radious",
               {"did you mean \"radius\"?"});
  expect_error(with_rule({{"p", 0.1}, {"mask", {{"circle", {{"radius", 0.1}}}}}}), rp + ".mask.circle",
               {"unknown mask", "did you mean \"circular\"?"});
  expect_error(with_rule({{"p", 0.1}, {"mask", {{"doughnut", {{"inner_radius", 0.2}, {"outer_radius", 0.1}}}}}}),
               rp + ".mask.doughnut.outer_radius", {"must be larger than inner_radius"});
  expect_error(with_rule({{"p", 0.1}, {"mask", {{"box", {{"lower_left", {0.1, 0.1}}, {"upper_right", {0.0, 0.3}}}}}}}),
               rp + ".mask.box.upper_right", {"above and right of"});
  expect_error(with_rule({{"p", 0.1}, {"mask", {{"box", {{"lower_left", {0.1}}, {"upper_right", {0.2, 0.3}}}}}}}),
               rp + ".mask.box.lower_left", {"expected [x, y]"});
  // Distances need positions on both sides.
  const json no_pos = doc_with({{"a", grid}, {"plain", {{"size", 10}, {"model", "parrot_neuron"}}}},
                               json::array({{{"source", "a"}, {"target", "plain"},
                                             {"rule", {{"pairwise_bernoulli", {{"p", {{"gaussian", {{"sigma", 0.1}}}}}}}}}}}));
  expect_error(no_pos, rp + ".p", {"depends on distance", "population \"plain\" has no \"positions\""});
  json mask_only = no_pos;
  mask_only["projections"][0]["rule"]["pairwise_bernoulli"] = {{"p", 0.5}, {"mask", {{"circular", {{"radius", 0.1}}}}}};
  mask_only["projections"][0]["source"] = "plain";
  mask_only["projections"][0]["target"] = "a";
  expect_error(mask_only, rp + ".mask", {"population \"plain\" has no \"positions\""});
  // A torus needs both sides periodic, with one extent.
  const json periodic = layer({{"grid", {{"shape", {10, 10}}}}, {"periodic", true}});
  const json wide = layer({{"grid", {{"shape", {10, 10}}, {"extent", {2.0, 1.0}}}}, {"periodic", true}});
  const json pb = {{"pairwise_bernoulli", {{"p", {{"gaussian", {{"sigma", 0.1}}}}}}}};
  expect_error(doc_with({{"a", grid}, {"b", periodic}}, json::array({{{"source", "a"}, {"target", "b"}, {"rule", pb}}})),
               rp, {"\"b\" is periodic and \"a\" is not"});
  expect_error(doc_with({{"a", wide}, {"b", periodic}}, json::array({{{"source", "a"}, {"target", "b"}, {"rule", pb}}})),
               rp, {"different extents"});
  // fixed_indegree takes the same forms.
  expect_error(doc_with({{"a", grid}}, json::array({{{"source", "a"}, {"target", "a"},
                                                     {"rule", {{"fixed_indegree", {{"indegree", 3},
                                                                                   {"p", {{"exponential", {{"tau", 0}}}}}}}}}}})),
               "projections.0.rule.fixed_indegree.p.exponential.tau", {"tau must be > 0"});

  // positions themselves
  auto pop = [&](const json& positions, const json& size = nullptr) {
    json p = {{"model", "parrot_neuron"}, {"positions", positions}};
    if (!size.is_null()) p["size"] = size;
    return doc_with({{"a", p}});
  };
  expect_error(pop({{"grid", {{"shape", {2, 2}}}}, {"random", json::object()}}, 4), "populations.a.positions",
               {"exactly one of \"grid\" and \"random\""});
  expect_error(pop({{"grid", {{"shape", {2}}}}}), "populations.a.positions.grid.shape", {"[rows, columns]"});
  expect_error(pop({{"grid", {{"shape", {2, 0}}}}}), "populations.a.positions.grid.shape", {"at least one row"});
  expect_error(pop({{"grid", {{"shape", {2, 2}}, {"extent", {1.0, -1.0}}}}}), "populations.a.positions.grid.extent.1",
               {"expected a positive number"});
  expect_error(pop({{"random", {{"extent", {1.0, 1.0}}}}}), "populations.a.size", {"is required"});
  expect_error(pop({{"random", {{"extnt", {1.0, 1.0}}}}}, 3), "populations.a.positions.random.extnt",
               {"did you mean \"extent\"?"});
  expect_error(pop({{"grid", {{"shape", {2, 2}}}}, {"periodic", "yes"}}), "populations.a.positions.periodic",
               {"expected true or false"});
  expect_error(pop({{"grid", {{"shape", {2, 2}}}}, {"torus", true}}), "populations.a.positions.torus",
               {"unknown key"});
}
