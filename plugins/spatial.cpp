#include "plugins/spatial.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "engine/rng.hpp"
#include "io/config.hpp"

namespace gs::spatial {

namespace {

std::string found(const json& v) {
  if (v.is_number()) return fmt::format("the number {}", v.dump());
  return fmt::format("{} {}", v.is_object() || v.is_array() ? "an" : "a", v.type_name());
}

std::string suggest(const std::string& word, const std::vector<std::string>& names) {
  const std::string c = closest_name(word, names);
  if (!c.empty()) return fmt::format("; did you mean \"{}\"?", c);
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  return fmt::format(" (known: {})", all);
}

std::string at(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

// {"KIND": {...}} with KIND one of `kinds`: returns KIND, with `body` pointing at its object.
std::string one_kind(const json& v, const std::vector<std::string>& kinds, const char* what, const json*& body) {
  std::string all;
  for (const auto& n : kinds) all += (all.empty() ? "" : ", ") + n;
  if (!v.is_object() || v.size() != 1)
    throw spec_error("", fmt::format("expected {} object with one key ({}), found {}", what, all,
                                     v.is_object() ? fmt::format("{} keys", v.size()) : found(v)));
  const std::string kind = v.begin().key();
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
    throw spec_error(kind, fmt::format("unknown {}{}", what, suggest(kind, kinds)));
  body = &v.begin().value();
  if (!body->is_object()) throw spec_error(kind, fmt::format("expected an object, found {}", found(*body)));
  return kind;
}

void known_keys(const json& body, const std::string& path, const std::vector<std::string>& keys) {
  for (const auto& [k, x] : body.items()) {
    (void)x;
    if (std::find(keys.begin(), keys.end(), k) == keys.end())
      throw spec_error(at(path, k), "unknown key" + suggest(k, keys));
  }
}

double number(const json& body, const std::string& path, const std::string& key, std::optional<double> dflt = {}) {
  if (!body.contains(key)) {
    if (dflt) return *dflt;
    throw spec_error(at(path, key), "is required but missing");
  }
  const json& v = body.at(key);
  if (!v.is_number()) throw spec_error(at(path, key), fmt::format("expected a number, found {}", found(v)));
  const double x = v.get<double>();
  if (!std::isfinite(x)) throw spec_error(at(path, key), "expected a finite number");
  return x;
}

double positive(const json& body, const std::string& path, const std::string& key) {
  const double x = number(body, path, key);
  if (x <= 0) throw spec_error(at(path, key), fmt::format("{} must be > 0, found {}", key, x));
  return x;
}

double probability(const json& body, const std::string& path, const std::string& key, double dflt) {
  const double x = number(body, path, key, dflt);
  if (x < 0 || x > 1) throw spec_error(at(path, key), fmt::format("{} = {} is outside [0, 1]", key, x));
  return x;
}

position pair(const json& body, const std::string& path, const std::string& key) {
  const std::string p = at(path, key);
  if (!body.contains(key)) throw spec_error(p, "is required but missing");
  const json& v = body.at(key);
  if (!v.is_array() || v.size() != 2) throw spec_error(p, fmt::format("expected [x, y], found {}", found(v)));
  position out{};
  for (size_t i = 0; i < 2; ++i) {
    if (!v[i].is_number() || !std::isfinite(v[i].get<double>()))
      throw spec_error(fmt::format("{}.{}", p, i), fmt::format("expected a finite number, found {}", found(v[i])));
    out[i] = v[i].get<double>();
  }
  return out;
}

}  // namespace

profile read_profile(const json& v) {
  profile p;
  if (v.is_number()) {
    const double x = v.get<double>();
    if (!(x >= 0 && x <= 1)) throw spec_error("", fmt::format("p = {} is outside [0, 1]", x));
    p.p_center = x;
    return p;
  }
  const json* body = nullptr;
  const std::string kind = one_kind(v, {"gaussian", "exponential"}, "a number in [0, 1] or a distance profile", body);
  if (kind == "gaussian") {
    known_keys(*body, kind, {"p_center", "sigma"});
    p.kind = profile::gaussian;
    p.scale = positive(*body, kind, "sigma");
  } else {
    known_keys(*body, kind, {"p_center", "tau"});
    p.kind = profile::exponential;
    p.scale = positive(*body, kind, "tau");
  }
  p.p_center = probability(*body, kind, "p_center", 1.0);
  return p;
}

mask read_mask(const json& v) {
  mask m;
  const json* body = nullptr;
  const std::string kind = one_kind(v, {"circular", "box", "doughnut"}, "mask", body);
  if (kind == "circular") {
    known_keys(*body, kind, {"radius"});
    m.kind = mask::circular;
    m.outer = positive(*body, kind, "radius");
  } else if (kind == "doughnut") {
    known_keys(*body, kind, {"inner_radius", "outer_radius"});
    m.kind = mask::doughnut;
    m.inner = number(*body, kind, "inner_radius");
    if (m.inner < 0) throw spec_error(at(kind, "inner_radius"), fmt::format("inner_radius must be >= 0, found {}", m.inner));
    m.outer = positive(*body, kind, "outer_radius");
    if (m.outer <= m.inner)
      throw spec_error(at(kind, "outer_radius"),
                       fmt::format("outer_radius {} must be larger than inner_radius {}", m.outer, m.inner));
  } else {
    known_keys(*body, kind, {"lower_left", "upper_right"});
    m.kind = mask::box;
    m.lower_left = pair(*body, kind, "lower_left");
    m.upper_right = pair(*body, kind, "upper_right");
    for (int i = 0; i < 2; ++i)
      if (m.upper_right[i] <= m.lower_left[i])
        throw spec_error(at(kind, "upper_right"), fmt::format("upper_right [{}, {}] must lie above and right of "
                                                              "lower_left [{}, {}]", m.upper_right[0], m.upper_right[1],
                                                              m.lower_left[0], m.lower_left[1]));
  }
  return m;
}

position mask::low() const {
  if (kind == box) return lower_left;
  return {-outer, -outer};
}
position mask::high() const {
  if (kind == box) return upper_right;
  return {outer, outer};
}

bool needs_positions(const json& params) {
  return (params.contains("p") && params["p"].is_object()) ||
         (params.contains("mask") && !params["mask"].is_null());
}

namespace {
const json* mask_json(const json& params) {
  return params.contains("mask") && !params["mask"].is_null() ? &params["mask"] : nullptr;
}
}  // namespace

std::string check(const json& params, const rule_context& c) {
  for (const char* key : {"p", "mask"}) {
    if (!params.contains(key) || params[key].is_null()) continue;
    try {
      if (std::string(key) == "p") read_profile(params[key]);
      else read_mask(params[key]);
    } catch (const spec_error& e) {
      return e.path.empty() ? e.what() : fmt::format("{}.{}: {}", key, e.path, e.what());
    }
  }
  if (needs_positions(params)) {
    const bool src = c.source_spatial, tgt = c.target_spatial;
    if (!src || !tgt)
      return fmt::format("{} depends on distance, but population \"{}\" has no positions",
                         params.contains("p") && params["p"].is_object() ? "p" : "mask",
                         !src ? c.source_name : c.target_name);
  }
  return "";
}

// --- neighbour search ---

cell_index::cell_index(std::span<const position> points, const geometry& g, position reach)
    : periodic_(g.periodic) {
  const size_t n = points.size();
  position lo{0, 0}, hi{0, 0};
  if (periodic_) {
    hi = extent_ = g.extent;
  } else if (n > 0) {
    lo = hi = points[0];
    for (const auto& p : points)
      for (int a = 0; a < 2; ++a) lo[a] = std::min(lo[a], p[a]), hi[a] = std::max(hi[a], p[a]);
  }
  const double w = hi[0] - lo[0], h = hi[1] - lo[1];
  // Cells about twice the mean spacing of the points hold a few points each; cells much smaller
  // than the boxes asked for would make every query walk hundreds of empty-ish cells.
  const double spacing = n == 0 ? 1 : (w > 0 && h > 0) ? std::sqrt(w * h / double(n)) : (w + h) / double(n);
  const double span[2] = {w, h};
  for (int a = 0; a < 2; ++a) {
    double side = 2 * spacing;
    if (std::isfinite(reach[a])) side = std::max(side, reach[a] / 16);
    n_[a] = span[a] > 0 && side > 0 ? std::clamp<int64_t>(int64_t(span[a] / side), 1, int64_t(1) << 20) : 1;
  }
  while (uint64_t(n_[0]) * uint64_t(n_[1]) > 4 * uint64_t(n) + 16) (n_[0] >= n_[1] ? n_[0] : n_[1]) /= 2;
  for (int a = 0; a < 2; ++a) size_[a] = span[a] > 0 ? span[a] / double(n_[a]) : 1.0;
  origin_ = lo;

  // Counting sort by cell keeps the points of a cell in increasing index.
  const uint64_t cells = uint64_t(n_[0]) * uint64_t(n_[1]);
  start_.assign(cells + 1, 0);
  std::vector<uint64_t> cell(n);
  for (size_t i = 0; i < n; ++i) {
    cell[i] = uint64_t(cell_of(points[i][1], 1)) * uint64_t(n_[0]) + uint64_t(cell_of(points[i][0], 0));
    ++start_[cell[i] + 1];
  }
  for (uint64_t k = 0; k < cells; ++k) start_[k + 1] += start_[k];
  order_.resize(n);
  pos_.resize(n);
  std::vector<uint64_t> next(start_.begin(), start_.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    pos_[next[cell[i]]] = points[i];
    order_[next[cell[i]]++] = uint32_t(i);
  }
}

int64_t cell_index::cell_of(double x, int a) const {
  double u;
  if (periodic_) {
    u = x - extent_[a] * std::floor(x / extent_[a]);  // in [0, extent)
  } else {
    u = x - origin_[a];
  }
  return std::clamp<int64_t>(int64_t(std::floor(u / size_[a])), 0, n_[a] - 1);
}

bool cell_index::range(double lo, double hi, int a, int64_t& c0, int64_t& c1) const {
  // A little slack: a point on the box's edge must not be lost to rounding in the cell arithmetic.
  const double pad = 1e-9 * size_[a] + 1e-12 * (std::fabs(lo) + std::fabs(hi));
  if (periodic_) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || hi - lo + 2 * pad >= extent_[a]) {
      c0 = 0, c1 = n_[a] - 1;
      return true;
    }
    c0 = int64_t(std::floor((lo - pad) / size_[a]));
    c1 = int64_t(std::floor((hi + pad) / size_[a]));
    if (c1 - c0 + 1 >= n_[a]) c0 = 0, c1 = n_[a] - 1;
    return true;
  }
  const double f0 = std::floor((lo - pad - origin_[a]) / size_[a]);
  const double f1 = std::floor((hi + pad - origin_[a]) / size_[a]);
  if (f1 < 0 || f0 > double(n_[a] - 1)) return false;
  c0 = f0 < 0 ? 0 : int64_t(f0);
  c1 = f1 > double(n_[a] - 1) ? n_[a] - 1 : int64_t(f1);
  return true;
}

