// The CUDA backend's fused attention (Backend::fused_attention): z = pattern(scale * q k^T) v for every example
// and head, with q, k, v and z in the projections' layout and the T x T pattern never in memory. Narrow heads
// go to one thread per row (attention_by_rows.cu), heads up to 64 wide to shared tiles (attention_by_tiles.cu);
// wider heads take ops::attention's composed path (cuBLAS products), which is faster there until a tensor-core
// kernel exists.
#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/fused_attention.cuh"

namespace mechlab {

using namespace cuda;
using namespace cuda::attention;

namespace {
// dot (N, H, T') = sum over e of z * dz, one thread per row in memory order (so a warp reads one stretch).
template <typename T> __global__ void row_dot_kernel(Geometry<T> g, const T* z, const T* dz, T* dot, int64_t rows) {
  const int64_t row = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;  // (n, t, h) order
  if (row >= rows) return;
  const int64_t h = row % g.heads, t = row / g.heads % g.queries, n = row / (g.heads * g.queries);
  const T* a = z + row * g.width;
  const T* b = dz + row * g.width;
  T total = T(0);
  for (int64_t e = 0; e < g.width; ++e) total += a[e] * b[e];
  dot[(n * g.heads + h) * g.queries + t] = total;
}

template <typename T> Call<T> call_of(AttentionKind kind, bool exclude_self, double scale, const Tensor& q, const Tensor& k,
                                      const Tensor& v, cudaStream_t stream) {
  const int64_t queries = q.dim(-3), length = k.dim(-3), heads = q.dim(-2), width = q.dim(-1);
  const Geometry<T> g{heads, queries, length, width, length - queries, exclude_self ? 1 : 0, static_cast<T>(scale), kind};
  return {g, q.numel() / (queries * width), q.data<T>(), k.data<T>(), v.data<T>(), stream};
}

template <typename T> bool by_rows(int64_t E) { return E <= rows_width<T>(); }
}  // namespace

bool CudaBackend::supports_fused_attention(DType dtype, int64_t head_width) const {
  if (!fused_attention_allowed_ || head_width < 1) return false;
  bool fits = false;
  dispatch_float(dtype, [&]<typename T>() { fits = by_rows<T>(head_width) || tiles_fit<T>(head_width); });
  return fits;
}

void CudaBackend::fused_attention(AttentionKind kind, bool exclude_self, double scale, const Tensor& q, const Tensor& k,
                                  const Tensor& v, Tensor& z, Tensor& lse) {
  if (q.numel() == 0) return;
  dispatch_float(q.dtype(), [&]<typename T>() {
    const Call<T> call = call_of<T>(kind, exclude_self, scale, q, k, v, stream_);
    if (by_rows<T>(call.g.width))
      rows_forward(call, z.data<T>(), lse.data<T>());
    else
      tiles_forward(call, z.data<T>(), lse.data<T>());
  });
}

void CudaBackend::fused_attention_backward(AttentionKind kind, bool exclude_self, double scale, const Tensor& q,
                                           const Tensor& k, const Tensor& v, const Tensor& z, const Tensor& lse,
                                           const Tensor& dz, Tensor& dq, Tensor& dk, Tensor& dv) {
  if (q.numel() == 0) return;
  dispatch_float(q.dtype(), [&]<typename T>() {
    const Call<T> call = call_of<T>(kind, exclude_self, scale, q, k, v, stream_);
    Tensor dot = Tensor::empty(lse.shape(), lse.dtype(), Device::cuda);
    if (kind == AttentionKind::softmax) {
      const int64_t rows = lse.numel();
      row_dot_kernel<<<blocks_for(rows), kThreads, 0, stream_>>>(call.g, z.data<T>(), dz.data<T>(), dot.data<T>(), rows);
      check_launch("attention row dots");
    }
    const Gradients<T> grads{z.data<T>(), dz.data<T>(), lse.data<T>(), dot.data<T>(), dq.data<T>(), dk.data<T>(), dv.data<T>()};
    if (by_rows<T>(call.g.width))
      rows_backward(call, grads);
    else
      tiles_backward(call, grads);
  });
}

}  // namespace mechlab
