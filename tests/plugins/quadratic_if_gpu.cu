// The example plugin's model compiled by nvcc: the same source, which gives the model its GPU form
// (tests/gpu, tests/unit/test_cuda_config.cpp). A source file can have one language per directory
// in CMake, hence this second name for it.
#include "examples/plugins/quadratic_if.cpp"
