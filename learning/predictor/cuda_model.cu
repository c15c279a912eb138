// The CUDA training step of the next-spike transformer: the same computation as
// spike_transformer<float>::forward/backward (learning/nn/layers.cpp, learning/predictor/model.cpp),
// batched over windows. Matrices are row-major with one token per row, as on the CPU; cuBLAS is
// column-major, so every product is issued transposed (row-major C = A B is column-major
// C^T = B^T A^T, with the same buffers and leading dimensions).
// Eigen (through model.hpp) marks defaulted members __host__ __device__, which nvcc warns it ignores.
#pragma nv_diag_suppress 20012
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/backends/cuda/check.hpp"
#include "engine/backends/cuda/device_buffer.hpp"
#include "learning/predictor/cuda_model.hpp"

namespace gs::predictor {

namespace {

// cuBLAS is opened by the first cuda_model, not linked: linked, every gillespike process (every
// command, every test) loads its 600 MB of libraries, and an export's peak memory went from under
// 80 MB to 242 MB (tests/validation/test_export.cpp). These are the functions used.
struct cublas_api {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSgemm_v2) sgemm;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasSgemv_v2) sgemv;
  decltype(&cublasSaxpy_v2) saxpy;
  decltype(&cublasGetStatusString) status_string;
};

const cublas_api& cublas() {
  static const cublas_api api = [] {
    const std::string name = fmt::format("libcublas.so.{}", CUBLAS_VER_MAJOR);
    // The loader's search first (LD_LIBRARY_PATH, the cache), then the toolkit this was built with.
    void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen((std::string(GS_CUDA_LIBRARY_DIR) + "/" + name).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      throw cuda_error(fmt::format("the predictor's CUDA path needs cuBLAS {} ({}), which could not be loaded: {}; "
                                   "put its folder on LD_LIBRARY_PATH",
                                   CUBLAS_VER_MAJOR, name, dlerror()));
    cublas_api a{};
    auto get = [&](auto& fn, const char* symbol) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, symbol));
      if (!fn) throw cuda_error(fmt::format("{} has no {}", name, symbol));
    };
    get(a.create, "cublasCreate_v2");
    get(a.destroy, "cublasDestroy_v2");
    get(a.sgemm, "cublasSgemm_v2");
    get(a.sgemm_strided_batched, "cublasSgemmStridedBatched");
    get(a.sgemv, "cublasSgemv_v2");
    get(a.saxpy, "cublasSaxpy_v2");
    get(a.status_string, "cublasGetStatusString");
    return a;
  }();
  return api;
}

void cublas_check(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw cuda_error(fmt::format("cuBLAS: {} failed at {}:{}: {}", call, file, line, cublas().status_string(s)));
}
#define GS_CUBLAS(call) cublas_check((call), #call, __FILE__, __LINE__)

constexpr int block_threads = 256;
constexpr int max_components = 32;  // the mixture kernel keeps a row's components in registers
constexpr int norm_blocks = 256;     // partial sums of the gradient norm

unsigned blocks_for(std::size_t n) { return unsigned((n + block_threads - 1) / block_threads); }
// Kernels that give each row a warp.
unsigned warp_blocks_for(std::size_t rows) { return unsigned((rows * 32 + block_threads - 1) / block_threads); }

__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Row r of the batch is position r % L of window r / L: its token, the interval before it, and
// the next event (the target), read from the device-resident recording.
__global__ void gather_tokens(const int* seq_ids, const double* seq_tau, const std::uint64_t* starts, int L, int rows,
                              int* ids, double* tau, int* next_ids, double* next_tau) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const std::uint64_t k = starts[r / L] + std::uint64_t(r % L);
  ids[r] = seq_ids[k];
  tau[r] = seq_tau[k];
  next_ids[r] = seq_ids[k + 1];
  next_tau[r] = seq_tau[k + 1];
}

// spike_transformer::time_features: z, then sin and cos of z * 2^(f-2), in double.
__global__ void time_features(const double* tau, int rows, int frequencies, double shift, double scale, float* out) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const double z = (log(tau[r]) - shift) / scale;
  float* f = out + std::size_t(r) * (1 + 2 * frequencies);
  f[0] = float(z);
  for (int k = 0; k < frequencies; ++k) {
    const double w = ldexp(1.0, k - 2);
    f[1 + 2 * k] = float(sin(w * z));
    f[2 + 2 * k] = float(cos(w * z));
  }
}

__global__ void embed(const int* ids, const float* table, int rows, int d, float* x) {
  const std::size_t e = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= std::size_t(rows) * d) return;
  x[e] = table[std::size_t(ids[e / d]) * d + e % d];
}

__global__ void embed_backward(const int* ids, const float* dx, int rows, int d, float* table_grad) {
  const std::size_t e = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= std::size_t(rows) * d) return;
  atomicAdd(&table_grad[std::size_t(ids[e / d]) * d + e % d], dx[e]);
}

__global__ void add_bias(float* y, const float* b, int rows, int cols) {
  const std::size_t e = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e < std::size_t(rows) * cols) y[e] += b[e % cols];
}

