#include <cuda_runtime.h>

#include <string>

#include "engine/backends/cuda/device_info.hpp"

namespace gs {

std::string cuda_unusable_reason() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) return std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
  if (n == 0) return "no CUDA device found";
  return "";
}

std::string cuda_device_summary() {
  if (const std::string why = cuda_unusable_reason(); !why.empty()) return "no usable device (" + why + ")";
  int n = 0;
  cudaGetDeviceCount(&n);
  std::string s = std::to_string(n) + " device(s):";
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    s += " " + std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " +
         std::to_string(p.totalGlobalMem >> 30) + " GiB)";
  }
  return s;
}

}  // namespace gs
