// The GPU form of any cell model: the step kernel, which calls the same clock_step<Model>::run as
// the CPU clock backend, and the population that launches it. engine/population.hpp includes this
// file when it is compiled by nvcc with CUDA enabled; add_gpu_form<Model>(registry) (at the end)
// attaches the form to the registered model. Built-in models (models/builtin_gpu.cu) and plugins
// (docs/plugins.md, "On the GPU") make the same call.
#pragma once
#include <cuda_runtime.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/cuda/check.hpp"
#include "engine/backends/cuda/device_buffer.hpp"
#include "engine/backends/cuda/population.hpp"
#include "engine/clock_step.hpp"

namespace gs {

namespace cuda_detail {

// Threads per block of the step kernels: a multiple of the warp, for the spike append below.
inline constexpr uint32_t step_threads = 256;

// Appends gid to the step's spikes when `spike`, one atomic per warp. Every lane of the warp
// takes part (the kernels do not return early). The order of the appended ids depends on
// scheduling; the backend sorts each step's spikes before it writes them out.
__device__ inline void append_spike(bool spike, uint32_t gid, uint32_t* fired, uint32_t* count) {
  const unsigned mask = __ballot_sync(0xffffffffu, spike);
  if (mask == 0) return;
  const unsigned lane = threadIdx.x & 31u, leader = __ffs(mask) - 1;
  uint32_t base = 0;
  if (lane == leader) base = atomicAdd(count, static_cast<uint32_t>(__popc(mask)));
  base = __shfl_sync(0xffffffffu, base, leader);
  if (spike) fired[base + __popc(mask & ((1u << lane) - 1u))] = gid;
}

// A model's state as doubles: every state struct is a run of doubles (static_assert below).
template <class Model>
inline constexpr uint32_t n_vars = sizeof(typename Model::state) / sizeof(double);

// Neuron i's state lives at st[v * n + i] for variable v (float32; the step computes in double).
template <class Model>
__global__ void step_kernel(float* st, uint32_t n, const typename Model::params* params,
                            const typename clock_step<Model>::constants* constants, bool shared, step_io io, uint64_t k,
                            bool receive_only) {
  using stepper = clock_step<Model>;
  constexpr int R = static_cast<int>(Model::receptors.size());
  const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  bool spike = false;
  if (i < n) {
    double v[n_vars<Model>];
    for (uint32_t j = 0; j < n_vars<Model>; ++j) v[j] = st[size_t(j) * n + i];
    typename Model::state s;
    memcpy(&s, v, sizeof s);
    const uint32_t gid = io.first_gid + i;
    double x[R + 1];
    for (int r = 0; r <= R; ++r) {
      long long& sum = io.in[size_t(r) * io.n_total + gid];
      x[r] = static_cast<double>(sum) * (1.0 / input_scale);
      sum = 0;
    }
    const auto& p = params[shared ? 0 : i];
    if (receive_only) stepper::receive(s, p, x);
    else spike = stepper::run(s, p, constants[shared ? 0 : i], io.dt, x, io.seed, gid, k);
    memcpy(v, &s, sizeof s);
    for (uint32_t j = 0; j < n_vars<Model>; ++j) st[size_t(j) * n + i] = static_cast<float>(v[j]);
  }
  append_spike(spike, io.first_gid + i, io.fired, io.fired_count);
}

// A template like the step kernel, so that every file that compiles a model's GPU form may hold it.
template <class Model>
__global__ void gather_kernel(const float* var, const uint32_t* ids, uint32_t n, float* out) {
  const uint32_t j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < n) out[j] = var[ids[j]];
}

}  // namespace cuda_detail

template <class Model>
class cuda_population_of final : public cuda_population {
 public:
  using state = typename Model::state;
  static_assert(std::is_trivially_copyable_v<state> && sizeof(state) % sizeof(double) == 0,
                "the GPU form keeps a model's state as its doubles; the state struct must hold only doubles");

  explicit cuda_population_of(const population_of<Model>& host) : n_(host.size) {
    constexpr uint32_t V = cuda_detail::n_vars<Model>;
    std::vector<float> st(size_t(V) * n_);
    for (uint32_t i = 0; i < n_; ++i) {
      double v[V];
      std::memcpy(v, &host.state_of(i), sizeof(state));
      for (uint32_t j = 0; j < V; ++j) st[size_t(j) * n_ + i] = static_cast<float>(v[j]);
    }
    state_.upload(st);
    params_.upload(host.parameter_sets());
    constants_.upload(host.step_sets());
    shared_ = host.parameter_sets().size() == 1;
  }

  void step(const step_io& io, uint64_t k, bool receive_only, cudaStream_t stream) override {
    const uint32_t blocks = (n_ + cuda_detail::step_threads - 1) / cuda_detail::step_threads;
    if (blocks == 0) return;
    cuda_detail::step_kernel<Model><<<blocks, cuda_detail::step_threads, 0, stream>>>(
        state_.data(), n_, params_.data(), constants_.data(), shared_, io, k, receive_only);
    cuda_check(cudaGetLastError(), launch_name_.c_str(), __FILE__, __LINE__);
  }

  void gather(int variable, const uint32_t* ids, uint32_t n, float* out, cudaStream_t stream) override {
    if (n == 0) return;
    const state d{};
    const auto* base = reinterpret_cast<const char*>(&d);
    const auto offset = (reinterpret_cast<const char*>(&(d.*(Model::state_table[variable].member))) - base) /
                        static_cast<std::ptrdiff_t>(sizeof(double));
    cuda_detail::gather_kernel<Model><<<(n + 255) / 256, 256, 0, stream>>>(state_.data() + size_t(offset) * n_, ids, n, out);
    GS_CUDA_LAUNCHED("gather_kernel");
  }

 private:
  uint32_t n_;
  bool shared_ = true;
  device_buffer<float> state_;
  device_buffer<typename Model::params> params_;
  device_buffer<typename clock_step<Model>::constants> constants_;
  std::string launch_name_ = "launch of step_kernel<" + std::string(Model::name) + ">";
};

template <class Model>
std::unique_ptr<cuda_population> make_cuda_population(population_base& host) {
  return std::make_unique<cuda_population_of<Model>>(static_cast<population_of<Model>&>(host));
}

// Gives Model, registered with describe_model<Model>(), its GPU form.
template <class Model>
void add_gpu_form(registry& reg) {
  reg.add_gpu_form(std::string(Model::name), &make_cuda_population<Model>);
}

}  // namespace gs
