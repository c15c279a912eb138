// What the CUDA runtime sees on this machine: for `gillespike info`, and for the GPU paths (the
// predictor's, RLS's) and GPU tests, which refuse or skip with its words where no GPU is usable.
#pragma once
#include <string>

namespace gs {
// "N device(s): name (sm_XY, M GiB), ..." or why there is none.
std::string cuda_device_summary();
// Empty when a CUDA device is usable here, else why not (CUDA's own words).
std::string cuda_unusable_reason();
}  // namespace gs
