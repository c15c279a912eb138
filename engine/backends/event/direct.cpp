#include "engine/backends/event/direct.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "engine/backends/event/sources.hpp"
#include "engine/rate_tree.hpp"
#include "engine/rng.hpp"

namespace gs {

void check_method(const network& net, const run_config& cfg) {
  if (cfg.method != "direct") return;
  for (const auto& p : net.populations)
    if (!p->is_stochastic())
      throw config_error(cfg.file, "run.method",
                         fmt::format("the direct method needs stochastic models (a hazard) in every population, "
                                     "but population \"{}\" has model \"{}\", which has a threshold; use "
                                     "\"next_reaction\"",
                                     p->name, p->model));
}

namespace {

// The engine's own draws (candidate times, which neuron), a stream no neuron uses: gids stop
// below 2^32 - 1. A fresh stream every 2^30 draws keeps Philox's 32-bit block counter from
// wrapping in very long runs.
class engine_draws {
 public:
  explicit engine_draws(uint64_t seed) : seed_(seed), rng_(seed, rng_purpose::hazard, UINT32_MAX, 0) {}
  rng_stream& operator()() {
    if (++used_ == (uint64_t(1) << 30)) {
      used_ = 0;
      rng_ = rng_stream(seed_, rng_purpose::hazard, UINT32_MAX, ++epoch_);
    }
    return rng_;
  }

 private:
  uint64_t seed_, used_ = 0;
  uint32_t epoch_ = 0;
  rng_stream rng_;
};

}  // namespace

run_result simulate_direct(network& net, const run_config& cfg, const progress_fn& progress, spike_sink* sink) {
  check_method(net, cfg);
  run_result res;
  res.sink = sink;
  const double T = cfg.duration;
  rate_tree tree(net.neurons);
  event_detail::event_sources<rate_tree> sources(net, cfg, res, tree);
  for (auto& p : net.populations) p->bound_all(tree);
  engine_draws draw(cfg.seed);

  // The candidates of all neurons together are a Poisson process with the total bound rate.
  // A source event that changes bounds comes first: the wait left until the pending candidate is
  // Exp(old total) whatever happened before (memorylessness), so rescaling it by old / new total
  // gives an Exp(new total) wait without a new draw.
  double t = 0, total = tree.total();
  double tc = total > 0 ? draw().exponential(total) : no_spike;
  uint64_t until_progress = 1 << 16;
  for (;;) {
    const double ts = sources.next();
    if (--until_progress == 0) {
      until_progress = 1 << 16;
      if (progress) progress(std::min(tc, ts));
    }
    ++res.events;
    if (ts <= tc) {
      if (ts >= T) break;
      sources.handle(ts);
      t = ts;
      const double now = tree.total();
      if (now != total) {
        tc = total > 0 && now > 0 ? t + (tc - t) * (total / now) : now > 0 ? t + draw().exponential(now) : no_spike;
        total = now;
      }
    } else {
      if (tc >= T) break;
      t = tc;
      const uint32_t g = tree.pick(draw().uniform() * total);
      const uint32_t pop = sources.population_of(g);
      const uint32_t local = g - sources.first_gid(pop);
      if (net.populations[pop]->on_candidate(t, local, tree)) sources.spike(t, pop, local);
      total = tree.total();
      tc = total > 0 ? t + draw().exponential(total) : no_spike;
    }
  }
  --res.events;  // the last pass only found the end
  res.pass_spikes();
  return res;
}

}  // namespace gs
