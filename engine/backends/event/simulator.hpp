// The event-driven backend: jumps from event to event (next threshold crossing, synaptic
// delivery, stimulus, sample), advancing each neuron exactly, so spike times are continuous.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/network.hpp"
#include "engine/spike_sink.hpp"
#include "io/config.hpp"

namespace gs {

struct trace_data {
  const state_recorder_spec* spec = nullptr;
  std::vector<double> times;
  std::vector<std::vector<double>> values;  // per variable, row-major [sample][id]
};

struct run_result {
  // The recorded spikes (ms, global ids) in the order they happened (by time). With a sink, only
  // those not yet handed to it: a batch at most.
  std::vector<double> spike_times;
  std::vector<uint32_t> spike_gids;
  spike_sink* sink = nullptr;
  std::vector<uint64_t> spikes_per_population;  // counted whether recorded or not
  std::vector<trace_data> traces;
  uint64_t events = 0;           // queue events handled (clock backend: neuron updates)
  uint64_t synaptic_events = 0;  // synapses delivered
  unsigned threads = 1;          // worker threads the backend could use (the clock backend's run.threads)
  // cuda backend: device time of the step loop, and the part of it spent copying results to the host.
  double device_s = 0, copy_s = 0;

  // Spikes a sink gets at once: 3 MB held (12 B a spike), and few enough calls to cost nothing.
  static constexpr size_t sink_batch = size_t(1) << 18;
  void record_spike(double t, uint32_t gid) {
    spike_times.push_back(t);
    spike_gids.push_back(gid);
    if (sink && spike_times.size() >= sink_batch) pass_spikes();
  }
  // Hands the held spikes to the sink, if there is one; the backends call it once more at the end.
  void pass_spikes() {
    if (!sink || spike_times.empty()) return;
    sink->take(spike_times, spike_gids);
    spike_times.clear();
    spike_gids.clear();
  }
};

// Called now and then with the simulated time, for progress display.
using progress_fn = std::function<void(double t_ms)>;

// `sink`: where recorded spikes go as they happen; without one they stay in the result.
run_result simulate_event(network& net, const run_config& cfg, const progress_fn& progress = {},
                          spike_sink* sink = nullptr);

}  // namespace gs
