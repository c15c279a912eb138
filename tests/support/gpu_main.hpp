// The main() of every test in tests/gpu: without a usable GPU it says why and exits with status 77,
// which ctest reports as skipped (and tools/gpu_check.sh, where a GPU must be, as a failure).
#pragma once
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "engine/backends/cuda/device_info.hpp"

int main(int argc, char** argv) {
  if (const std::string why = gs::cuda_unusable_reason(); !why.empty()) {
    std::printf("SKIPPED: no usable CUDA device (%s)\n", why.c_str());
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
