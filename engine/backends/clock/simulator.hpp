// The clock-driven backend: every neuron advances by a fixed step dt with the same model
// functions the event backend uses, in parallel over blocks of neurons (oneTBB); spike times are
// on the grid and delays are whole steps. Same run files, same run_result, same outputs.
#pragma once
#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs {

// run_result::events counts neuron updates (steps times neurons). Spike data do not depend on
// run.threads: blocks of neurons are fixed, their spikes are joined in block order and inputs
// are summed serially in gid order.
run_result simulate_clock(network& net, const run_config& cfg, const progress_fn& progress = {},
                          spike_sink* sink = nullptr);

}  // namespace gs
