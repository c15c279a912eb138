// The GPU form of a rule's procedural generator: the delivery kernel, which calls the same
// generator as the clock backend (through the rule's chunk_generator) and draws weights and delays
// with the same synapse_draws, and the object that launches it. plugins/plugin.hpp includes this
// file when it is compiled by nvcc with CUDA enabled; add_procedural_gpu_form<Generator>(registry,
// rule) (at the end) attaches the form to the registered rule. The built-in rules
// (plugins/connection_rules_gpu.cu) and plugins (docs/plugins.md, "On the GPU") make the same call.
//
// A generator runs on the device as it is when it is trivially copyable and its call operator is
// GS_HD. One that reads tables (fixed_total_number's per-cell counts) gives instead
// `template <class Upload> View device_form(Upload& upload) const`, where upload(host vector)
// returns a device pointer to a copy, and View is such a trivially copyable generator
// (device_form in procedural_task.hpp).
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/backends/cuda/check.hpp"
#include "engine/backends/cuda/device_buffer.hpp"
#include "engine/backends/cuda/population.hpp"
#include "engine/backends/cuda/procedural.hpp"
#include "engine/backends/cuda/procedural_task.hpp"
#include "engine/network.hpp"
#include "engine/procedural.hpp"
#include "plugins/registry.hpp"

namespace gs {

namespace cuda_detail {

// A thread per (spike, task) (procedural_task.hpp): the spike's synapses in one chunk of one
// projection, drawn again and added to the input sums of their arrival steps. A spike has a task
// for every projection of the rule, so threads whose projection starts elsewhere return at once.
// Sums are fixed point (population.hpp): the order of the atomics does not change them.
template <class View>
__global__ void procedural_kernel(const device_procedural<View>* projections, uint32_t n_projections,
                                  uint32_t tasks, procedural_step st) {
  const uint64_t n = uint64_t(*st.fired_count) * tasks, stride = uint64_t(gridDim.x) * blockDim.x;
  auto add = [](long long* sum, long long w) {
    atomicAdd(reinterpret_cast<unsigned long long*>(sum), static_cast<unsigned long long>(w));
  };
  unsigned long long delivered = 0;
  uint32_t targets[procedural_chunk];
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    delivered += procedural_task(projections, n_projections, tasks, st, i, targets, add);
  // One atomic per warp for the count (every lane reaches this point).
  for (int offset = 16; offset > 0; offset /= 2) delivered += __shfl_down_sync(0xffffffffu, delivered, offset);
  if ((threadIdx.x & 31u) == 0 && delivered) atomicAdd(st.deliveries, delivered);
}

// Device copies of the tables generators read, kept as long as their projections run.
class device_tables {
 public:
  template <class T>
  const T* operator()(const std::vector<T>& host) {
    auto copy = std::make_shared<device_buffer<T>>(std::span<const T>(host));
    owned_.push_back(copy);
    return copy->data();
  }

 private:
  std::vector<std::shared_ptr<void>> owned_;
};

}  // namespace cuda_detail

template <class Generator>
class cuda_procedural_of final : public cuda_procedural {
  using view = decltype(device_form(std::declval<const Generator&>(), std::declval<cuda_detail::device_tables&>()));

 public:
  void add(const projection& p, const procedural_target& where) override {
    const Generator* g = p.generate.template target<Generator>();
    if (!g)
      throw std::logic_error(p.path + ": the generator of rule \"" + p.rule +
                             "\" is not the type its GPU form was registered for");
    table_.add(device_form(*g, tables_), p.values, where);
    device_.upload(table_.projections);
    launch_name_ = "launch of procedural_kernel for rule \"" + p.rule + "\"";
  }

  void deliver(const procedural_step& st, cudaStream_t stream) override {
    if (table_.tasks == 0) return;
    cuda_detail::procedural_kernel<view><<<st.blocks, 256, 0, stream>>>(
        device_.data(), static_cast<uint32_t>(table_.projections.size()), table_.tasks, st);
    cuda_check(cudaGetLastError(), launch_name_.c_str(), __FILE__, __LINE__);
  }

 private:
  procedural_table<view> table_;
  device_buffer<device_procedural<view>> device_;
  cuda_detail::device_tables tables_;
  std::string launch_name_;
};

// Gives `rule`, registered with a procedural generator of type Generator, its GPU form.
template <class Generator>
void add_procedural_gpu_form(registry& reg, const std::string& rule) {
  reg.add_rule_gpu_form(rule, [] { return std::make_unique<cuda_procedural_of<Generator>>(); });
}

}  // namespace gs
