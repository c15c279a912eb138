// The built-in rules' GPU forms (built with CUDA only): their procedural generators on the device,
// compiled by nvcc apart from the rules themselves (plugins/connection_rules.cpp), as
// models/builtin_gpu.cu does for the models. A plugin makes the same add_procedural_gpu_form call.
#include "engine/backends/cuda/procedural.cuh"
#include "plugins/procedural_rules.hpp"

namespace gs {

void register_builtin_rule_gpu_forms(registry& reg) {
  add_procedural_gpu_form<bernoulli_chunks>(reg, "pairwise_bernoulli");
  add_procedural_gpu_form<total_number_chunks>(reg, "fixed_total_number");
}

}  // namespace gs
