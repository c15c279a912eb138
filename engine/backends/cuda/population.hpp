// A population on the GPU: its neurons' state in float32, one array per state variable, and the
// launch of its step kernel. The CUDA backend (simulator.cu) knows populations only through this
// interface; each model's implementation is the template in kernels.cuh, instantiated wherever
// the model's registration is compiled by nvcc (built in, or inside a plugin).
#pragma once
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>

namespace gs {

// Input sums are kept in fixed point, 2^32 units per unit of weight (pA, nS, mV as the model
// takes them): integer atomic additions are exact and commute, so the sums, and the spikes, do
// not depend on the order in which threads deliver. The range is +-2^31 units per sum.
inline constexpr double input_scale = 4294967296.0;

// A weight in fixed point, rounded on the host (constant weights, host-computed inputs).
inline long long to_fixed(double w) { return std::llround(w * input_scale); }

// What a population's step kernel reads and writes besides its own state.
struct step_io {
  long long* in;          // this step's input sums: row r (0: DC, 1 + r: receptor r) of neuron g at in[r * n_total + g]
  uint32_t n_total;       // neurons in the network: the length of a row
  uint32_t first_gid;     // the population's first global id
  uint32_t* fired;        // the step's spikes: global ids, appended at *fired_count
  uint32_t* fired_count;
  double dt;
  uint64_t seed;
};

class cuda_population {
 public:
  virtual ~cuda_population() = default;
  // One step k for every neuron: reads and clears its input sums, steps (clock_step<Model>::run)
  // and appends those that spiked. receive_only: only receives the inputs (those due at time 0).
  virtual void step(const step_io& io, uint64_t k, bool receive_only, cudaStream_t stream) = 0;
  // State variable `variable` (index into the model's state table) of neurons ids[0..n) (device
  // array) to out[0..n) (device), for the state recorders.
  virtual void gather(int variable, const uint32_t* ids, uint32_t n, float* out, cudaStream_t stream) = 0;
};

}  // namespace gs
