// The built-in connection rules (NEST's names and switches). Each draws from a counter-based
// stream keyed by (seed, projection, row), so calling a rule twice emits the same synapses.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "engine/rng.hpp"
#include "plugins/procedural_rules.hpp"
#include "plugins/registry.hpp"
#include "plugins/spatial.hpp"

namespace gs {

namespace {

constexpr double required = std::numeric_limits<double>::quiet_NaN();

param_info autapses() {
  return {"allow_autapses", "", "allow a neuron to connect to itself (source and target population equal)", 1,
          param_info::boolean};
}
param_info multapses() {
  return {"allow_multapses", "", "allow more than one synapse between the same pair", 1, param_info::boolean};
}
param_info mask() {
  return {"mask", "", "displacements (target minus source position) that may connect: circular, box, doughnut; "
          "none by default", std::nan(""), param_info::mask, true};
}

bool skip_autapse(const json& p, const rule_context& c, uint32_t s, uint32_t t) {
  return c.same_population && s == t && !p["allow_autapses"].get<bool>();
}

// Sources a row may draw from once autapses are excluded.
uint64_t candidates(const json& p, const rule_context& c, uint32_t n) {
  return (c.same_population && !p["allow_autapses"].get<bool>()) ? n - 1 : n;
}

// k distinct or independent draws from [0, n) without `exclude`, in increasing order. `taken`
// is scratch shared by the rows of one rule call: all zero between calls, so a row costs O(k),
// not O(n).
void draw_row(rng_stream& rng, uint64_t k, uint32_t n, int64_t exclude, bool multapses, std::vector<uint32_t>& out,
              std::vector<char>& taken) {
  out.clear();
  const uint64_t avail = n - (exclude >= 0 ? 1 : 0);
  auto pick = [&](uint64_t x) { return static_cast<uint32_t>(exclude >= 0 && x >= uint64_t(exclude) ? x + 1 : x); };
  if (multapses) {
    for (uint64_t i = 0; i < k; ++i) out.push_back(pick(rng.below(avail)));
  } else if (2 * k > avail) {  // dense: selection sampling keeps each subset equally likely
    uint64_t need = k;
    for (uint64_t x = 0; x < avail && need > 0; ++x)
      if (rng.below(avail - x) < need) out.push_back(pick(x)), --need;
  } else {  // sparse: redraw repeats, with a mark per candidate once rows get long
    const bool mark = k > 64;
    if (mark && taken.size() < n) taken.assign(n, 0);
    while (out.size() < k) {
      const uint32_t v = pick(rng.below(avail));
      const bool seen = mark ? taken[v] != 0 : std::find(out.begin(), out.end(), v) != out.end();
      if (seen) continue;
      if (mark) taken[v] = 1;
      out.push_back(v);
    }
    if (mark)
      for (uint32_t v : out) taken[v] = 0;
  }
  std::sort(out.begin(), out.end());
}

// Sorts keys that are all below `bound`. A large projection's pairs (tens of millions, drawn
// twice: to count, then to fill) go through a least-significant-digit radix sort on the bits
// below `bound`, 11 at a time: the microcircuit built in half the CPU time of std::sort's
// (docs/microcircuit.md), with the same result, a sorted sequence of numbers being unique.
void sort_below(std::span<uint64_t> keys, uint64_t bound, std::vector<uint64_t>& scratch) {
  if (keys.size() < (size_t(1) << 16)) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  constexpr int digit = 11;
  constexpr uint64_t mask = (uint64_t(1) << digit) - 1;
  scratch.resize(keys.size());
  uint64_t *from = keys.data(), *to = scratch.data();
  for (int shift = 0; shift < std::bit_width(bound - 1); shift += digit) {
    std::array<size_t, mask + 1> start{};
    for (size_t i = 0; i < keys.size(); ++i) ++start[(from[i] >> shift) & mask];
    std::exclusive_scan(start.begin(), start.end(), start.begin(), size_t(0));
    for (size_t i = 0; i < keys.size(); ++i) to[start[(from[i] >> shift) & mask]++] = from[i];
    std::swap(from, to);
  }
  if (from != keys.data()) std::copy(from, from + keys.size(), keys.data());
}

rule_info pairwise_bernoulli() {
  rule_info r;
  r.name = "pairwise_bernoulli";
  r.doc = "each (source, target) pair is connected independently with probability p";
  r.params = {{"p", "", "connection probability, or a distance profile (gaussian, exponential)", required,
               param_info::profile},
              autapses(), mask()};
  r.check = [](const json& p, const rule_context& c) -> std::string {
    if (spatial::needs_positions(p)) return spatial::check(p, c);
    if (!p["p"].is_number()) return "p must be a number or a distance profile";
    const double prob = p["p"].get<double>();
    return (prob >= 0 && prob <= 1) ? "" : fmt::format("p = {} is outside [0, 1]", prob);
  };
  r.generate = [](const json& p, const rule_context& c, synapse_sink& sink) {
    if (spatial::needs_positions(p)) return spatial::pairwise_bernoulli(p, c, sink);
    const double prob = p["p"].get<double>();
    if (prob <= 0) return;
    const double log_q = std::log1p(-prob);
    for (uint32_t s = 0; s < c.n_source; ++s) {
      rng_stream rng(c.seed, rng_purpose::connect, c.projection, s);
      // Geometric skips visit only the connected targets.
      for (double j = -1;;) {
        j += prob >= 1 ? 1 : 1 + std::floor(std::log(rng.uniform_pos()) / log_q);
        if (j >= c.n_target) break;
        const auto t = static_cast<uint32_t>(j);
        if (!skip_autapse(p, c, s, t)) sink.add(s, t);
      }
    }
  };
  // Regenerated chunk by chunk: each (source, chunk) its own stream, skips as above
  // (bernoulli_chunks in plugins/procedural_rules.hpp).
  r.procedural_limits = "pairwise_bernoulli regenerates with a constant p (not a distance profile or mask)";
  r.procedural = [](const json& p, const rule_context& c) -> chunk_generator {
    if (spatial::needs_positions(p)) return {};
    const double prob = p["p"].get<double>();
    return bernoulli_chunks{c.seed, prob, std::log1p(-prob), c.n_target, c.projection,
                            c.same_population && !p["allow_autapses"].get<bool>()};
  };
  return r;
}

rule_info fixed_indegree() {
  rule_info r;
  r.name = "fixed_indegree";
  r.doc = "each target receives exactly `indegree` synapses from randomly chosen sources";
  r.params = {{"indegree", "", "synapses per target neuron", required, param_info::integer}, autapses(), multapses(),
              {"p", "", "sampling weight of a source: a constant, or a distance profile (gaussian, exponential)", 1,
               param_info::profile},
              mask()};
  r.check = [](const json& p, const rule_context& c) -> std::string {
    const auto k = p["indegree"].get<uint64_t>();
    if (std::string err = spatial::check(p, c); !err.empty()) return err;
    if (p.contains("p") && p["p"].is_number() && p["p"].get<double>() == 0 && k > 0)
      return "p = 0 leaves no source to draw from";
    if (candidates(p, c, c.n_source) == 0 && k > 0) return "no source neuron is allowed";
    if (!p["allow_multapses"].get<bool>() && k > candidates(p, c, c.n_source))
      return fmt::format("indegree {} exceeds the {} possible sources without multapses", k,
                         candidates(p, c, c.n_source));
    return "";
  };
  r.generate = [](const json& p, const rule_context& c, synapse_sink& sink) {
    if (spatial::needs_positions(p)) return spatial::fixed_indegree(p, c, sink);
    const auto k = p["indegree"].get<uint64_t>();
    const bool no_self = c.same_population && !p["allow_autapses"].get<bool>();
    std::vector<uint32_t> row;
    std::vector<char> taken;
    for (uint32_t t = 0; t < c.n_target; ++t) {
      rng_stream rng(c.seed, rng_purpose::connect, c.projection, t);
      draw_row(rng, k, c.n_source, no_self ? int64_t(t) : -1, p["allow_multapses"].get<bool>(), row, taken);
      for (uint32_t s : row) sink.add(s, t);
    }
  };
  return r;
}

rule_info fixed_outdegree() {
  rule_info r;
  r.name = "fixed_outdegree";
  r.doc = "each source makes exactly `outdegree` synapses onto randomly chosen targets";
  r.params = {{"outdegree", "", "synapses per source neuron", required, param_info::integer}, autapses(), multapses()};
  r.check = [](const json& p, const rule_context& c) -> std::string {
    const auto k = p["outdegree"].get<uint64_t>();
    if (candidates(p, c, c.n_target) == 0 && k > 0) return "no target neuron is allowed";
    if (!p["allow_multapses"].get<bool>() && k > candidates(p, c, c.n_target))
      return fmt::format("outdegree {} exceeds the {} possible targets without multapses", k,
                         candidates(p, c, c.n_target));
    return "";
  };
  r.generate = [](const json& p, const rule_context& c, synapse_sink& sink) {
    const auto k = p["outdegree"].get<uint64_t>();
    const bool no_self = c.same_population && !p["allow_autapses"].get<bool>();
    std::vector<uint32_t> row;
    std::vector<char> taken;
    for (uint32_t s = 0; s < c.n_source; ++s) {
      rng_stream rng(c.seed, rng_purpose::connect, c.projection, s);
      draw_row(rng, k, c.n_target, no_self ? int64_t(s) : -1, p["allow_multapses"].get<bool>(), row, taken);
      for (uint32_t t : row) sink.add(s, t);
    }
  };
  return r;
}

rule_info fixed_total_number() {
  rule_info r;
  r.name = "fixed_total_number";
  r.doc = "exactly N synapses between uniformly chosen (source, target) pairs";
  r.params = {{"N", "", "number of synapses", required, param_info::integer}, autapses(), multapses()};
  r.check = [](const json& p, const rule_context& c) -> std::string {
    const auto n = p["N"].get<uint64_t>();
    const uint64_t pairs = uint64_t(c.n_source) * c.n_target -
                           ((c.same_population && !p["allow_autapses"].get<bool>()) ? c.n_source : 0);
    if (pairs == 0 && n > 0) return "no (source, target) pair is allowed";
    if (!p["allow_multapses"].get<bool>() && n > pairs)
      return fmt::format("N = {} exceeds the {} possible pairs without multapses", n, pairs);
    return "";
  };
  r.generate = [](const json& p, const rule_context& c, synapse_sink& sink) {
    const auto n = p["N"].get<uint64_t>();
    const bool multapses = p["allow_multapses"].get<bool>();
    const bool no_self = c.same_population && !p["allow_autapses"].get<bool>();
    rng_stream rng(c.seed, rng_purpose::connect, c.projection, 0);
    const uint64_t pairs = uint64_t(c.n_source) * c.n_target;
    const uint64_t allowed = pairs - (no_self ? c.n_source : 0);
    // Without multapses and more than half of the allowed pairs wanted, draw the pairs left out:
    // redrawing repeats until nearly every pair is taken would need ever more rounds.
    const bool complement = !multapses && 2 * n > allowed;
    const uint64_t k = complement ? allowed - n : n;
    std::vector<uint64_t> chosen, scratch;
    chosen.reserve(k);
    // Draw, keep sorted, and (without multapses) drop repeats until k distinct pairs remain.
    // Each round sorts only its new draws and merges them into the sorted distinct prefix.
    for (size_t done = 0; chosen.size() < k;) {
      while (chosen.size() < k) {
        const uint64_t x = rng.below(pairs);
        if (!skip_autapse(p, c, uint32_t(x / c.n_target), uint32_t(x % c.n_target))) chosen.push_back(x);
      }
      sort_below(std::span(chosen).subspan(done), pairs, scratch);
      std::inplace_merge(chosen.begin(), chosen.begin() + done, chosen.end());
      if (!multapses) chosen.erase(std::unique(chosen.begin(), chosen.end()), chosen.end());
      done = chosen.size();
    }
    if (!complement) {
      for (uint64_t x : chosen) sink.add(uint32_t(x / c.n_target), uint32_t(x % c.n_target));
      return;
    }
    auto left_out = chosen.begin();
    for (uint64_t x = 0; x < pairs; ++x) {
      if (left_out != chosen.end() && *left_out == x) {
        ++left_out;
        continue;
      }
      const auto s = uint32_t(x / c.n_target), t = uint32_t(x % c.n_target);
      if (!(no_self && s == t)) sink.add(s, t);
    }
  };
  // Regenerated exactly: N pairs uniform over the allowed ones are, given how many fall in each
  // (source, chunk) cell, independent and uniform over that cell's allowed pairs
  // (total_number_chunks in plugins/procedural_rules.hpp).
  r.procedural_limits = "fixed_total_number regenerates with allow_multapses true";
  r.procedural = [](const json& p, const rule_context& c) -> chunk_generator {
    if (!p["allow_multapses"].get<bool>()) return {};
    return total_number_chunks(p["N"].get<uint64_t>(), c.seed, c.n_source, c.n_target, c.projection,
                               c.same_population && !p["allow_autapses"].get<bool>());
  };
  return r;
}

rule_info one_to_one() {
  rule_info r;
  r.name = "one_to_one";
  r.doc = "source i connects to target i (populations of equal size)";
  r.check = [](const json&, const rule_context& c) -> std::string {
    return c.n_source == c.n_target
               ? ""
               : fmt::format("source and target sizes differ ({} and {})", c.n_source, c.n_target);
  };
  r.generate = [](const json&, const rule_context& c, synapse_sink& sink) {
    for (uint32_t i = 0; i < c.n_source; ++i) sink.add(i, i);
  };
  return r;
}

rule_info all_to_all() {
  rule_info r;
  r.name = "all_to_all";
  r.doc = "every source connects to every target";
  r.params = {autapses()};
  r.check = [](const json&, const rule_context&) -> std::string { return ""; };
  r.generate = [](const json& p, const rule_context& c, synapse_sink& sink) {
    for (uint32_t s = 0; s < c.n_source; ++s)
      for (uint32_t t = 0; t < c.n_target; ++t)
        if (!skip_autapse(p, c, s, t)) sink.add(s, t);
  };
  return r;
}

}  // namespace

rule_info from_file_rule();  // plugins/file_rules.cpp

void register_builtin_rules(registry& reg) {
  for (auto make : {pairwise_bernoulli, fixed_indegree, fixed_outdegree, fixed_total_number, one_to_one, all_to_all,
                    from_file_rule}) {
    rule_info r = make();
    r.origin = "built-in";
    reg.add_rule(std::move(r));
  }
#if defined(GILLESPIKE_HAVE_CUDA)
  register_builtin_rule_gpu_forms(reg);
#endif
}

}  // namespace gs
