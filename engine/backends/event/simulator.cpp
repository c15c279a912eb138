#include "engine/backends/event/simulator.hpp"

#include <algorithm>

#include "engine/backends/event/direct.hpp"
#include "engine/backends/event/sources.hpp"
#include "engine/indexed_heap.hpp"

namespace gs {

using event_detail::event_sources;

run_result simulate_event(network& net, const run_config& cfg, const progress_fn& progress, spike_sink* sink) {
  check_method(net, cfg);
  if (cfg.method == "direct") return simulate_direct(net, cfg, progress, sink);
  run_result res;
  res.sink = sink;
  const double T = cfg.duration;
  indexed_heap neurons(net.neurons);
  event_sources<indexed_heap> sources(net, cfg, res, neurons);
  for (auto& p : net.populations) p->schedule_all(neurons);

  uint64_t until_progress = 1 << 16;
  for (;;) {
    const double tn = neurons.top_key(), ts = sources.next();
    if (--until_progress == 0) {
      until_progress = 1 << 16;
      if (progress) progress(std::min(tn, ts));
    }
    ++res.events;
    if (ts <= tn) {
      if (ts >= T) break;
      sources.handle(ts);
    } else {
      if (tn >= T) break;
      const uint32_t g = neurons.top();
      const uint32_t pop = sources.population_of(g);
      const uint32_t local = g - sources.first_gid(pop);
      if (net.populations[pop]->on_due(tn, local, neurons)) sources.spike(tn, pop, local);
    }
  }
  --res.events;  // the last pass only found the end
  res.pass_spikes();
  return res;
}

}  // namespace gs