// --- rules ---

namespace {

struct setup {
  profile prof;
  mask m;
  geometry g;
  bool no_self;
};

setup prepare(const json& params, const rule_context& c) {
  if (c.source_positions.size() != c.n_source || c.target_positions.size() != c.n_target)
    throw std::logic_error("spatial rule called without the populations' positions");
  setup s;
  s.prof = params.contains("p") ? read_profile(params["p"]) : profile{};
  if (const json* mj = mask_json(params)) s.m = read_mask(*mj);
  s.g = {c.periodic, c.extent};
  s.no_self = c.same_population && params.contains("allow_autapses") && !params["allow_autapses"].get<bool>();
  return s;
}

// exp(-x) < 1 / (1 + x + x^2/2 + x^3/6) for x > 0: most far candidates are rejected with this
// bound, without an exponential. The decision is the same as with exp(-x) itself; near x = 0,
// where the bound and exp(-x) agree to rounding, the bound is not used.
inline bool bernoulli_exp(double u, double p_center, double x) {
  if (x > 0.5 && u * (1 + x * (1 + x / 2 * (1 + x / 3))) >= p_center) return false;
  return u < p_center * std::exp(-x);
}

template <profile::kind_t kind>
void pairwise_rows(const setup& su, const rule_context& c, synapse_sink& sink, const cell_index* index) {
  const position lo = su.m.low(), hi = su.m.high();
  const double pc = su.prof.p_center;
  const double inv = kind == profile::gaussian ? 1 / (2 * su.prof.scale * su.prof.scale) : 1 / su.prof.scale;
  std::vector<uint32_t> row;
  for (uint32_t s = 0; s < c.n_source; ++s) {
    rng_stream rng(c.seed, rng_purpose::connect, c.projection, s);
    row.clear();
    const position from = c.source_positions[s];
    // One uniform per candidate pair the mask allows (none when p is a constant 0 or 1), in the
    // index's fixed order, so that both passes of the CSR build see the same synapses.
    auto consider = [&](uint32_t t, const position& to) {
      if (su.no_self && t == s) return;
      const position d = su.g.displacement(from, to);
      if (!su.m.contains(d[0], d[1])) return;
      const double r2 = d[0] * d[0] + d[1] * d[1];
      bool take;
      if constexpr (kind == profile::constant) take = pc >= 1 || (pc > 0 && rng.uniform() < pc);
      else if constexpr (kind == profile::gaussian) take = bernoulli_exp(rng.uniform(), pc, r2 * inv);
      else take = bernoulli_exp(rng.uniform(), pc, std::sqrt(r2) * inv);
      if (take) row.push_back(t);
    };
    if (index) {
      index->visit({from[0] + lo[0], from[1] + lo[1]}, {from[0] + hi[0], from[1] + hi[1]}, consider);
      std::sort(row.begin(), row.end());  // the index visits by cell; rows read better by target
    } else {
      for (uint32_t t = 0; t < c.n_target; ++t) consider(t, c.target_positions[t]);
    }
    for (uint32_t t : row) sink.add(s, t);
  }
}

}  // namespace

