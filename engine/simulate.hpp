// Runs a built network on the backend its run file names (run.backend): "event", "clock" or
// "cuda". The CLI and the tests call this; each backend is also callable on its own. With a sink,
// recorded spikes go there as they happen instead of into the result.
#pragma once
#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs {

run_result simulate(network& net, const run_config& cfg, const progress_fn& progress = {},
                    spike_sink* sink = nullptr);

}  // namespace gs
