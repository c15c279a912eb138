// GS_HD marks functions that both the host and CUDA kernels call: the cell models' per-step
// functions and the random streams. Without nvcc it expands to nothing.
#pragma once

#if defined(__CUDACC__)
#define GS_HD __host__ __device__
#else
#define GS_HD
#endif
