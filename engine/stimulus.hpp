// Stimuli as both backends drive them: the targets of a stimulus entry (populations, ids,
// per-target weights drawn once, the receptor) and its generator (plugins/stimulus_generators.cpp
// or a plugin's), which says when and to whom. The backend says what delivering means.
#pragma once
#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/network.hpp"
#include "engine/rng.hpp"
#include "io/config.hpp"
#include "plugins/registry.hpp"

namespace gs {

// The neurons a stimulus drives, grouped by population so one call delivers to each group,
// with their own weights (DC amplitudes) when those are drawn from a distribution.
struct target_group {
  population_base* pop;
  std::vector<uint32_t> ids;
  int receptor;
  std::vector<float> weights, negated;  // negated: a DC step's end
};

inline std::vector<target_group> targets_of(network& net, const run_config& cfg, const stimulus_spec& s,
                                            uint32_t index) {
  std::vector<target_group> out;
  rng_stream wrng(cfg.seed, rng_purpose::stimulus, index, 1);
  for (const auto& name : s.targets) {
    population_base* pop = net.populations[cfg.population_index(name)].get();
    target_group g{pop, s.ids, dc_receptor, {}, {}};
    if (g.ids.empty()) {
      g.ids.resize(pop->size);
      for (uint32_t i = 0; i < pop->size; ++i) g.ids[i] = i;
    }
    if (!s.weight.is_constant()) {
      for (size_t k = 0; k < g.ids.size(); ++k) {
        g.weights.push_back(static_cast<float>(s.weight.draw(wrng)));
        g.negated.push_back(-g.weights.back());
      }
    }
    if (!s.current) {
      const std::string rec = !s.receptor.empty() ? s.receptor : s.weight.a >= 0 ? "excitatory" : "inhibitory";
      g.receptor = pop->receptor_index(rec);
      if (g.receptor < 0)
        throw config_error(cfg.file, s.path, "population \"" + name + "\" has no receptor \"" + rec + "\"");
    }
    out.push_back(std::move(g));
  }
  return out;
}

// A stimulus entry: its generator (plugins/stimulus_generators.cpp, or a plugin's) says when and
// to whom; this delivers to the target neurons with their weights.
class stimulus {
 public:
  stimulus(network& net, const run_config& cfg, const stimulus_spec& s, uint32_t index)
      : spec_(s), groups_(targets_of(net, cfg, s, index)) {
    stimulus_context ctx;
    for (const auto& g : groups_) ctx.n_targets += g.ids.size();
    ctx.start = s.start;
    ctx.stop = std::min(s.stop, cfg.duration);
    ctx.seed = cfg.seed;
    ctx.index = index;
    n_targets_ = ctx.n_targets;
    gen_ = s.make(s.params, ctx);
    pending_ = gen_->next();
  }

  // First event time (call once).
  double first() const { return pending_.t; }

  // Hands the pending event to `deliver(group, ids, weights or nullptr, shared weight)` once per
  // target group it reaches (the event backend delivers at its time; the clock backend adds to
  // the step's input sums) and returns the time of the next event.
  template <class Deliver>
  double fire(Deliver&& deliver) {
    const double scale = pending_.scale, w0 = spec_.weight.a * scale;
    if (pending_.target == stimulus_event::all) {
      for (auto& g : groups_) {
        const float* w = nullptr;
        if (!g.weights.empty()) w = scaled(g, scale);
        deliver(std::as_const(g), std::span<const uint32_t>(g.ids), w, w0);
      }
      delivered_ = n_targets_;
    } else {
      uint64_t k = static_cast<uint64_t>(pending_.target);
      for (auto& g : groups_) {
        if (k < g.ids.size()) {
          const float w = g.weights.empty() ? 0.0f : static_cast<float>(g.weights[k] * scale);
          deliver(std::as_const(g), std::span<const uint32_t>(&g.ids[k], 1), g.weights.empty() ? nullptr : &w, w0);
          break;
        }
        k -= g.ids.size();
      }
      delivered_ = 1;
    }
    pending_ = gen_->next();
    return pending_.t;
  }
  // Inputs handed out by the last fire().
  uint64_t deliveries_per_event() const { return delivered_; }

 private:
  // The group's drawn weights times the event's scale (a DC step's end is the negated set).
  const float* scaled(target_group& g, double scale) {
    if (scale == 1) return g.weights.data();
    if (scale == -1) return g.negated.data();
    scratch_.resize(g.weights.size());
    for (size_t k = 0; k < g.weights.size(); ++k) scratch_[k] = static_cast<float>(g.weights[k] * scale);
    return scratch_.data();
  }

  const stimulus_spec& spec_;
  std::vector<target_group> groups_;
  std::unique_ptr<stimulus_generator> gen_;
  stimulus_event pending_{no_spike};
  uint64_t n_targets_ = 0, delivered_ = 0;
  std::vector<float> scratch_;
};

}  // namespace gs
