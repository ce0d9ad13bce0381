// Embedding rows. The scatter-add backward is a product with a one-hot matrix, dtable += onehot^T dout,
// which sums repeated ids deterministically without atomics.
#include <cmath>

#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"

namespace mechlab {

using namespace cuda;

namespace {
// An id outside the vocabulary yields NaN rows, which surface as a NaN loss (kernels cannot throw).
template <typename T>
__global__ void gather_kernel(const T* table, const int32_t* ids, T* out, int64_t N, int64_t V, int64_t D, int64_t total) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const int64_t row = i / D, column = i % D, r = row / N;
  const int32_t id = ids[row];
  out[i] = (id >= 0 && id < V) ? table[(r * V + id) * D + column] : T(NAN);
}

template <typename T> __global__ void one_hot_kernel(const int32_t* ids, T* one_hot, int64_t rows, int64_t V) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * V) return;
  one_hot[i] = ids[i / V] == static_cast<int32_t>(i % V) ? T(1) : T(0);
}
}  // namespace

void CudaBackend::gather_rows(const Tensor& table, const Tensor& ids, Tensor& out) {
  const int64_t V = table.dim(1), D = table.dim(2), N = ids.dim(1), total = out.numel();
  if (total == 0) return;
  dispatch_float(table.dtype(), [&]<typename T>() {
    gather_kernel<<<blocks_for(total), kThreads, 0, stream_>>>(table.data<T>(), ids.data<int32_t>(), out.data<T>(), N, V, D, total);
  });
  check_launch("gather_rows");
}

void CudaBackend::scatter_add_rows(const Tensor& dout, const Tensor& ids, Tensor& dtable) {
  const int64_t R = dtable.dim(0), V = dtable.dim(1), D = dtable.dim(2), N = ids.dim(1);
  Tensor one_hot = Tensor::empty({R, N, V}, dout.dtype(), Device::cuda);
  dispatch_float(dout.dtype(), [&]<typename T>() {
    one_hot_kernel<<<blocks_for(R * N * V), kThreads, 0, stream_>>>(ids.data<int32_t>(), one_hot.data<T>(), R * N, V);
  });
  check_launch("one_hot");
  // dtable[r] (V, D) += one_hot[r]^T (V, N) @ dout[r] (N, D)
  GemmShape g;
  g.batch = R;
  g.m = V;
  g.n = D;
  g.k = N;
  g.trans_a = true;
  g.a_batch_stride = N * V;
  g.b_batch_stride = N * D;
  g.c_batch_stride = V * D;
  g.beta = 1.0;
  gemm(one_hot, dout, dtable, g);
}

}  // namespace mechlab
