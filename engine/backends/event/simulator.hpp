// The event-driven backend: jumps from event to event (next threshold crossing, synaptic
// delivery, stimulus, sample), advancing each neuron exactly, so spike times are continuous.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs {

struct trace_data {
  const state_recorder_spec* spec = nullptr;
  std::vector<double> times;
  std::vector<std::vector<double>> values;  // per variable, row-major [sample][id]
};

struct run_result {
  std::vector<double> spike_times;   // ms, in the order they happened (by time)
  std::vector<uint32_t> spike_gids;  // global ids
  std::vector<uint64_t> spikes_per_population;  // counted whether recorded or not
  std::vector<trace_data> traces;
  uint64_t events = 0;           // queue events handled (clock backend: neuron updates)
  uint64_t synaptic_events = 0;  // synapses delivered
  unsigned threads = 1;          // worker threads the backend could use (the clock backend's run.threads)
  // cuda backend: device time of the step loop, and the part of it spent copying results to the host.
  double device_s = 0, copy_s = 0;
};

// Called now and then with the simulated time, for progress display.
using progress_fn = std::function<void(double t_ms)>;

run_result simulate_event(network& net, const run_config& cfg, const progress_fn& progress = {});

}  // namespace gs
