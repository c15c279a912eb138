// Distance-dependent pairwise_bernoulli against its definition: on grids and random positions,
// periodic and not, the synapses found at each distance match the profile. For every pair the
// test computes the displacement (its own torus arithmetic), the mask and p(d) (its own
// formulas), then bins pairs by distance: the count of synapses in a bin is a sum of independent
// Bernoulli variables, mean sum p, variance sum p (1 - p), and must lie within 3 standard errors.
// Every synapse must lie in the mask: the mask is respected exactly, not statistically.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/network.hpp"
#include "io/config.hpp"
#include "tests/support/sim.hpp"

namespace {

using gs::json;

struct built {
  gs::run_config cfg;
  gs::network net;
};

built build(const json& doc) {
  gs::test::scratch_dir dir;
  const auto file = dir.write("run.json", doc.dump());
  built b{gs::load_config(file, {}, gs::default_registry()), {}};
  b.net = gs::build_network(b.cfg, gs::default_registry());
  return b;
}

json population(const json& positions, uint32_t size = 0) {
  json p = {{"model", "parrot_neuron"}, {"positions", positions}};
  if (size) p["size"] = size;
  return p;
}

// The test's own geometry: NEST-style torus, minimum image.
struct geo {
  bool periodic;
  double w, h;
  std::pair<double, double> d(const gs::position& a, const gs::position& b) const {
    double dx = b[0] - a[0], dy = b[1] - a[1];
    if (periodic) {
      while (dx > w / 2) dx -= w;
      while (dx < -w / 2) dx += w;
      while (dy > h / 2) dy -= h;
      while (dy < -h / 2) dy += h;
    }
    return {dx, dy};
  }
};

struct profile_def {
  std::string kind;  // gaussian, exponential
  double p_center, scale;
  double operator()(double r) const {
    return kind == "gaussian" ? p_center * std::exp(-r * r / (2 * scale * scale)) : p_center * std::exp(-r / scale);
  }
  json to_json() const {
    return {{kind, {{"p_center", p_center}, {kind == "gaussian" ? "sigma" : "tau", scale}}}};
  }
};

struct mask_def {
  std::string kind;  // "", circular, doughnut, box
  double inner = 0, outer = 0, llx = 0, lly = 0, urx = 0, ury = 0;
  bool in(double dx, double dy) const {
    const double r = std::sqrt(dx * dx + dy * dy);
    if (kind == "circular") return r <= outer;
    if (kind == "doughnut") return r >= inner && r <= outer;
    if (kind == "box") return dx >= llx && dx <= urx && dy >= lly && dy <= ury;
    return true;
  }
  json to_json() const {
    if (kind == "circular") return {{"circular", {{"radius", outer}}}};
    if (kind == "doughnut") return {{"doughnut", {{"inner_radius", inner}, {"outer_radius", outer}}}};
    return {{"box", {{"lower_left", {llx, lly}}, {"upper_right", {urx, ury}}}}};
  }
  double reach() const {
    if (kind == "box") return std::sqrt(std::max(llx * llx, urx * urx) + std::max(lly * lly, ury * ury));
    return outer;
  }
};

struct scenario {
  std::string name;
  json source_positions, target_positions;  // target null: the same population
  uint32_t source_size = 0, target_size = 0;
  profile_def prof;
  mask_def mask;
  bool autapses = true;
  uint64_t seed;
};

void check_scenario(const scenario& sc) {
  CAPTURE(sc.name);
  const bool same = sc.target_positions.is_null();
  json doc = {{"run", {{"duration", 1.0}, {"seed", sc.seed}}},
              {"populations", {{"a", population(sc.source_positions, sc.source_size)}}}};
  if (!same) doc["populations"]["b"] = population(sc.target_positions, sc.target_size);
  json rule = {{"p", sc.prof.to_json()}, {"allow_autapses", sc.autapses}};
  if (!sc.mask.kind.empty()) rule["mask"] = sc.mask.to_json();
  doc["projections"] = json::array({{{"source", "a"}, {"target", same ? "a" : "b"},
                                     {"rule", {{"pairwise_bernoulli", rule}}}}});
  const built b = build(doc);
  const auto& src = b.net.positions[0];
  const auto& tgt = b.net.positions[same ? 0 : 1];
  REQUIRE(src.size() == b.cfg.populations[0].size);
  const auto& lay = b.cfg.populations[0].positions;
  const geo g{lay.periodic, lay.extent[0], lay.extent[1]};
  const gs::projection& pr = b.net.projections.at(0);

  // Bins of distance up to the largest distance a synapse can have.
  const int bins = 8;
  const double diag = std::sqrt(lay.extent[0] * lay.extent[0] + lay.extent[1] * lay.extent[1]) / (g.periodic ? 2 : 1);
  const double rmax = sc.mask.kind.empty() ? std::min(diag, 6 * sc.prof.scale) : std::min(diag, sc.mask.reach());
  std::vector<double> mean(bins, 0), var(bins, 0), found(bins, 0);
  auto bin_of = [&](double r) { return std::min(bins - 1, int(r / rmax * bins)); };

  uint64_t outside = 0, self = 0, beyond = 0, repeated = 0;
  std::set<std::pair<uint32_t, uint32_t>> pairs;
  for (uint32_t s = 0; s < src.size(); ++s)
    for (uint64_t k = pr.row[s]; k < pr.row[s + 1]; ++k) {
      const uint32_t t = pr.targets[k];
      repeated += !pairs.emplace(s, t).second;  // pairwise_bernoulli never makes multapses
      const auto [dx, dy] = g.d(src[s], tgt[t]);
      outside += !sc.mask.in(dx, dy);
      self += same && s == t;
      const double r = std::sqrt(dx * dx + dy * dy);
      if (r > rmax) {
        ++beyond;
        continue;
      }
      found[size_t(bin_of(r))] += 1;
    }
  CHECK(outside == 0);
  CHECK(repeated == 0);
  if (!sc.autapses) CHECK(self == 0);

  double beyond_mean = 0;
  for (uint32_t s = 0; s < src.size(); ++s)
    for (uint32_t t = 0; t < tgt.size(); ++t) {
      if (same && s == t && !sc.autapses) continue;
      const auto [dx, dy] = g.d(src[s], tgt[t]);
      if (!sc.mask.in(dx, dy)) continue;
      const double r = std::sqrt(dx * dx + dy * dy), p = sc.prof(r);
      if (r > rmax) {
        beyond_mean += p;
        continue;
      }
      mean[size_t(bin_of(r))] += p;
      var[size_t(bin_of(r))] += p * (1 - p);
    }
  // Beyond the binned range the profile is negligible (6 scales): a handful at most.
  CHECK(double(beyond) <= beyond_mean + 5 * std::sqrt(beyond_mean) + 3);
  double total = 0, total_mean = 0;
  for (int i = 0; i < bins; ++i) {
    total += found[size_t(i)], total_mean += mean[size_t(i)];
    if (var[size_t(i)] < 1) continue;  // too few pairs to say anything
    const double se = std::sqrt(var[size_t(i)]);
    INFO(fmt::format("bin {} ({:.4f} .. {:.4f}): {} synapses, expected {:.1f} +- {:.1f} (z = {:.2f})", i,
                     i * rmax / bins, (i + 1) * rmax / bins, found[size_t(i)], mean[size_t(i)], se,
                     (found[size_t(i)] - mean[size_t(i)]) / se));
    CHECK(std::fabs(found[size_t(i)] - mean[size_t(i)]) <= 3 * se);
  }
  MESSAGE(fmt::format("{}: {} synapses, {:.1f} expected", sc.name, pr.synapses(), total_mean + beyond_mean));
  CHECK(total > 100);  // a test with real numbers
}

json grid(uint32_t rows, uint32_t cols, double w, double h, bool periodic, double cx = 0, double cy = 0) {
  return {{"grid", {{"shape", {rows, cols}}, {"extent", {w, h}}, {"center", {cx, cy}}}}, {"periodic", periodic}};
}
json random(double w, double h, bool periodic, double cx = 0, double cy = 0) {
  return {{"random", {{"extent", {w, h}}, {"center", {cx, cy}}}}, {"periodic", periodic}};
}

}  // namespace

