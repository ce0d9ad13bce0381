// Deterministic reductions: column sums over the middle axis (slices of rows in fixed order), row sums as
// cuBLAS products with a ones vector, and per-replica sums of squares over many tensors per launch (fixed
// chunks, fixed shared-memory trees, double accumulation) with the clipping factors derived from them.
#include <algorithm>

#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"

namespace mechlab {

using namespace cuda;

namespace {
// Column sums: a block covers kColumnTile columns of one slice of rows with kRowLanes threads per column.
constexpr int kColumnTile = 32, kRowLanes = 8;
constexpr int64_t kMinRowsPerSlice = 128;
// Slices are chosen for about this many blocks, a constant so that the summation order (and with it every
// bit of the result) depends on the shape only, not on the GPU.
constexpr int64_t kTargetBlocks = 264;

// Sums x (outer, mid, inner) over mid. With one slice the block writes out directly. Otherwise each block
// writes its slice's partial row; the last block of a column tile to arrive (an arrival counter decides
// who, not what is summed) adds the partials in slice order and resets the counter for the next call.
template <typename T>
__global__ void column_sum_kernel(const T* x, int64_t mid, int64_t inner, int64_t rows_per_slice, T* partials,
                                  unsigned* arrivals, T* out) {
  __shared__ T part[kRowLanes][kColumnTile];
  __shared__ bool last;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t column = blockIdx.x * static_cast<int64_t>(kColumnTile) + tx;
  const int64_t slice = blockIdx.y, slices = gridDim.y, o = blockIdx.z;
  const int64_t begin = slice * rows_per_slice, end = min(mid, begin + rows_per_slice);
  T acc = 0;
  if (column < inner)
    for (int64_t row = begin + ty; row < end; row += kRowLanes) acc += x[(o * mid + row) * inner + column];
  part[ty][tx] = acc;
  __syncthreads();
  for (int half = kRowLanes / 2; half > 0; half /= 2) {
    if (ty < half) part[ty][tx] += part[ty + half][tx];
    __syncthreads();
  }
  if (slices == 1) {
    if (ty == 0 && column < inner) out[o * inner + column] = part[0][tx];
    return;
  }
  if (ty == 0 && column < inner) partials[(o * slices + slice) * inner + column] = part[0][tx];
  __threadfence();
  __syncthreads();
  const int64_t tile = o * gridDim.x + blockIdx.x;
  if (tx == 0 && ty == 0) last = atomicAdd(&arrivals[tile], 1u) == static_cast<unsigned>(slices - 1);
  __syncthreads();
  if (!last) return;
  acc = 0;  // the partials of slices ty, ty + kRowLanes, ..., then the same tree as above
  if (column < inner)
    for (int64_t s = ty; s < slices; s += kRowLanes) acc += __ldcg(&partials[(o * slices + s) * inner + column]);
  part[ty][tx] = acc;
  __syncthreads();
  for (int half = kRowLanes / 2; half > 0; half /= 2) {
    if (ty < half) part[ty][tx] += part[ty + half][tx];
    __syncthreads();
  }
  if (ty == 0 && column < inner) out[o * inner + column] = part[0][tx];
  if (tx == 0 && ty == 0) arrivals[tile] = 0;
}

// Sums of squares: many tensors per launch, their pointers in the kernel's parameters.
constexpr int kSquaresChunk = 8192;  // elements per block of the first pass
constexpr int kSquareSlots = 64;
struct SquaresTable {
  int count;
  int64_t first_chunk[kSquareSlots + 1];  // chunk offsets of each tensor within the launch
  int64_t block[kSquareSlots];            // elements per replica
  const void* data[kSquareSlots];
};

// partials[r * columns + first_column + chunk]: one column per chunk of every tensor.
template <typename T>
__global__ void sum_squares_kernel(SquaresTable t, int64_t columns, int64_t first_column, double* partials) {
  __shared__ double partial[kThreads];
  const int64_t r = blockIdx.y, chunk = blockIdx.x;
  int k = 0;
  while (k + 1 < t.count && chunk >= t.first_chunk[k + 1]) ++k;
  const T* x = static_cast<const T*>(t.data[k]) + r * t.block[k];
  const int64_t begin = (chunk - t.first_chunk[k]) * static_cast<int64_t>(kSquaresChunk);
  const int64_t end = min(t.block[k], begin + kSquaresChunk);
  double acc = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double v = x[i];
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
  if (inner == 1) {  // row sums: (outer, mid) @ (mid, 1) as one product with a ones vector
    GemmShape g;
    g.batch = 1;
    g.m = outer;
    g.k = mid;
    g.n = 1;
    gemm(x, ones_of_length(mid, x.dtype()), out, g);
    return;
  }
  if (mid == 0) {
    fill(out, 0.0);
    return;
  }
  const int64_t tiles = (inner + kColumnTile - 1) / kColumnTile;
  const int64_t wanted = std::max<int64_t>(1, kTargetBlocks / (tiles * outer));
  const int64_t rows_per_slice = std::max(kMinRowsPerSlice, (mid + wanted - 1) / wanted);
  int64_t slices = (mid + rows_per_slice - 1) / rows_per_slice;
  if (tiles * outer > kArrivalCounters) slices = 1;  // enough blocks already; no counters needed
  const int64_t slice_rows = slices == 1 ? mid : rows_per_slice;
  Tensor partials = slices > 1 ? Tensor::empty({outer * slices * inner}, x.dtype(), Device::cuda) : Tensor();
  // The grid's z extent is at most 65535: more outer rows go in several launches (each with one slice, since
  // so many blocks need no counters).
  constexpr int64_t kMaxGridZ = 65535;
  for (int64_t first = 0; first < outer; first += kMaxGridZ) {
    const int64_t count = std::min(kMaxGridZ, outer - first);
    const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(slices), static_cast<unsigned>(count));
    dispatch_float(x.dtype(), [&]<typename T>() {
      column_sum_kernel<<<grid, dim3(kColumnTile, kRowLanes), 0, stream_>>>(
          x.data<T>() + first * mid * inner, mid, inner, slice_rows, slices > 1 ? partials.data<T>() : nullptr,
          arrivals_, out.data<T>() + first * inner);
    });
    check_launch("column_sum");
  }
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
  for (size_t first = 0; first < xs.size(); first += kSquareSlots) {
    SquaresTable table{};
    table.count = static_cast<int>(std::min<size_t>(kSquareSlots, xs.size() - first));
    for (int k = 0; k < table.count; ++k) {
      const Tensor& x = xs[first + k];
      if (x.dtype() != xs[0].dtype()) throw std::invalid_argument("sum_squares_per_replica: tensors of mixed dtypes");
      table.first_chunk[k + 1] = table.first_chunk[k] + chunks_of(x);
      table.block[k] = x.numel() / R;
      table.data[k] = x.raw();
    }
    const int64_t chunks = table.first_chunk[table.count];
    dispatch_float(xs[0].dtype(), [&]<typename T>() {
      sum_squares_kernel<T><<<dim3(static_cast<unsigned>(chunks), static_cast<unsigned>(R)), kThreads, 0, stream_>>>(
          table, columns, first_column, partials.data<double>());
    });
    check_launch("sum_squares");
    first_column += chunks;
  }
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
