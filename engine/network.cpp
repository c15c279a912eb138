#include "engine/network.hpp"

#include <fmt/format.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <exception>
#include <numeric>

namespace gs {

uint32_t network::population_of(uint32_t gid) const {
  uint32_t p = 0;
  while (p + 1 < populations.size() && populations[p + 1]->first_gid <= gid) ++p;
  return p;
}

namespace {

struct count_sink final : synapse_sink {
  std::vector<uint64_t>& row;
  bool own_weights = false, own_delays = false;  // some synapse brought its own
  explicit count_sink(std::vector<uint64_t>& r) : row(r) {}
  void add(uint32_t s, uint32_t) override { ++row[s + 1]; }
  void add(uint32_t s, uint32_t, double w, double d) override {
    ++row[s + 1];
    own_weights |= !std::isnan(w);
    own_delays |= !std::isnan(d);
  }
};

struct fill_sink final : synapse_sink {
  projection& p;
  std::vector<uint64_t> next;
  rng_stream wrng, drng;
  const value_spec &weight, &delay;
  fill_sink(projection& pr, const rule_context& c, const value_spec& w, const value_spec& d)
      : p(pr), next(pr.row.begin(), pr.row.end() - 1),
        wrng(c.seed, rng_purpose::weight, c.projection), drng(c.seed, rng_purpose::delay, c.projection),
        weight(w), delay(d) {}
  void add(uint32_t s, uint32_t t) override {
    const uint64_t k = next[s]++;
    p.targets[k] = t;
    if (!p.weights.empty()) p.weights[k] = static_cast<float>(weight.draw(wrng));
    if (!p.delays.empty()) p.delays[k] = static_cast<float>(delay.draw(drng));
  }
  void add(uint32_t s, uint32_t t, double w, double d) override {
    const uint64_t k = next[s]++;
    p.targets[k] = t;
    if (!p.weights.empty()) p.weights[k] = static_cast<float>(std::isnan(w) ? weight.draw(wrng) : w);
    if (!p.delays.empty()) p.delays[k] = static_cast<float>(std::isnan(d) ? delay.draw(drng) : d);
  }
};

}  // namespace

projection connect(const rule_info& rule, const json& rule_params, const rule_context& ctx,
                   const value_spec& weight, const value_spec& delay) {
  projection p;
  p.weight = weight.a;
  p.delay = delay.a;
  // Two passes over the same deterministic rule: count per source, then fill in place.
  p.row.assign(ctx.n_source + 1, 0);
  count_sink counter(p.row);
  rule.generate(rule_params, ctx, counter);
  std::partial_sum(p.row.begin(), p.row.end(), p.row.begin());
  const uint64_t n = p.row.back();
  p.targets.resize(n);
  if (!weight.is_constant() || counter.own_weights) p.weights.resize(n);
  if (!delay.is_constant() || counter.own_delays) p.delays.resize(n);
  fill_sink filler(p, ctx, weight, delay);
  rule.generate(rule_params, ctx, filler);
  if (!p.delays.empty()) {
    // Rows ordered by delay let one queue entry deliver all synapses of equal delay together.
    // Delays are at least run.min_delay > 0, and positive floats order as their bits do.
    std::vector<uint64_t> keys;
    for (uint32_t s = 0; s < ctx.n_source; ++s)
      sort_synapses(p.row[s], p.row[s + 1], keys, [&](uint64_t k) { return std::bit_cast<uint32_t>(p.delays[k]); },
                    p.targets, p.weights, p.delays);
  }
  return p;
}

uint32_t regenerate(const projection& p, uint32_t source, uint32_t chunk, uint32_t* targets, float* weights,
                    float* delays) {
  const uint32_t n = p.generate(source, chunk, targets);
  const bool draw_weights = !p.values.weight.is_constant(), draw_delays = !p.values.delay.is_constant();
  if (!draw_weights && !draw_delays) return n;
  synapse_draws draws(p.values, source, chunk);
  for (uint32_t k = 0; k < n; ++k) {
    if (draw_weights) weights[k] = draws.weight();
    if (draw_delays) delays[k] = draws.delay();
  }
  return n;
}

namespace {

// A procedural projection: its generator and distributions, and its synapses counted once (for
// the summary) without keeping them.
projection procedural(const rule_info& rule, const json& rule_params, const rule_context& ctx, const value_spec& weight,
                      const value_spec& delay) {
  projection p;
  p.weight = weight.a;
  p.delay = delay.a;
  p.values = {weight, delay, ctx.seed, ctx.projection};
  p.rule = rule.name;
  p.generate = rule.procedural(rule_params, ctx);
  if (ctx.n_target > (uint64_t(1) << 24) * procedural_chunk)  // the chunk is a 24-bit stream key
    throw std::runtime_error(fmt::format("{} target neurons are too many for a procedural projection (at most {})",
                                         ctx.n_target, (uint64_t(1) << 24) * procedural_chunk));
  std::vector<uint32_t> scratch(procedural_chunk);
  const uint32_t chunks = (ctx.n_target + procedural_chunk - 1) / procedural_chunk;
  for (uint32_t s = 0; s < ctx.n_source; ++s)
    for (uint32_t c = 0; c < chunks; ++c) p.procedural_synapses += p.generate(s, c, scratch.data());
  return p;
}

}  // namespace

std::vector<position> neuron_positions(const population_spec& spec, uint64_t seed, uint32_t pop_index) {
  const layout_spec& l = spec.positions;
  std::vector<position> out;
  if (l.kind == layout_spec::none) return out;
  out.resize(spec.size);
  const double left = l.center[0] - l.extent[0] / 2, bottom = l.center[1] - l.extent[1] / 2;
  if (l.kind == layout_spec::grid) {
    // Cell centres, row 0 at the top (largest y) as in NEST's grid layers.
    const double dx = l.extent[0] / l.columns, dy = l.extent[1] / l.rows;
    for (uint32_t i = 0; i < spec.size; ++i) {
      const uint32_t r = i / l.columns, c = i % l.columns;
      out[i] = {left + (c + 0.5) * dx, bottom + l.extent[1] - (r + 0.5) * dy};
    }
  } else {
    for (uint32_t i = 0; i < spec.size; ++i) {
      rng_stream rng(seed, rng_purpose::positions, pop_index, i);
      const double x = rng.uniform(), y = rng.uniform();
      out[i] = {left + l.extent[0] * x, bottom + l.extent[1] * y};
    }
  }
  return out;
}

network build_populations(const run_config& cfg, const registry& reg) {
  network net;
  try {
    for (size_t i = 0; i < cfg.populations.size(); ++i) {
      const auto& ps = cfg.populations[i];
      net.populations.push_back(reg.find_model(ps.model)->make(ps, cfg.seed, uint32_t(i), net.neurons));
      net.positions.push_back(neuron_positions(ps, cfg.seed, uint32_t(i)));
      net.neurons += ps.size;
    }
  } catch (const config_error& e) {
    throw config_error(cfg.file, e.path, e.problem);  // drawn parameters: the file is ours
  }
  net.outgoing.resize(net.populations.size());
  return net;
}

network build_network(const run_config& cfg, const registry& reg) {
  network net = build_populations(cfg, reg);
  // Every (projection entry, target population) pair is an independent job: its synapses come
  // from streams keyed by its own index, so the jobs run in parallel (on run.threads, or all
  // cores) and give the same network whatever the thread count. Errors are reported in job order.
  struct job {
    const projection_spec* spec;
    uint32_t source, target;
  };
  std::vector<job> jobs;
  for (const auto& spec : cfg.projections)
    for (const auto& tname : spec.targets)
      jobs.push_back({&spec, static_cast<uint32_t>(cfg.population_index(spec.source)),
                      static_cast<uint32_t>(cfg.population_index(tname))});
  std::vector<projection> built(jobs.size());
  std::vector<std::exception_ptr> failed(jobs.size());
  tbb::task_arena arena(cfg.threads > 0 ? static_cast<int>(cfg.threads) : tbb::task_arena::automatic);
  arena.execute([&] {
    tbb::parallel_for(size_t(0), jobs.size(), [&](size_t i) {
      const job& j = jobs[i];
      rule_context ctx = projection_context(cfg, j.source, j.target, static_cast<uint32_t>(i));
      ctx.source_positions = net.positions[j.source];
      ctx.target_positions = net.positions[j.target];
      const rule_info& rule = *reg.find_rule(j.spec->rule);
      try {
        built[i] = j.spec->procedural ? procedural(rule, j.spec->rule_params, ctx, j.spec->weight, j.spec->delay)
                                      : connect(rule, j.spec->rule_params, ctx, j.spec->weight, j.spec->delay);
      } catch (...) {
        failed[i] = std::current_exception();
      }
    });
  });
  for (size_t i = 0; i < jobs.size(); ++i) {
    const projection_spec& spec = *jobs[i].spec;
    const population_base& tp = *net.populations[jobs[i].target];
    if (failed[i]) {
      try {
        std::rethrow_exception(failed[i]);
      } catch (const config_error&) {
        throw;
      } catch (const std::runtime_error& e) {
        // Found only while drawing (a target short of sources in its mask) or reading a file that
        // changed since it was checked: still bad input, reported with the projection's rule.
        throw config_error(cfg.file, spec.path + ".rule." + spec.rule,
                           fmt::format("{} (source \"{}\", target \"{}\")", e.what(), spec.source, tp.name));
      }
    }
    projection& p = built[i];
    p.path = spec.path;
    p.source = jobs[i].source;
    p.target = jobs[i].target;
    const std::string rec = !spec.receptor.empty() ? spec.receptor : spec.weight.a >= 0 ? "excitatory" : "inhibitory";
    p.receptor = tp.receptor_index(rec);
    if (p.receptor < 0)
      throw config_error(cfg.file, spec.path + ".receptor",
                         fmt::format("model \"{}\" of population \"{}\" has no receptor \"{}\"", tp.model, tp.name, rec));
    net.outgoing[p.source].push_back(static_cast<uint32_t>(i));
    net.projections.push_back(std::move(p));
  }
  return net;
}

}  // namespace gs