TEST_CASE("gaussian and exponential profiles on a grid, open and periodic") {
  check_scenario({"grid, gaussian, circular mask", grid(50, 50, 1.0, 1.0, false), nullptr, 0, 0,
                  {"gaussian", 0.8, 0.1}, {"circular", 0, 0.3}, false, 11});
  check_scenario({"grid, periodic, exponential, circular mask", grid(40, 60, 1.0, 1.5, true, 2.0, -1.0), nullptr, 0, 0,
                  {"exponential", 0.6, 0.08}, {"circular", 0, 0.45}, true, 12});
  check_scenario({"grid, periodic, gaussian, no mask", grid(45, 45, 2.0, 2.0, true), nullptr, 0, 0,
                  {"gaussian", 1.0, 0.12}, {}, false, 13});
}

TEST_CASE("gaussian and exponential profiles on random positions, open and periodic") {
  check_scenario({"random, exponential, no mask", random(1.0, 1.0, false), nullptr, 2500, 0,
                  {"exponential", 0.9, 0.05}, {}, false, 21});
  check_scenario({"random, periodic, gaussian, doughnut", random(1.2, 0.8, true, 0.5, 0.5), nullptr, 3000, 0,
                  {"gaussian", 0.7, 0.15}, {"doughnut", 0.05, 0.35}, true, 22});
  check_scenario({"random, periodic, exponential, box", random(1.0, 1.0, true), nullptr, 2500, 0,
                  {"exponential", 1.0, 0.1}, {"box", 0, 0, -0.1, -0.2, 0.25, 0.15}, false, 23});
}

TEST_CASE("between two populations: a grid onto random positions, an offset box") {
  check_scenario({"grid onto random, gaussian, box", grid(40, 40, 1.0, 1.0, false), random(1.0, 1.0, false), 0, 2200,
                  {"gaussian", 0.9, 0.1}, {"box", 0, 0, -0.1, -0.05, 0.3, 0.2}, true, 31});
  check_scenario({"random onto grid, periodic, exponential", random(1.0, 1.0, true), grid(30, 50, 1.0, 1.0, true),
                  2000, 0, {"exponential", 0.5, 0.07}, {"circular", 0, 0.3}, true, 32});
}