// layer_norm<T>::forward, a warp per row.
__global__ void layer_norm_forward(const float* x, const float* gain, const float* bias, int rows, int d, float eps,
                                   float* xhat, float* rstd, float* y) {
  const int row = int((std::size_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32), lane = int(threadIdx.x % 32);
  if (row >= rows) return;
  const float* xr = x + std::size_t(row) * d;
  float s = 0;
  for (int c = lane; c < d; c += 32) s += xr[c];
  const float mean = warp_sum(s) / float(d);
  float v = 0;
  for (int c = lane; c < d; c += 32) v += (xr[c] - mean) * (xr[c] - mean);
  const float r = 1.0f / sqrtf(warp_sum(v) / float(d) + eps);
  for (int c = lane; c < d; c += 32) {
    const float h = (xr[c] - mean) * r;
    xhat[std::size_t(row) * d + c] = h;
    y[std::size_t(row) * d + c] = h * gain[c] + bias[c];
  }
  if (lane == 0) rstd[row] = r;
}

// layer_norm<T>::backward for the input (added into dx when accumulate, else written); prod gets
// dy * xhat, whose column sums are the gain's gradient.
__global__ void layer_norm_backward(const float* dy, const float* xhat, const float* rstd, const float* gain, int rows,
                                    int d, bool accumulate, float* dx, float* prod) {
  const int row = int((std::size_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32), lane = int(threadIdx.x % 32);
  if (row >= rows) return;
  const std::size_t o = std::size_t(row) * d;
  float m1 = 0, m2 = 0;
  for (int c = lane; c < d; c += 32) {
    const float g = dy[o + c] * gain[c];
    m1 += g;
    m2 += g * xhat[o + c];
  }
  m1 = warp_sum(m1) / float(d);
  m2 = warp_sum(m2) / float(d);
  for (int c = lane; c < d; c += 32) {
    const float v = rstd[row] * (dy[o + c] * gain[c] - m1 - xhat[o + c] * m2);
    dx[o + c] = accumulate ? dx[o + c] + v : v;
    prod[o + c] = dy[o + c] * xhat[o + c];
  }
}

// The exact GELU and its derivative (gelu<T>).
__global__ void gelu_forward(const float* x, std::size_t n, float* y) {
  const std::size_t e = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e < n) y[e] = 0.5f * x[e] * (1.0f + erff(x[e] * 0.70710678118654752f));
}
__global__ void gelu_backward(const float* x, std::size_t n, float* dy) {
  const std::size_t e = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n) return;
  const float v = x[e];
  dy[e] *= 0.5f * (1.0f + erff(v * 0.70710678118654752f)) + v * 0.39894228040143268f * expf(-0.5f * v * v);
}

// Causal softmax in place over rows of L scores (row r is query r % L of one window and head):
// entries past the query become 0.
__global__ void causal_softmax(float* s, std::size_t rows, int L) {
  const std::size_t row = (std::size_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = int(threadIdx.x % 32);
  if (row >= rows) return;
  float* p = s + row * L;
  const int last = int(row % L);
  float top = -INFINITY;
  for (int c = lane; c <= last; c += 32) top = fmaxf(top, p[c]);
  top = warp_max(top);
  float sum = 0;
  for (int c = lane; c <= last; c += 32) sum += expf(p[c] - top);
  sum = warp_sum(sum);
  for (int c = lane; c < L; c += 32) p[c] = c <= last ? expf(p[c] - top) / sum : 0.0f;
}

// dP into dS in place: dS = P (dP - rowsum(P dP)) * scale.
__global__ void causal_softmax_backward(const float* p, float* ds, std::size_t rows, int L, float scale) {
  const std::size_t row = (std::size_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = int(threadIdx.x % 32);
  if (row >= rows) return;
  const float* pr = p + row * L;
  float* dr = ds + row * L;
  const int last = int(row % L);
  float dot = 0;
  for (int c = lane; c <= last; c += 32) dot += pr[c] * dr[c];
  dot = warp_sum(dot);
  for (int c = lane; c < L; c += 32) dr[c] = c <= last ? pr[c] * (dr[c] - dot) * scale : 0.0f;
}

// spike_history<T>::forward and backward: position i of a window pairs with every token k <= i of
// it, at age t_i - t_k, until the age passes the last knot. A thread per position.
struct history_geometry {
  int basis;
  double log_min, inv_step;
};

template <class F>
__device__ void for_each_history_pair(const int* ids, const double* tau, int L, int r, history_geometry g, F&& f) {
  const int base = r - r % L, i = r % L;
  double age = 0;
  for (int k = i; k >= 0; --k) {
    if (k < i) age += tau[base + k + 1];
    const double x = fmax(0.0, (log(fmax(age, 1e-300)) - g.log_min) * g.inv_step);
    const int b = int(x);
    if (b >= g.basis) break;
    const double frac = x - double(b);
    f(ids[base + k], b, 1 - frac);
    if (b + 1 < g.basis && frac > 0) f(ids[base + k], b + 1, frac);
  }
}

__global__ void history_forward(const int* ids, const double* tau, const int* pop, const float* coef, int rows, int L,
                                int V, history_geometry g, float* logits) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  float* row = logits + std::size_t(r) * V;
  for_each_history_pair(ids, tau, L, r, g,
                        [&](int n, int b, double w) { row[n] += float(w) * coef[pop[n] * g.basis + b]; });
}

// The coefficients' gradient, summed in shared memory per block (populations x basis floats).
__global__ void history_backward(const int* ids, const double* tau, const int* pop, const float* dlogits, int rows,
                                 int L, int V, int coefs, history_geometry g, float* coef_grad) {
  extern __shared__ float acc[];
  for (int c = int(threadIdx.x); c < coefs; c += blockDim.x) acc[c] = 0;
  __syncthreads();
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r < rows) {
    const float* row = dlogits + std::size_t(r) * V;
    for_each_history_pair(ids, tau, L, r, g,
                          [&](int n, int b, double w) { atomicAdd(&acc[pop[n] * g.basis + b], float(w) * row[n]); });
  }
  __syncthreads();
  for (int c = int(threadIdx.x); c < coefs; c += blockDim.x) atomicAdd(&coef_grad[c], acc[c]);
}

