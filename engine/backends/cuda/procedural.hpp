// Procedural projections on the GPU: synapses drawn again on the device when their source spikes,
// through the rule's own generator. The CUDA backend (simulator.cu) knows them only through this
// interface, one object per rule; its implementation is the template in procedural.cuh,
// instantiated wherever the rule's GPU form is registered by nvcc (built in, or in a plugin).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace gs {

struct projection;

// Where a projection's synapses deliver, and the values shared by all of them.
struct procedural_target {
  uint32_t source_first, source_size;  // the source population's global ids
  uint32_t target_first, target_size;  // the target population's
  uint32_t input_row;                  // 1 + receptor
  long long weight;                    // fixed point (population.hpp), when the weight is constant
  uint32_t delay;                      // steps, when the delay is constant
};

// One step's delivery: the spikes of step k - 1 into the input sums of their arrival steps.
struct procedural_step {
  const uint32_t* fired;        // global ids
  const uint32_t* fired_count;  // on the device
  long long* ring;              // input sums: slot, row, neuron (simulator.cu)
  uint64_t slot_size;
  uint32_t n_total, ring_len;
  uint64_t k;
  double dt;                             // drawn delays are rounded to steps of dt, as on the clock backend
  unsigned long long* deliveries;        // synapses delivered, added to
  uint32_t blocks;                       // launch width
};

class cuda_procedural {
 public:
  virtual ~cuda_procedural() = default;
  // Takes a procedural projection made by this rule: its generator goes to the device, with any
  // tables it reads.
  virtual void add(const projection& p, const procedural_target& where) = 0;
  // Delivers one step's spikes through every projection taken, in one launch.
  virtual void deliver(const procedural_step& step, cudaStream_t stream) = 0;
};

}  // namespace gs
