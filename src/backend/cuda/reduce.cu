// Deterministic reductions whose bits depend on the reduced length only, never on how many rows or
// replicas share a launch: column sums over the middle axis (slices of rows in fixed order), row sums (a
// block per row, a fixed tree), and per-replica sums of squares over many tensors per launch (fixed
// chunks, fixed shared-memory trees, double accumulation) with the clipping factors derived from them.
#include <algorithm>

#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"

namespace mechlab {

using namespace cuda;

namespace {
// Column sums: the rows of x (outer, mid, inner) are cut into slices whose length depends on mid alone;
// each slice is summed by kRowLanes threads per column and a fixed tree, and the slices' partial sums are
// added in slice order by the same tree. So every bit of a column's sum depends on mid, not on outer (the
// replicas packed in one launch) nor on how many blocks share the work.
constexpr int kColumnTile = 32, kRowLanes = 8;
constexpr int64_t kMinRowsPerSlice = 128, kMaxSlices = 64;
constexpr int64_t kTargetBlocks = 264;  // column tiles enough to fill the GPU without slicing

int64_t rows_per_slice_for(int64_t mid) { return std::max(kMinRowsPerSlice, (mid + kMaxSlices - 1) / kMaxSlices); }

// The block's kRowLanes x kColumnTile values added down the lanes; the result is in part[0][tx].
template <typename T> __device__ void add_lanes(T (&part)[kRowLanes][kColumnTile], T value) {
  const int tx = threadIdx.x, ty = threadIdx.y;
  __syncthreads();  // the previous use of part is finished
  part[ty][tx] = value;
  __syncthreads();
  for (int half = kRowLanes / 2; half > 0; half /= 2) {
    if (ty < half) part[ty][tx] += part[ty + half][tx];
    __syncthreads();
  }
}

// Block (tile, y, o) sums slices y, y + gridDim.y, ... of its column tile. With one slice it writes the
// result. Otherwise it writes the slices' partial rows, and the block that finishes a column tile last (an
// arrival counter decides who, not what is summed; with gridDim.y == 1 that is the only block) adds them
// in slice order and resets the counter for the next call.
template <typename T>
__global__ void column_sum_kernel(const T* x, int64_t mid, int64_t inner, int64_t rows_per_slice, int64_t slices,
                                  T* partials, unsigned* arrivals, T* out) {
  __shared__ T part[kRowLanes][kColumnTile];
  __shared__ bool last;
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t column = blockIdx.x * static_cast<int64_t>(kColumnTile) + tx, o = blockIdx.z;
  for (int64_t slice = blockIdx.y; slice < slices; slice += gridDim.y) {
    const int64_t begin = slice * rows_per_slice, end = min(mid, begin + rows_per_slice);
    T acc = 0;
    if (column < inner)
      for (int64_t row = begin + ty; row < end; row += kRowLanes) acc += x[(o * mid + row) * inner + column];
    add_lanes(part, acc);
    if (ty != 0 || column >= inner) continue;
    if (slices == 1) out[o * inner + column] = part[0][tx];
    else partials[(o * slices + slice) * inner + column] = part[0][tx];
  }
  if (slices == 1) return;
  __threadfence();
  __syncthreads();
  const int64_t tile = o * gridDim.x + blockIdx.x;
  if (gridDim.y > 1) {
    if (tx == 0 && ty == 0) last = atomicAdd(&arrivals[tile], 1u) == static_cast<unsigned>(gridDim.y - 1);
    __syncthreads();
    if (!last) return;
  }
  T acc = 0;  // the partials of slices ty, ty + kRowLanes, ..., then the same tree as above
  if (column < inner)
    for (int64_t s = ty; s < slices; s += kRowLanes) acc += __ldcg(&partials[(o * slices + s) * inner + column]);
  add_lanes(part, acc);
  if (ty == 0 && column < inner) out[o * inner + column] = part[0][tx];
  if (gridDim.y > 1 && tx == 0 && ty == 0) arrivals[tile] = 0;
}

// Row sums: a block per row, `threads` (a power of two chosen from the row length alone) strided partial
// sums, then a fixed tree; grid-strided over rows.
template <typename T> __global__ void row_sum_kernel(const T* x, int64_t rows, int64_t length, T* out) {
  extern __shared__ unsigned char shared_bytes[];
  T* part = reinterpret_cast<T*>(shared_bytes);
  const int t = threadIdx.x;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    T acc = 0;
    for (int64_t i = t; i < length; i += blockDim.x) acc += x[row * length + i];
    __syncthreads();
    part[t] = acc;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
      if (t < half) part[t] += part[t + half];
      __syncthreads();
    }
    if (t == 0) out[row] = part[0];
  }
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
  if (mid == 0) {
    fill(out, 0.0);
    return;
  }
  if (inner == 1) {
    int threads = 32;
    while (threads < 256 && threads < mid) threads *= 2;
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(outer, 65535));
    dispatch_float(x.dtype(), [&]<typename T>() {
      row_sum_kernel<<<blocks, threads, threads * sizeof(T), stream_>>>(x.data<T>(), outer, mid, out.data<T>());
    });
    check_launch("row_sum");
    return;
  }
  const int64_t tiles = (inner + kColumnTile - 1) / kColumnTile;
  const int64_t rows_per_slice = rows_per_slice_for(mid), slices = (mid + rows_per_slice - 1) / rows_per_slice;
  // A block per slice, unless the column tiles alone fill the GPU or would need more arrival counters
  // than there are: then each block sums all its slices.
  const int64_t blocks_per_tile = tiles * outer > kArrivalCounters || tiles * outer >= kTargetBlocks ? 1 : slices;
  Tensor partials = slices > 1 ? Tensor::empty({outer * slices * inner}, x.dtype(), Device::cuda) : Tensor();
  // The grid's z extent is at most 65535: more outer rows go in several launches.
  constexpr int64_t kMaxGridZ = 65535;
  for (int64_t first = 0; first < outer; first += kMaxGridZ) {
    const int64_t count = std::min(kMaxGridZ, outer - first);
    const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(blocks_per_tile), static_cast<unsigned>(count));
    dispatch_float(x.dtype(), [&]<typename T>() {
      column_sum_kernel<<<grid, dim3(kColumnTile, kRowLanes), 0, stream_>>>(
          x.data<T>() + first * mid * inner, mid, inner, rows_per_slice, slices,
          slices > 1 ? partials.data<T>() + first * slices * inner : nullptr, arrivals_, out.data<T>() + first * inner);
    });
    check_launch("column_sum");
  }
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