// softmax_cross_entropy forward and backward at once, a warp per row: the row's loss, and the
// logits replaced by weight * (softmax - onehot(target)), or by the softmax when !gradient.
__global__ void softmax_xent(float* z, const int* targets, int rows, int V, bool gradient, float weight, float* loss) {
  const int row = int((std::size_t(blockIdx.x) * blockDim.x + threadIdx.x) / 32), lane = int(threadIdx.x % 32);
  if (row >= rows) return;
  float* zr = z + std::size_t(row) * V;
  const int t = targets[row];
  float top = -INFINITY;
  for (int c = lane; c < V; c += 32) top = fmaxf(top, zr[c]);
  top = warp_max(top);
  float sum = 0;
  for (int c = lane; c < V; c += 32) sum += expf(zr[c] - top);
  sum = warp_sum(sum);
  const float zt = zr[t];
  __syncwarp();  // every lane has read the target's logit before any overwrites it
  if (lane == 0) loss[row] = logf(sum) + top - zt;
  for (int c = lane; c < V; c += 32)
    zr[c] = gradient ? (expf(zr[c] - top) / sum - (c == t ? 1.0f : 0.0f)) * weight : expf(zr[c] - top) / sum;
}

// lognormal_mixture forward and backward at once, a thread per row: the row's NLL, and, when
// gradient, the row's 3K parameters replaced by weight x their gradient.
__global__ void mixture_nll(float* params, const double* next_tau, int rows, int K, double shift, double scale,
                            bool gradient, float weight, float* loss) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  constexpr float half_log_2pi = 0.91893853320467274178f;
  float* p = params + std::size_t(r) * 3 * K;
  const double y = log(next_tau[r]);
  const float z = float((y - shift) / scale);
  float amax = -INFINITY;
  for (int k = 0; k < K; ++k) amax = fmaxf(amax, p[k]);
  float asum = 0;
  for (int k = 0; k < K; ++k) asum += expf(p[k] - amax);
  const float alse = amax + logf(asum);
  float logj[max_components], res[max_components], inv_sigma[max_components], w[max_components];
  float top = -INFINITY;
  for (int k = 0; k < K; ++k) {
    const float mu = p[K + k], log_sigma = p[2 * K + k];
    inv_sigma[k] = expf(-log_sigma);
    res[k] = (z - mu) * inv_sigma[k];
    w[k] = expf(p[k] - alse);
    logj[k] = p[k] - alse - 0.5f * res[k] * res[k] - log_sigma - half_log_2pi;
    top = fmaxf(top, logj[k]);
  }
  float sum = 0;
  for (int k = 0; k < K; ++k) sum += expf(logj[k] - top);
  const float lse = top + logf(sum);
  loss[r] = -lse + float(log(scale) + y);
  if (!gradient) return;
  for (int k = 0; k < K; ++k) {
    const float resp = expf(logj[k] - lse);
    p[k] = weight * (w[k] - resp);
    p[K + k] = weight * (-resp * res[k] * inv_sigma[k]);
    p[2 * K + k] = weight * (-resp * (res[k] * res[k] - 1.0f));
  }
}

// Per block, the double sum of x (or of x^2) over a grid-stride share of n, into out[blockIdx.x].
template <class T, bool square>
__global__ void block_sum(const T* x, std::size_t n, double* out) {
  __shared__ double part[block_threads];
  double s = 0;
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t e = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride)
    s += square ? double(x[e]) * double(x[e]) : double(x[e]);
  part[threadIdx.x] = s;
  __syncthreads();
  for (int h = block_threads / 2; h > 0; h >>= 1) {
    if (int(threadIdx.x) < h) part[threadIdx.x] += part[threadIdx.x + h];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}

// nn::adamw::step on one parameter, after scaling its gradient by grad_scale (clipping).
__global__ void adamw_update(float* p, float* g, float* m, float* v, std::size_t n, float grad_scale, float decay,
                             float b1, float b2, float step_size, float denom_scale, float eps) {
  const std::size_t e = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= n) return;
  const float gr = g[e] * grad_scale;
  g[e] = gr;
  p[e] *= decay;
  m[e] = b1 * m[e] + (1.0f - b1) * gr;
  v[e] = b2 * v[e] + (1.0f - b2) * gr * gr;
  p[e] -= step_size * m[e] / (sqrtf(v[e]) * denom_scale + eps);
}

}  // namespace

