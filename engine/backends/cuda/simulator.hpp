// The CUDA backend: the clock-driven simulation on an NVIDIA GPU. Same run files, grid, step
// order and outputs as the clock backend (engine/backends/clock); each model's step is the same
// clock_step<Model>::run, compiled for the device. docs/cuda.md describes it and its limits.
#pragma once
#include "engine/backends/event/simulator.hpp"
#include "engine/network.hpp"
#include "io/config.hpp"

namespace gs {

// Throws cuda_error (engine/backends/cuda/check.hpp) when no device is usable or a CUDA call
// fails. run_result::events counts neuron updates, as on the clock backend; threads is 0.
run_result simulate_cuda(network& net, const run_config& cfg, const progress_fn& progress = {},
                         spike_sink* sink = nullptr);

}  // namespace gs
