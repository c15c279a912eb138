#include "engine/simulate.hpp"

#include <stdexcept>

#include "engine/backends/clock/simulator.hpp"
#if defined(GILLESPIKE_HAVE_CUDA)
#include "engine/backends/cuda/simulator.hpp"
#endif

namespace gs {

run_result simulate(network& net, const run_config& cfg, const progress_fn& progress, spike_sink* sink) {
  if (cfg.backend == "clock") return simulate_clock(net, cfg, progress, sink);
#if defined(GILLESPIKE_HAVE_CUDA)
  if (cfg.backend == "cuda") return simulate_cuda(net, cfg, progress, sink);
#endif
  if (cfg.backend == "event") return simulate_event(net, cfg, progress, sink);
  // load_config refuses a backend this build lacks; this guards direct callers.
  throw std::invalid_argument("backend \"" + cfg.backend + "\" is not available in this build");
}

}  // namespace gs