struct cuda_model::impl {
  // A parameter's place in the flat buffers of values, gradients and moments.
  struct slot {
    std::size_t offset, size;
    bool decay;
  };
  struct linear_ptrs {
    int in, out;
    float *W, *b, *dW, *db;
  };
  struct norm_ptrs {
    float *gain, *bias, *dgain, *dbias;
  };
  // What a block's backward pass needs from its forward pass.
  struct block_state {
    norm_ptrs ln1, ln2;
    linear_ptrs qkv, proj, fc1, fc2;
    device_buffer<float> xhat1, rstd1, a1, qkv_out, probs, att, h, xhat2, rstd2, a2, f1, g1, out;
  };

  model_config cfg;
  int B, L, rows, d, mlp, V, K, F, H, dh, pops;
  history_geometry geometry{};
  nn::adamw_config adam;
  std::int64_t adam_steps = 0;
  cublasHandle_t blas = nullptr;
  std::vector<slot> slots;
  device_buffer<float> values, grads, m, v;
  device_buffer<int> seq_ids, token_pop, ids, next_ids;
  device_buffer<double> seq_tau, tau, next_tau, sums, partial;
  device_buffer<std::uint64_t> starts;
  linear_ptrs time_in{}, mark_out{}, time_out{};
  norm_ptrs ln_f{};
  float *table = nullptr, *dtable = nullptr, *coef = nullptr, *dcoef = nullptr;
  std::vector<block_state> blocks;
  device_buffer<float> feats, x0, xhatf, rstdf, hf, logits, mix, loss_time, loss_mark, ones;
  device_buffer<float> dx, dtmp, prod, dqkv, datt, dS, dmlp;

  void gemm(bool ta, bool tb, int m_, int n_, int k_, float alpha, const float* A, int lda, const float* Bm, int ldb,
            float beta, float* C, int ldc) {
    GS_CUBLAS(cublas().sgemm(blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n_, m_, k_, &alpha,
                             Bm, ldb, A, lda, &beta, C, ldc));
  }
  // `count` products, the i-th on A + i sA, B + i sB, C + i sC.
  void gemm_batched(bool ta, bool tb, int m_, int n_, int k_, float alpha, const float* A, int lda, long long sA,
                    const float* Bm, int ldb, long long sB, float beta, float* C, int ldc, long long sC, int count) {
    GS_CUBLAS(cublas().sgemm_strided_batched(blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n_,
                                             m_, k_, &alpha, Bm, ldb, sB, A, lda, sA, &beta, C, ldc, sC, count));
  }
  // out[c] += sum over rows of x[r, c], as a product with a vector of ones.
  void add_column_sums(const float* x, int cols, float* out) {
    const float one = 1;
    GS_CUBLAS(cublas().sgemv(blas, CUBLAS_OP_N, cols, rows, &one, x, cols, ones.data(), 1, &one, out, 1));
  }
  void add(const float* x, float* y, std::size_t n) {  // y += x
    const float one = 1;
    GS_CUBLAS(cublas().saxpy(blas, int(n), &one, x, 1, y, 1));
  }

  void linear_forward(const linear_ptrs& l, const float* x, float* y) {
    gemm(false, false, rows, l.out, l.in, 1, x, l.in, l.W, l.out, 0, y, l.out);
    add_bias<<<blocks_for(std::size_t(rows) * l.out), block_threads>>>(y, l.b, rows, l.out);
    GS_CUDA_LAUNCHED("add_bias");
  }
  // dW += x^T dy, db += column sums of dy, and dx = dy W^T (+ beta dx) when dx is given.
  void linear_backward(const linear_ptrs& l, const float* x, const float* dy, float* dxo, float beta) {
    gemm(true, false, l.in, l.out, rows, 1, x, l.in, dy, l.out, 1, l.dW, l.out);
    add_column_sums(dy, l.out, l.db);
    if (dxo) gemm(false, true, rows, l.in, l.out, 1, dy, l.out, l.W, l.out, beta, dxo, l.in);
  }
  void norm_forward(const norm_ptrs& n, const float* x, float* xhat, float* rstd, float* y) {
    layer_norm_forward<<<warp_blocks_for(std::size_t(rows)), block_threads>>>(x, n.gain, n.bias, rows, d, 1e-5f, xhat,
                                                                               rstd, y);
    GS_CUDA_LAUNCHED("layer_norm_forward");
  }
  void norm_backward(const norm_ptrs& n, const float* dy, const float* xhat, const float* rstd, bool accumulate,
                     float* dxo) {
    layer_norm_backward<<<warp_blocks_for(std::size_t(rows)), block_threads>>>(dy, xhat, rstd, n.gain, rows, d,
                                                                                accumulate, dxo, prod.data());
    GS_CUDA_LAUNCHED("layer_norm_backward");
    add_column_sums(prod.data(), d, n.dgain);
    add_column_sums(dy, d, n.dbias);
  }

  void forward(std::span<const std::uint64_t> window_starts, bool gradient, float weight);

