// The clock-driven backend: every neuron advances by a fixed step dt with the same model
// functions the event backend uses, in parallel over blocks of neurons (oneTBB); spike times are
// on the grid and delays are whole steps. Same run files, same run_result, same outputs.
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs {

// run_result::events counts neuron updates (steps times neurons). Spike data do not depend on
// run.threads: blocks of neurons are fixed, their spikes are joined in block order and inputs
// are summed serially in gid order.
//
// An observer, when given, is called after every step k (time (k + 1) dt) with that step's spikes
// as global ids in order. It may read the neurons' state and change the weights of stored
// projections (net.projections[i].weights, already ordered by target within each row when it is
// first called): the next step delivers with the new weights. Learning rules (learning/rls) run
// here, inside the one clock loop.
using step_observer = std::function<void(uint64_t k, std::span<const uint32_t> fired)>;
run_result simulate_clock(network& net, const run_config& cfg, const progress_fn& progress = {},
                          spike_sink* sink = nullptr, const step_observer& observer = {});

}  // namespace gs
