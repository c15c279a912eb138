// The example plugin's rule compiled by nvcc: the same source, which gives its procedural
// generator a GPU form (tests/gpu, tests/unit/test_cuda_config.cpp).
#include "examples/plugins/ring.cpp"