  void attention_forward(block_state& s) {
    const float scale = 1.0f / std::sqrt(float(dh));
    const long long LL = (long long)L * L, win = (long long)L * 3 * d;
    for (int h = 0; h < H; ++h)  // S = Q K^T * scale, per window
      gemm_batched(false, true, L, L, dh, scale, s.qkv_out.data() + h * dh, 3 * d, win,
                   s.qkv_out.data() + d + h * dh, 3 * d, win, 0, s.probs.data() + h * LL, L, H * LL, B);
    const std::size_t score_rows = std::size_t(B) * H * L;
    causal_softmax<<<warp_blocks_for(score_rows), block_threads>>>(s.probs.data(), score_rows, L);
    GS_CUDA_LAUNCHED("causal_softmax");
    for (int h = 0; h < H; ++h)  // O = P V
      gemm_batched(false, false, L, dh, L, 1, s.probs.data() + h * LL, L, H * LL, s.qkv_out.data() + 2 * d + h * dh,
                   3 * d, win, 0, s.att.data() + h * dh, d, (long long)L * d, B);
  }
  // From datt (the gradient of the heads' outputs) to dqkv.
  void attention_backward(block_state& s) {
    const float scale = 1.0f / std::sqrt(float(dh));
    const long long LL = (long long)L * L, win = (long long)L * 3 * d, lin = (long long)L * d;
    const float* q = s.qkv_out.data();
    for (int h = 0; h < H; ++h) {
      // dV = P^T dO, dP = dO V^T
      gemm_batched(true, false, L, dh, L, 1, s.probs.data() + h * LL, L, H * LL, datt.data() + h * dh, d, lin, 0,
                   dqkv.data() + 2 * d + h * dh, 3 * d, win, B);
      gemm_batched(false, true, L, L, dh, 1, datt.data() + h * dh, d, lin, q + 2 * d + h * dh, 3 * d, win, 0,
                   dS.data() + h * LL, L, H * LL, B);
    }
    const std::size_t score_rows = std::size_t(B) * H * L;
    causal_softmax_backward<<<warp_blocks_for(score_rows), block_threads>>>(s.probs.data(), dS.data(), score_rows, L,
                                                                            scale);
    GS_CUDA_LAUNCHED("causal_softmax_backward");
    for (int h = 0; h < H; ++h) {
      // dQ = dS K, dK = dS^T Q
      gemm_batched(false, false, L, dh, L, 1, dS.data() + h * LL, L, H * LL, q + d + h * dh, 3 * d, win, 0,
                   dqkv.data() + h * dh, 3 * d, win, B);
      gemm_batched(true, false, L, dh, L, 1, dS.data() + h * LL, L, H * LL, q + h * dh, 3 * d, win, 0,
                   dqkv.data() + d + h * dh, 3 * d, win, B);
    }
  }

  // transformer_block::forward from x into s.out.
  void block_forward(block_state& s, const float* x) {
    const std::size_t n = std::size_t(rows) * d, nm = std::size_t(rows) * mlp;
    norm_forward(s.ln1, x, s.xhat1.data(), s.rstd1.data(), s.a1.data());
    linear_forward(s.qkv, s.a1.data(), s.qkv_out.data());
    attention_forward(s);
    linear_forward(s.proj, s.att.data(), s.h.data());
    add(x, s.h.data(), n);
    norm_forward(s.ln2, s.h.data(), s.xhat2.data(), s.rstd2.data(), s.a2.data());
    linear_forward(s.fc1, s.a2.data(), s.f1.data());
    gelu_forward<<<blocks_for(nm), block_threads>>>(s.f1.data(), nm, s.g1.data());
    GS_CUDA_LAUNCHED("gelu_forward");
    linear_forward(s.fc2, s.g1.data(), s.out.data());
    add(s.h.data(), s.out.data(), n);
  }
  // transformer_block::backward: dx holds the gradient of the block's output, and then of its input.
  void block_backward(block_state& s) {
    const std::size_t nm = std::size_t(rows) * mlp;
    linear_backward(s.fc2, s.g1.data(), dx.data(), dmlp.data(), 0);
    gelu_backward<<<blocks_for(nm), block_threads>>>(s.f1.data(), nm, dmlp.data());
    GS_CUDA_LAUNCHED("gelu_backward");
    linear_backward(s.fc1, s.a2.data(), dmlp.data(), dtmp.data(), 0);
    norm_backward(s.ln2, dtmp.data(), s.xhat2.data(), s.rstd2.data(), true, dx.data());  // dx: dh
    linear_backward(s.proj, s.att.data(), dx.data(), datt.data(), 0);
    attention_backward(s);
    linear_backward(s.qkv, s.a1.data(), dqkv.data(), dtmp.data(), 0);
    norm_backward(s.ln1, dtmp.data(), s.xhat1.data(), s.rstd1.data(), true, dx.data());
  }
};

