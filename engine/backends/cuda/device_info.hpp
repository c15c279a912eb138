// What the CUDA runtime sees on this machine, for `gillespike info` (the CUDA backend proper
// is a later step; this is the part of it that exists today).
#pragma once
#include <string>

namespace gs {
// "N device(s): name (sm_XY, M GiB), ..." or why there is none.
std::string cuda_device_summary();
}  // namespace gs
