// Device memory owned by the host object that holds it: allocated with cudaMalloc (never managed
// memory), freed with it, every call checked.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <span>
#include <utility>

#include "engine/backends/cuda/check.hpp"

namespace gs {

template <class T>
class device_buffer {
 public:
  device_buffer() = default;
  explicit device_buffer(size_t n) { resize(n); }
  explicit device_buffer(std::span<const T> host) { upload(host); }
  device_buffer(const device_buffer&) = delete;
  device_buffer& operator=(const device_buffer&) = delete;
  device_buffer(device_buffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  device_buffer& operator=(device_buffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~device_buffer() { cudaFree(p_); }  // no throw from a destructor; a failure here shows at the next checked call

  // Fresh, zeroed memory for n elements (contents are not kept).
  void resize(size_t n) {
    cudaFree(std::exchange(p_, nullptr));
    n_ = n;
    if (n == 0) return;
    GS_CUDA(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)));
    GS_CUDA(cudaMemset(p_, 0, n * sizeof(T)));
  }
  void upload(std::span<const T> host) {
    if (host.size() != n_) resize(host.size());
    if (n_) GS_CUDA(cudaMemcpy(p_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  T* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace gs