cuda_model::cuda_model(spike_transformer<float>& model, const nn::adamw<float>* optimizer, const event_sequence& seq,
                       int batch)
    : d_(std::make_unique<impl>()) {
  impl& s = *d_;
  const model_config& c = model.cfg;
  if (c.components > max_components)
    throw std::invalid_argument(fmt::format("the CUDA path takes at most {} mixture components, the model has {}",
                                            max_components, c.components));
  s.cfg = c;
  s.B = batch;
  s.L = c.context;
  s.rows = batch * c.context;
  s.d = c.width;
  s.mlp = c.mlp_ratio * c.width;
  s.V = c.vocabulary();
  s.K = c.components;
  s.F = c.frequencies;
  s.H = c.heads;
  s.dh = c.width / c.heads;
  s.pops = int(c.populations.size());
  // As spike_history's constructor: knots geometric from history_min_ms to history_max_ms.
  const double knots_per_log = double(c.history_basis - 1) / std::log(c.history_max_ms / c.history_min_ms);
  s.geometry = {c.history_basis, std::log(c.history_min_ms), c.history_basis > 1 ? knots_per_log : 1.0};
  if (optimizer) {
    s.adam = optimizer->cfg;
    s.adam_steps = optimizer->steps;
  }
  GS_CUBLAS(cublas().create(&s.blas));

  // Parameters, in the order of model.parameters(), in one flat buffer (and gradients and moments
  // in three more of the same layout), so that zeroing, the norm and checkpoints see one array.
  const nn::param_list<float> ps = model.parameters();
  std::map<const void*, std::size_t> offset;
  std::vector<float> host_values, host_m, host_v;
  for (std::size_t k = 0; k < ps.size(); ++k) {
    const auto& p = *ps[k];
    offset[&p] = host_values.size();
    s.slots.push_back({host_values.size(), std::size_t(p.value.size()), p.decay});
    host_values.insert(host_values.end(), p.value.data(), p.value.data() + p.value.size());
    if (optimizer) {
      host_m.insert(host_m.end(), optimizer->m[k].data(), optimizer->m[k].data() + optimizer->m[k].size());
      host_v.insert(host_v.end(), optimizer->v[k].data(), optimizer->v[k].data() + optimizer->v[k].size());
    }
  }
  s.values.upload(host_values);
  if (optimizer) {
    s.m.upload(host_m);
    s.v.upload(host_v);
  } else {
    s.m.resize(host_values.size());  // zeroed
    s.v.resize(host_values.size());
  }
  s.grads.resize(host_values.size());
  auto value_of = [&](const nn::param<float>& p) { return s.values.data() + offset.at(&p); };
  auto grad_of = [&](const nn::param<float>& p) { return s.grads.data() + offset.at(&p); };
  auto lin = [&](const nn::linear<float>& l) {
    return impl::linear_ptrs{int(l.W.value.rows()), int(l.W.value.cols()), value_of(l.W), value_of(l.b), grad_of(l.W),
                             grad_of(l.b)};
  };
  auto norm = [&](const nn::layer_norm<float>& n) {
    return impl::norm_ptrs{value_of(n.gain), value_of(n.bias), grad_of(n.gain), grad_of(n.bias)};
  };
  s.table = value_of(model.token.table);
  s.dtable = grad_of(model.token.table);
  s.time_in = lin(model.time_in);
  s.mark_out = lin(model.mark_out);
  s.time_out = lin(model.time_out);
  s.ln_f = norm(model.ln_f);
  if (c.history_basis > 0) {
    s.coef = value_of(model.history.coef);
    s.dcoef = grad_of(model.history.coef);
  }

  std::vector<int> pop;
  for (const auto& p : c.populations) pop.insert(pop.end(), std::size_t(p.size), int(&p - c.populations.data()));
  s.token_pop.upload(pop);
  s.seq_ids.upload(seq.ids);
  s.seq_tau.upload(seq.tau);

  const auto R = std::size_t(s.rows), D = std::size_t(s.d), M = std::size_t(s.mlp);
  const std::size_t scores = std::size_t(batch) * s.H * s.L * s.L;
  s.blocks.resize(model.blocks.size());
  for (std::size_t b = 0; b < model.blocks.size(); ++b) {
    auto& blk = s.blocks[b];
    const auto& mb = model.blocks[b];
    blk.ln1 = norm(mb.ln1);
    blk.ln2 = norm(mb.ln2);
    blk.qkv = lin(mb.attn.qkv);
    blk.proj = lin(mb.attn.proj);
    blk.fc1 = lin(mb.fc1);
    blk.fc2 = lin(mb.fc2);
    for (auto* buf : {&blk.xhat1, &blk.a1, &blk.att, &blk.h, &blk.xhat2, &blk.a2, &blk.out}) buf->resize(R * D);
    blk.rstd1.resize(R);
    blk.rstd2.resize(R);
    blk.qkv_out.resize(R * 3 * D);
    blk.probs.resize(scores);
    blk.f1.resize(R * M);
    blk.g1.resize(R * M);
  }
  s.ids.resize(R);
  s.next_ids.resize(R);
  s.tau.resize(R);
  s.next_tau.resize(R);
  s.starts.resize(std::size_t(batch));
  s.feats.resize(R * std::size_t(1 + 2 * s.F));
  for (auto* buf : {&s.x0, &s.xhatf, &s.hf, &s.dx, &s.dtmp, &s.prod, &s.datt}) buf->resize(R * D);
  s.rstdf.resize(R);
  s.logits.resize(R * std::size_t(s.V));
  s.mix.resize(R * 3 * std::size_t(s.K));
  s.loss_time.resize(R);
  s.loss_mark.resize(R);
  s.ones.upload(std::vector<float>(R, 1.0f));
  s.dqkv.resize(R * 3 * D);
  s.dS.resize(scores);
  s.dmlp.resize(R * M);
  s.sums.resize(2);
  s.partial.resize(norm_blocks);
}

