#include "learning/rls/gpu.hpp"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "engine/backends/cuda/check.hpp"
#include "engine/backends/cuda/device_buffer.hpp"
#include "engine/backends/cuda/device_info.hpp"

namespace gs::rls {

namespace {

constexpr int block_threads = 128;

// Sums one value per thread in a fixed order (a tree over thread ids), so the result does not
// depend on scheduling: the same inputs give the same weights, run after run.
__device__ double block_sum(double v, double* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) scratch[threadIdx.x] += scratch[threadIdx.x + half];
    __syncthreads();
  }
  const double sum = scratch[0];
  __syncthreads();
  return sum;
}

// One block per neuron i with m = offsets[i + 1] - offsets[i] plastic inputs; P_i is m x m, row-major,
// at P + P_offsets[i]. The textbook step of rls.hpp: k = P r / (1 + r' P r), w -= (w . r - f) k,
// P -= k (P r)'. Products in double whatever P's precision; P_jk -= gain (Pr_j Pr_k) keeps P
// exactly symmetric.
template <class T>
__global__ void update_kernel(const int* offsets, const std::int64_t* P_offsets, const int* sources,
                              const double* activity, const double* target, double* weights, T* P) {
  extern __shared__ double shared[];  // r[m], Pr[m], then one slot per thread for sums
  const int i = blockIdx.x, first = offsets[i], m = offsets[i + 1] - first;
  if (m == 0) return;  // the whole block leaves together
  double *r = shared, *Pr = shared + m, *scratch = shared + 2 * m;
  T* Pi = P + P_offsets[i];
  for (int j = threadIdx.x; j < m; j += blockDim.x) r[j] = activity[sources[first + j]];
  __syncthreads();
  double rPr = 0, wr = 0;
  for (int j = threadIdx.x; j < m; j += blockDim.x) {
    double s = 0;
    for (int k = 0; k < m; ++k) s += double(Pi[std::int64_t(j) * m + k]) * r[k];
    Pr[j] = s;
    rPr += r[j] * s;
    wr += weights[first + j] * r[j];
  }
  rPr = block_sum(rPr, scratch);  // also makes Pr visible to every thread
  wr = block_sum(wr, scratch);
  const double gain = 1 / (1 + rPr), step = (wr - target[i]) * gain;
  for (int j = threadIdx.x; j < m; j += blockDim.x) weights[first + j] -= step * Pr[j];
  for (std::int64_t e = threadIdx.x; e < std::int64_t(m) * m; e += blockDim.x) {
    const int j = int(e / m), k = int(e % m);
    Pi[e] = T(double(Pi[e]) - gain * (Pr[j] * Pr[k]));
  }
}

}  // namespace

struct gpu_state::impl {
  bool single;
  std::vector<int> offsets;               // host copy: where each neuron's weights are
  std::vector<std::int64_t> P_offsets;    // host copy: where each neuron's P is
  int widest = 0;                         // most plastic inputs of one neuron
  device_buffer<int> d_offsets, d_sources;
  device_buffer<std::int64_t> d_P_offsets;
  device_buffer<double> d_activity, d_target, d_weights;
  device_buffer<double> d_P;  // one of the two, by precision
  device_buffer<float> d_Pf;
  std::vector<double> weights;  // the weights copied back, flat

  template <class T>
  void launch(const device_buffer<T>& P, unsigned neurons) {
    const size_t shared = (2 * size_t(widest) + block_threads) * sizeof(double);
    update_kernel<T><<<neurons, block_threads, shared>>>(d_offsets.data(), d_P_offsets.data(), d_sources.data(),
                                                         d_activity.data(), d_target.data(), d_weights.data(),
                                                         P.data());
    GS_CUDA_LAUNCHED("rls update_kernel");
  }
};

