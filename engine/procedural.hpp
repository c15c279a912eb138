// What a procedural projection draws again when its source spikes, besides the targets its rule
// writes: the synapses' weights and delays. The clock backend (regenerate, engine/network.cpp)
// and the cuda backend's kernel (engine/backends/cuda/procedural.cuh) draw them through this one
// class, so both give each synapse the same values.
#pragma once
#include <cstdint>

#include "engine/host_device.hpp"
#include "engine/rng.hpp"
#include "engine/value.hpp"

namespace gs {

// A procedural projection's weights and delays (ms): constants, or distributions drawn per
// synapse from streams keyed by (seed, projection, source, chunk).
struct synapse_values {
  value_spec weight, delay;
  uint64_t seed = 0;
  uint32_t projection = 0;
};

// The weights and delays of one source's synapses in one chunk, in the order of the targets the
// rule wrote. A constant is returned as it is, without a draw.
class synapse_draws {
 public:
  GS_HD synapse_draws(const synapse_values& v, uint32_t source, uint32_t chunk)
      : v_(v),
        weights_(v.seed, rng_purpose::procedural_weight, v.projection, source, chunk),
        delays_(v.seed, rng_purpose::procedural_delay, v.projection, source, chunk) {}
  GS_HD float weight() { return static_cast<float>(v_.weight.draw(weights_)); }
  GS_HD float delay() { return static_cast<float>(v_.delay.draw(delays_)); }

 private:
  const synapse_values& v_;
  rng_stream weights_, delays_;
};

}  // namespace gs