cuda_model::~cuda_model() {
  if (d_ && d_->blas) cublas().destroy(d_->blas);
}

// The forward pass over the windows at `starts`; with `gradient`, the heads' kernels leave the
// gradients of weight x NLL in logits and mix, else the probabilities and the mixture's parameters.
void cuda_model::impl::forward(std::span<const std::uint64_t> window_starts, bool gradient, float weight) {
  impl& s = *this;
  if (int(window_starts.size()) != s.B)
    throw std::invalid_argument(
        fmt::format("cuda_model: {} window starts for a batch of {}", window_starts.size(), s.B));
  for (std::uint64_t st : window_starts)
    if (st < 1 || st + std::uint64_t(s.L) >= s.seq_ids.size())
      throw std::invalid_argument(fmt::format("cuda_model: window start {} outside 1..{}", st,
                                              s.seq_ids.size() - std::size_t(s.L) - 1));
  s.starts.upload(window_starts);
  const int R = s.rows;
  const std::size_t RD = std::size_t(R) * s.d;
  gather_tokens<<<blocks_for(std::size_t(R)), block_threads>>>(s.seq_ids.data(), s.seq_tau.data(), s.starts.data(), s.L,
                                                                R, s.ids.data(), s.tau.data(), s.next_ids.data(),
                                                                s.next_tau.data());
  GS_CUDA_LAUNCHED("gather_tokens");
  time_features<<<blocks_for(std::size_t(R)), block_threads>>>(s.tau.data(), R, s.F, s.cfg.log_tau_shift,
                                                                s.cfg.log_tau_scale, s.feats.data());
  GS_CUDA_LAUNCHED("time_features");
  // x = E[id] + features W_t + b_t
  embed<<<blocks_for(RD), block_threads>>>(s.ids.data(), s.table, R, s.d, s.x0.data());
  GS_CUDA_LAUNCHED("embed");
  s.gemm(false, false, R, s.d, s.time_in.in, 1, s.feats.data(), s.time_in.in, s.time_in.W, s.d, 1, s.x0.data(), s.d);
  add_bias<<<blocks_for(RD), block_threads>>>(s.x0.data(), s.time_in.b, R, s.d);
  GS_CUDA_LAUNCHED("add_bias");
  const float* x = s.x0.data();
  for (auto& blk : s.blocks) {
    s.block_forward(blk, x);
    x = blk.out.data();
  }
  s.norm_forward(s.ln_f, x, s.xhatf.data(), s.rstdf.data(), s.hf.data());
  s.linear_forward(s.mark_out, s.hf.data(), s.logits.data());
  if (s.coef) {
    history_forward<<<blocks_for(std::size_t(R)), block_threads>>>(s.ids.data(), s.tau.data(), s.token_pop.data(),
                                                                    s.coef, R, s.L, s.V, s.geometry, s.logits.data());
    GS_CUDA_LAUNCHED("history_forward");
  }
  softmax_xent<<<warp_blocks_for(std::size_t(R)), block_threads>>>(s.logits.data(), s.next_ids.data(), R, s.V, gradient,
                                                                    weight, s.loss_mark.data());
  GS_CUDA_LAUNCHED("softmax_xent");
  s.linear_forward(s.time_out, s.hf.data(), s.mix.data());
  mixture_nll<<<blocks_for(std::size_t(R)), block_threads>>>(s.mix.data(), s.next_tau.data(), R, s.K,
                                                              s.cfg.log_tau_shift, s.cfg.log_tau_scale, gradient,
                                                              weight, s.loss_time.data());
  GS_CUDA_LAUNCHED("mixture_nll");
}

cuda_model::loss cuda_model::forward_backward(std::span<const std::uint64_t> starts, float weight) {
  impl& s = *d_;
  GS_CUDA(cudaMemset(s.grads.data(), 0, s.grads.size() * sizeof(float)));
  s.forward(starts, true, weight);
  const int R = s.rows;
  const std::size_t RD = std::size_t(R) * s.d;
  // Backward: logits and mix now hold their gradients.
  if (s.coef) {
    const int coefs = s.pops * s.geometry.basis;
    history_backward<<<blocks_for(std::size_t(R)), block_threads, std::size_t(coefs) * sizeof(float)>>>(
        s.ids.data(), s.tau.data(), s.token_pop.data(), s.logits.data(), R, s.L, s.V, coefs, s.geometry, s.dcoef);
    GS_CUDA_LAUNCHED("history_backward");
  }
  s.linear_backward(s.mark_out, s.hf.data(), s.logits.data(), s.dtmp.data(), 0);
  s.linear_backward(s.time_out, s.hf.data(), s.mix.data(), s.dtmp.data(), 1);
  s.norm_backward(s.ln_f, s.dtmp.data(), s.xhatf.data(), s.rstdf.data(), false, s.dx.data());
  for (auto b = s.blocks.rbegin(); b != s.blocks.rend(); ++b) s.block_backward(*b);
  embed_backward<<<blocks_for(RD), block_threads>>>(s.ids.data(), s.dx.data(), R, s.d, s.dtable);
  GS_CUDA_LAUNCHED("embed_backward");
  s.linear_backward(s.time_in, s.feats.data(), s.dx.data(), nullptr, 0);  // the features are fixed

  block_sum<float, false><<<1, block_threads>>>(s.loss_time.data(), std::size_t(R), s.sums.data());
  GS_CUDA_LAUNCHED("block_sum");
  block_sum<float, false><<<1, block_threads>>>(s.loss_mark.data(), std::size_t(R), s.sums.data() + 1);
  GS_CUDA_LAUNCHED("block_sum");
  double out[2];
  GS_CUDA(cudaMemcpy(out, s.sums.data(), sizeof out, cudaMemcpyDeviceToHost));
  return {out[0], out[1]};
}

