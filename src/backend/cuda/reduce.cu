// Deterministic reductions (no atomics): sums over an axis as cuBLAS products with a ones vector, and
// per-replica sums of squares (fixed chunks, fixed shared-memory trees, double accumulation) with the
// clipping factors derived from them.
#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"

namespace mechlab {

using namespace cuda;

namespace {
constexpr int kSquaresChunk = 8192;  // elements per block of the first pass

// partials[r * columns + first_column + chunk]: one column per chunk of every tensor.
template <typename T>
__global__ void sum_squares_kernel(const T* x, int64_t block, int64_t columns, int64_t first_column, double* partials) {
  __shared__ double partial[kThreads];
  const int64_t r = blockIdx.y, chunk = blockIdx.x;
  const int64_t begin = chunk * static_cast<int64_t>(kSquaresChunk);
  const int64_t end = min(block, begin + kSquaresChunk);
  double acc = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double v = x[r * block + i];
    acc += v * v;
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[r * columns + first_column + chunk] = partial[0];
}

__global__ void add_partials_kernel(const double* partials, int64_t columns, int replicas, double* out) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= replicas) return;
  double total = 0.0;
  for (int64_t c = 0; c < columns; ++c) total += partials[r * columns + c];
  out[r] = total;
}

__global__ void clip_scales_kernel(const double* squares, double clip_norm, double* scales, int replicas) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r < replicas) scales[r] = clip_norm > 0 ? fmin(1.0, clip_norm / (sqrt(squares[r]) + 1e-6)) : 1.0;
}
}  // namespace

void CudaBackend::sum_mid(const Tensor& x, int64_t outer, int64_t mid, int64_t inner, Tensor& out) {
  if (out.numel() == 0) return;
  // A sum over the middle axis is a product with a vector of ones: cuBLAS spreads it over the whole GPU
  // and sums in a fixed order (a kernel with one thread per output column left most of the GPU idle).
  const Tensor& ones = ones_of_length(mid, x.dtype());
  GemmShape g;
  g.batch = outer;
  g.k = mid;
  if (inner == 1) {  // (outer, mid) @ (mid, 1) in one product
    g.batch = 1;
    g.m = outer;
    g.n = 1;
    gemm(x, ones, out, g);
    return;
  }
  g.m = 1;  // per outer index: (1, mid) @ (mid, inner)
  g.n = inner;
  g.a_batch_stride = 0;
  g.b_batch_stride = mid * inner;
  g.c_batch_stride = inner;
  gemm(ones, x, out, g);
}

const Tensor& CudaBackend::ones_of_length(int64_t length, DType dtype) {
  Tensor& ones = ones_[{length, dtype}];
  if (!ones.defined()) ones = Tensor::full({length}, 1.0, dtype, Device::cuda);
  return ones;
}

void CudaBackend::sum_squares_per_replica(const std::vector<Tensor>& xs, Tensor& out) {
  const int64_t R = out.numel();
  auto chunks_of = [](const Tensor& x) { return std::max<int64_t>(1, (x.numel() / x.dim(0) + kSquaresChunk - 1) / kSquaresChunk); };
  int64_t columns = 0;
  for (const Tensor& x : xs) columns += chunks_of(x);
  Tensor partials = Tensor::empty({R * std::max<int64_t>(columns, 1)}, DType::f64, Device::cuda);
  int64_t first_column = 0;
  for (const Tensor& x : xs) {
    const int64_t chunks = chunks_of(x);
    dispatch_float(x.dtype(), [&]<typename T>() {
      sum_squares_kernel<<<dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(R)), kThreads, 0, stream_>>>(
          x.data<T>(), x.numel() / R, columns, first_column, partials.data<double>());
    });
    first_column += chunks;
  }
  check_launch("sum_squares");
  add_partials_kernel<<<blocks_for(R), kThreads, 0, stream_>>>(partials.data<double>(), columns, static_cast<int>(R),
                                                              out.data<double>());
  check_launch("add_partials");
}

void CudaBackend::clip_scales(const Tensor& squares, double clip_norm, Tensor& scales) {
  const int R = static_cast<int>(squares.numel());
  clip_scales_kernel<<<blocks_for(R), kThreads, 0, stream_>>>(squares.data<double>(), clip_norm, scales.data<double>(), R);
  check_launch("clip_scales");
}

}  // namespace mechlab
