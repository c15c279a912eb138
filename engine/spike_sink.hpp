// Where a run's recorded spikes go while it runs. Backends hand them over in time order, a batch at
// a time, so a long recording never sits in memory whole (io/run_outputs streams them to disk).
#pragma once
#include <cstdint>
#include <span>

namespace gs {

class spike_sink {
 public:
  virtual ~spike_sink() = default;
  // Spike times (ms) and global neuron ids, in time order, continuing the previous batch.
  virtual void take(std::span<const double> times_ms, std::span<const uint32_t> gids) = 0;
};

}  // namespace gs