cuda_model::prediction cuda_model::predict(std::span<const std::uint64_t> starts, int rows) {
  impl& s = *d_;
  if (starts.empty() || int(starts.size()) > s.B || rows < 1 || rows > s.L)
    throw std::invalid_argument(fmt::format("cuda_model::predict: {} windows (at most {}), {} rows (1..{})",
                                            starts.size(), s.B, rows, s.L));
  // A short batch is padded with its last window, whose results are not copied.
  std::vector<std::uint64_t> padded(starts.begin(), starts.end());
  padded.resize(std::size_t(s.B), starts.back());
  s.forward(padded, false, 0.0f);
  prediction p;
  const std::size_t n = starts.size(), per = std::size_t(rows), V = std::size_t(s.V), M = 3 * std::size_t(s.K);
  p.time.resize(n * per);
  p.mark.resize(n * per);
  p.probabilities.resize(n * per * V);
  p.mixture.resize(n * per * M);
  // Rows L - rows .. L - 1 of each window: a strided copy, window by window.
  const std::size_t skip = std::size_t(s.L) - per, L = std::size_t(s.L);
  auto rows_of = [&](const float* src, std::size_t width, float* dst) {
    GS_CUDA(cudaMemcpy2D(dst, per * width * sizeof(float), src + skip * width, L * width * sizeof(float),
                         per * width * sizeof(float), n, cudaMemcpyDeviceToHost));
  };
  rows_of(s.loss_time.data(), 1, p.time.data());
  rows_of(s.loss_mark.data(), 1, p.mark.data());
  rows_of(s.logits.data(), V, p.probabilities.data());
  rows_of(s.mix.data(), M, p.mixture.data());
  return p;
}

double cuda_model::step(double lr, double clip) {
  impl& s = *d_;
  block_sum<float, true><<<norm_blocks, block_threads>>>(s.grads.data(), s.grads.size(), s.partial.data());
  GS_CUDA_LAUNCHED("block_sum");
  block_sum<double, false><<<1, block_threads>>>(s.partial.data(), norm_blocks, s.sums.data());
  GS_CUDA_LAUNCHED("block_sum");
  double sq = 0;
  GS_CUDA(cudaMemcpy(&sq, s.sums.data(), sizeof sq, cudaMemcpyDeviceToHost));
  const double norm = std::sqrt(sq);
  // As nn::clip_grad_norm and nn::adamw::step, with the same float roundings of their constants.
  const float grad_scale = clip > 0 && norm > clip ? float(clip / (norm + 1e-6)) : 1.0f;
  ++s.adam_steps;
  const double c1 = 1 - std::pow(s.adam.beta1, double(s.adam_steps));
  const double c2 = 1 - std::pow(s.adam.beta2, double(s.adam_steps));
  for (const auto& sl : s.slots) {
    const float decay = sl.decay && s.adam.weight_decay != 0 ? float(1 - lr * s.adam.weight_decay) : 1.0f;
    adamw_update<<<blocks_for(sl.size), block_threads>>>(
        s.values.data() + sl.offset, s.grads.data() + sl.offset, s.m.data() + sl.offset, s.v.data() + sl.offset,
        sl.size, grad_scale, decay, float(s.adam.beta1), float(s.adam.beta2), float(lr / c1), float(1 / std::sqrt(c2)),
        float(s.adam.eps));
    GS_CUDA_LAUNCHED("adamw_update");
  }
  return norm;
}

void cuda_model::download(spike_transformer<float>& model, nn::adamw<float>& optimizer) const {
  const impl& s = *d_;
  auto fetch = [](const device_buffer<float>& b) {
    std::vector<float> h(b.size());
    GS_CUDA(cudaMemcpy(h.data(), b.data(), h.size() * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
  };
  const std::vector<float> values = fetch(s.values), grads = fetch(s.grads), m = fetch(s.m), v = fetch(s.v);
  const nn::param_list<float> ps = model.parameters();
  if (ps.size() != s.slots.size() || optimizer.m.size() != s.slots.size())
    throw std::invalid_argument("cuda_model::download: a model of another shape");
  for (std::size_t k = 0; k < ps.size(); ++k) {
    const std::size_t o = s.slots[k].offset, n = s.slots[k].size;
    std::copy_n(values.begin() + std::ptrdiff_t(o), n, ps[k]->value.data());
    std::copy_n(grads.begin() + std::ptrdiff_t(o), n, ps[k]->grad.data());
    std::copy_n(m.begin() + std::ptrdiff_t(o), n, optimizer.m[k].data());
    std::copy_n(v.begin() + std::ptrdiff_t(o), n, optimizer.v[k].data());
  }
  optimizer.steps = s.adam_steps;
}

}  // namespace gs::predictor
