// Every CUDA runtime call and kernel launch of the backend goes through these checks: a failure
// throws cuda_error naming the call, where it was made, and CUDA's own message, instead of
// surfacing later as wrong spikes.
#pragma once
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace gs {

struct cuda_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void cuda_check(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess)
    throw cuda_error(std::string("CUDA: ") + call + " failed at " + file + ":" + std::to_string(line) + ": " +
                     cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

}  // namespace gs

// A runtime call: GS_CUDA(cudaMalloc(&p, n)).
#define GS_CUDA(call) ::gs::cuda_check((call), #call, __FILE__, __LINE__)
// Right after a launch: a bad configuration shows in cudaGetLastError, a fault in the kernel at the
// next synchronising call (checked in turn).
#define GS_CUDA_LAUNCHED(kernel) ::gs::cuda_check(cudaGetLastError(), "launch of " kernel, __FILE__, __LINE__)