void pairwise_bernoulli(const json& params, const rule_context& c, synapse_sink& sink) {
  const setup su = prepare(params, c);
  const position lo = su.m.low(), hi = su.m.high();
  std::optional<cell_index> index;
  if (su.m.kind != mask::none) index.emplace(c.target_positions, su.g, position{hi[0] - lo[0], hi[1] - lo[1]});
  const cell_index* ix = index ? &*index : nullptr;
  switch (su.prof.kind) {
    case profile::constant: return pairwise_rows<profile::constant>(su, c, sink, ix);
    case profile::gaussian: return pairwise_rows<profile::gaussian>(su, c, sink, ix);
    case profile::exponential: return pairwise_rows<profile::exponential>(su, c, sink, ix);
  }
}

namespace {

template <profile::kind_t kind>
void indegree_rows(const json& params, const setup& su, const rule_context& c, synapse_sink& sink) {
  const uint64_t k = params.at("indegree").get<uint64_t>();
  const bool multapses = !params.contains("allow_multapses") || params["allow_multapses"].get<bool>();
  const position lo = su.m.low(), hi = su.m.high();
  std::optional<cell_index> index;
  if (su.m.kind != mask::none) index.emplace(c.source_positions, su.g, position{hi[0] - lo[0], hi[1] - lo[1]});
  const double pc = su.prof.p_center;
  const double inv = kind == profile::gaussian ? 1 / (2 * su.prof.scale * su.prof.scale) : 1 / su.prof.scale;
  std::vector<uint32_t> cand, chosen;
  std::vector<double> weight, key;
  std::vector<char> taken;
  for (uint32_t t = 0; t < c.n_target; ++t) {
    rng_stream rng(c.seed, rng_purpose::connect, c.projection, t);
    cand.clear(), weight.clear(), chosen.clear();
    const position& to = c.target_positions[t];
    auto consider = [&](uint32_t s, const position& from) {
      if (su.no_self && s == t) return;
      const position d = su.g.displacement(from, to);
      if (!su.m.contains(d[0], d[1])) return;
      const double r2 = d[0] * d[0] + d[1] * d[1];
      double w;
      if constexpr (kind == profile::constant) w = pc;
      else if constexpr (kind == profile::gaussian) w = pc * std::exp(-r2 * inv);
      else w = pc * std::exp(-std::sqrt(r2) * inv);
      if (w > 0) cand.push_back(s), weight.push_back(w);
    };
    // The sources whose displacement to this target lies in the mask: to - mask.
    if (index) index->visit({to[0] - hi[0], to[1] - hi[1]}, {to[0] - lo[0], to[1] - lo[1]}, consider);
    else for (uint32_t s = 0; s < c.n_source; ++s) consider(s, c.source_positions[s]);
    if (k == 0) continue;
    if (cand.empty() || (!multapses && cand.size() < k))
      throw std::runtime_error(fmt::format(
          "target neuron {} of population \"{}\" has {} possible source{} within the mask (with a non-zero profile), "
          "fewer than indegree {}{}",
          t, c.target_name, cand.size(), cand.size() == 1 ? "" : "s", k, multapses ? "" : " without multapses"));
    // Draws proportional to the profile: inverse transform on the running sum.
    for (size_t i = 1; i < weight.size(); ++i) weight[i] += weight[i - 1];
    auto draw = [&] {
      const double u = rng.uniform() * weight.back();
      return std::min<size_t>(std::upper_bound(weight.begin(), weight.end(), u) - weight.begin(), cand.size() - 1);
    };
    if (multapses) {
      for (uint64_t i = 0; i < k; ++i) chosen.push_back(cand[draw()]);
    } else if (cand.size() == k) {
      chosen = cand;
    } else {
      // Successive sampling: each draw proportional among the sources not drawn yet, done by
      // redrawing repeats. When repeats pile up (a few heavy sources), the running sum is rebuilt
      // without the drawn ones; each draw keeps its distribution, so the result is the same.
      taken.assign(cand.size(), 0);
      for (uint64_t repeats = 0; chosen.size() < k;) {
        const size_t j = draw();
        if (!taken[j]) {
          taken[j] = 1;
          chosen.push_back(cand[j]);
        } else if (++repeats > k + 16) {
          double sum = 0;
          key.resize(cand.size());
          for (size_t i = 0; i < cand.size(); ++i) {
            sum += taken[i] ? 0.0 : weight[i] - (i ? weight[i - 1] : 0.0);
            key[i] = sum;
          }
          weight.swap(key);
          repeats = 0;
        }
      }
    }
    std::sort(chosen.begin(), chosen.end());
    for (uint32_t s : chosen) sink.add(s, t);
  }
}

}  // namespace

void fixed_indegree(const json& params, const rule_context& c, synapse_sink& sink) {
  const setup su = prepare(params, c);
  switch (su.prof.kind) {
    case profile::constant: return indegree_rows<profile::constant>(params, su, c, sink);
    case profile::gaussian: return indegree_rows<profile::gaussian>(params, su, c, sink);
    case profile::exponential: return indegree_rows<profile::exponential>(params, su, c, sink);
  }
}

}  // namespace gs::spatial