gpu_state::gpu_state(const std::vector<neuron_inputs>& neurons, const std::vector<Eigen::MatrixXd>& P,
                     bool single_precision_P)
    : d_(std::make_unique<impl>()) {
  if (const std::string why = cuda_unusable_reason(); !why.empty())
    throw std::runtime_error("learning.rls.device \"cuda\": no usable GPU here (" + why + ")");
  impl& d = *d_;
  d.single = single_precision_P;
  std::vector<int> sources;
  std::vector<double> Pd;
  d.offsets.push_back(0);
  d.P_offsets.push_back(0);
  for (size_t i = 0; i < neurons.size(); ++i) {
    const auto& n = neurons[i];
    const int m = int(n.sources.size());
    d.widest = std::max(d.widest, m);
    sources.insert(sources.end(), n.sources.begin(), n.sources.end());
    d.weights.insert(d.weights.end(), n.weights.data(), n.weights.data() + m);
    for (int j = 0; j < m; ++j)
      for (int k = 0; k < m; ++k) Pd.push_back(P[i](j, k));
    d.offsets.push_back(d.offsets.back() + m);
    d.P_offsets.push_back(d.P_offsets.back() + std::int64_t(m) * m);
  }
  // Shared memory per block: r, Pr and the sums' slots; 48 KiB without opting in.
  if ((2 * size_t(d.widest) + block_threads) * sizeof(double) > 48 * 1024)
    throw std::runtime_error(fmt::format("learning.rls.device \"cuda\": {} plastic inputs on one neuron, at most {}",
                                         d.widest, (48 * 1024 / sizeof(double) - block_threads) / 2));
  d.d_offsets.upload(d.offsets);
  d.d_P_offsets.upload(d.P_offsets);
  d.d_sources.upload(sources);
  d.d_weights.upload(d.weights);
  d.d_target.resize(neurons.size());
  if (d.single) d.d_Pf.upload(std::vector<float>(Pd.begin(), Pd.end()));
  else d.d_P.upload(Pd);
}

gpu_state::~gpu_state() = default;

void gpu_state::update(const Eigen::VectorXd& activity, const Eigen::VectorXd& target,
                       std::vector<neuron_inputs>& neurons) {
  impl& d = *d_;
  if (d.d_activity.size() != size_t(activity.size())) d.d_activity.resize(size_t(activity.size()));
  GS_CUDA(cudaMemcpy(d.d_activity.data(), activity.data(), d.d_activity.size() * sizeof(double), cudaMemcpyHostToDevice));
  GS_CUDA(cudaMemcpy(d.d_target.data(), target.data(), d.d_target.size() * sizeof(double), cudaMemcpyHostToDevice));
  const auto n = unsigned(neurons.size());
  if (n > 0) d.single ? d.launch(d.d_Pf, n) : d.launch(d.d_P, n);
  GS_CUDA(cudaMemcpy(d.weights.data(), d.d_weights.data(), d.weights.size() * sizeof(double), cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < neurons.size(); ++i)
    neurons[i].weights = Eigen::Map<const Eigen::VectorXd>(d.weights.data() + d.offsets[i], d.offsets[i + 1] - d.offsets[i]);
}

Eigen::MatrixXd gpu_state::P(std::size_t neuron) const {
  const impl& d = *d_;
  const int m = d.offsets[neuron + 1] - d.offsets[neuron];
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> out(m, m);
  if (d.single) {
    std::vector<float> f(size_t(m) * m);
    GS_CUDA(cudaMemcpy(f.data(), d.d_Pf.data() + d.P_offsets[neuron], f.size() * sizeof(float), cudaMemcpyDeviceToHost));
    for (size_t e = 0; e < f.size(); ++e) out.data()[e] = f[e];
  } else {
    GS_CUDA(cudaMemcpy(out.data(), d.d_P.data() + d.P_offsets[neuron], out.size() * sizeof(double), cudaMemcpyDeviceToHost));
  }
  return out;
}

void gpu_state::restore(std::size_t neuron, const Eigen::VectorXd& weights, const Eigen::MatrixXd& P) {
  impl& d = *d_;
  const int m = d.offsets[neuron + 1] - d.offsets[neuron];
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = P;
  std::copy(weights.data(), weights.data() + m, d.weights.begin() + d.offsets[neuron]);
  GS_CUDA(cudaMemcpy(d.d_weights.data() + d.offsets[neuron], weights.data(), size_t(m) * sizeof(double),
                     cudaMemcpyHostToDevice));
  if (d.single) {
    const std::vector<float> f(rows.data(), rows.data() + rows.size());
    GS_CUDA(cudaMemcpy(d.d_Pf.data() + d.P_offsets[neuron], f.data(), f.size() * sizeof(float), cudaMemcpyHostToDevice));
  } else {
    GS_CUDA(cudaMemcpy(d.d_P.data() + d.P_offsets[neuron], rows.data(), size_t(rows.size()) * sizeof(double),
                       cudaMemcpyHostToDevice));
  }
}

}  // namespace gs::rls
