// What procedural_kernel (procedural.cuh) does for one (spike, task), as a GS_HD function: the
// kernel calls it with an atomic add, and tests/unit/test_cuda_procedural.cpp calls it on the CPU
// against the clock backend's delivery. Also the host-side table of a rule's projections that the
// kernel reads, and how a generator takes its device form. Needs no GPU and no nvcc.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "engine/backends/cuda/population.hpp"
#include "engine/backends/cuda/procedural.hpp"
#include "engine/host_device.hpp"
#include "engine/procedural.hpp"
#include "plugins/registry.hpp"

namespace gs {

// A projection as the kernel reads it: its tasks are the chunks of its target population.
template <class View>
struct device_procedural {
  View generate;
  synapse_values values;
  procedural_target where;
  uint32_t first_task, chunks;  // tasks [first_task, first_task + chunks) of each spike
};

// The procedural projections of one rule, built on the host. A spike has `tasks` tasks: the
// chunks of every projection's target population, one projection after another.
template <class View>
struct procedural_table {
  std::vector<device_procedural<View>> projections;
  uint32_t tasks = 0;

  void add(const View& generate, const synapse_values& values, const procedural_target& where) {
    const uint32_t chunks = (where.target_size + procedural_chunk - 1) / procedural_chunk;
    projections.push_back({generate, values, where, tasks, chunks});
    tasks += chunks;
  }
};

// A generator as the device runs it: as it is when trivially copyable, else through its
// device_form(upload), where upload(host vector) gives the pointer of a copy the device reads.
template <class Generator, class Upload>
auto device_form(const Generator& g, Upload& upload) {
  if constexpr (requires { g.device_form(upload); }) {
    return g.device_form(upload);
  } else {
    static_assert(std::is_trivially_copyable_v<Generator>,
                  "a procedural generator runs on the GPU as it is only when trivially copyable; one that "
                  "holds tables gives device_form(upload) (engine/backends/cuda/procedural.cuh)");
    return g;
  }
}

// Task i of a step (i < spikes x tasks): spike i / tasks, through the synapses of task i % tasks
// when that task's projection leaves the spike's population, each weight added to the input sum
// of its arrival step by add(sum, fixed-point weight). Returns the synapses delivered.
// `targets` has room for procedural_chunk ids.
template <class View, class Add>
GS_HD uint32_t procedural_task(const device_procedural<View>* projections, uint32_t n_projections, uint32_t tasks,
                               const procedural_step& st, uint64_t i, uint32_t* targets, Add& add) {
  const auto task = static_cast<uint32_t>(i % tasks);
  const uint32_t gid = st.fired[i / tasks];
  uint32_t q = 0;
  while (q + 1 < n_projections && task >= projections[q + 1].first_task) ++q;
  const device_procedural<View>& pr = projections[q];
  if (gid < pr.where.source_first || gid - pr.where.source_first >= pr.where.source_size) return 0;
  const uint32_t source = gid - pr.where.source_first, chunk = task - pr.first_task;
  const uint32_t m = pr.generate(source, chunk, targets);
  synapse_draws draws(pr.values, source, chunk);
  const bool own_weights = !pr.values.weight.is_constant(), own_delays = !pr.values.delay.is_constant();
  long long* row = st.ring + uint64_t(pr.where.input_row) * st.n_total + pr.where.target_first;
  for (uint32_t j = 0; j < m; ++j) {
    // As the clock backend: weights and delays drawn as float, delays rounded to steps; weights
    // rounded to fixed point as deliver_kernel rounds stored ones (to nearest, ties to even).
    const long long w = own_weights ? llrint(double(draws.weight()) * input_scale) : pr.where.weight;
    const uint64_t d = own_delays ? static_cast<uint64_t>(llround(double(draws.delay()) / st.dt)) : pr.where.delay;
    add(row + ((st.k - 1 + d) % st.ring_len) * st.slot_size + targets[j], w);
  }
  return m;
}

}  // namespace gs
