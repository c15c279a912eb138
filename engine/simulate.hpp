// Runs a built network on the backend its run file names (run.backend): "event", "clock" or
// "cuda". The CLI and the tests call this; each backend is also callable on its own.
#pragma once
#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs {

run_result simulate(network& net, const run_config& cfg, const progress_fn& progress = {});

}  // namespace gs
