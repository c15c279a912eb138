// Gillespie's direct method for networks whose every population is stochastic (run.method =
// "direct"): the neurons' thinning bounds sit in one sum tree; the next candidate time comes from
// their total and the neuron from a draw in proportion to its bound. Deliveries, stimuli and
// samplers still come from the event sources the next-reaction loop uses.
#pragma once
#include "engine/backends/event/simulator.hpp"

namespace gs {

// Throws config_error (path run.method) when the method cannot run this network: the direct
// method needs every population stochastic. `validate` calls it too.
void check_method(const network& net, const run_config& cfg);

run_result simulate_direct(network& net, const run_config& cfg, const progress_fn& progress = {},
                           spike_sink* sink = nullptr);

}  // namespace gs
