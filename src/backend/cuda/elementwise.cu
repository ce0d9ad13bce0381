// Elementwise kernels: broadcasting binary ops, unary maps and their derivatives.
#include <cstdint>
#include <type_traits>

#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_math.cuh"
#include "backend/cuda/strided.cuh"

namespace mechlab {

using namespace cuda;

namespace {
template <typename T> __device__ inline T apply(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
  }
  return a;
}

template <typename T, typename Index>
__global__ void binary_kernel(BinaryOp op, const T* a, const T* b, T* out, StridedArgs<3> s) {
  const Index i = static_cast<Index>(blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x);
  if (i >= static_cast<Index>(s.numel)) return;
  Index at[3];
  strided_offsets<Index, 3>(s, i, at);
  out[at[2]] = apply(op, a[at[0]], b[at[1]]);
}

template <typename T> __global__ void binary_same_shape(BinaryOp op, const T* a, const T* b, T* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = apply(op, a[i], b[i]);
}

// out = a op b where a is contiguous (outer, mid, width) and b holds one row per outer index (outer, 1, width):
// a bias added to every row of a replica's activations. Four values per thread where the width allows.
template <typename T, int kVector>
__global__ void row_broadcast_kernel(BinaryOp op, const T* a, const T* b, T* out, int64_t n, int64_t mid, int64_t width) {
  const int64_t i = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) * kVector;
  if (i >= n) return;
  const int64_t column = i % width, row_of_b = i / (mid * width);
  const T* bi = b + row_of_b * width + column;
  if constexpr (kVector == 4 && std::is_same_v<T, float>) {
    const float4 x = *reinterpret_cast<const float4*>(a + i), y = *reinterpret_cast<const float4*>(bi);
    *reinterpret_cast<float4*>(out + i) = {apply(op, x.x, y.x), apply(op, x.y, y.y), apply(op, x.z, y.z), apply(op, x.w, y.w)};
  } else {
    out[i] = apply(op, a[i], *bi);
  }
}

// Whether collapsed views are a contiguous `a` and a `b` of one row per outer index (row_broadcast_kernel),
// with the mid and width extents.
bool row_broadcast(const StridedArgs<3>& s, int64_t& mid, int64_t& width) {
  if (s.ndim < 2 || s.ndim > 3 || s.offsets[0] != 0 || s.offsets[1] != 0 || s.offsets[2] != 0) return false;
  const int d = s.ndim;
  width = s.shape[d - 1];
  mid = s.shape[d - 2];
  for (int k : {0, 2})
    if (s.strides[k][d - 1] != 1 || s.strides[k][d - 2] != width || (d == 3 && s.strides[k][0] != mid * width)) return false;
  return s.strides[1][d - 1] == 1 && s.strides[1][d - 2] == 0 && (d == 2 || s.strides[1][0] == width);
}

template <typename T> __device__ inline T unary_value(UnaryOp op, T x, T s) {
  switch (op) {
    case UnaryOp::scale: return x * s;
    case UnaryOp::relu: return x > T(0) ? x : T(0);
    case UnaryOp::gelu: return T(0.5) * x * (T(1) + erf_of(x * T(M_SQRT1_2)));
    case UnaryOp::square: return x * x;
  }
  return x;
}

template <typename T> __device__ inline T unary_slope(UnaryOp op, T x, T s) {
  switch (op) {
    case UnaryOp::scale: return s;
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::gelu: {
      const T cdf = T(0.5) * (T(1) + erf_of(x * T(M_SQRT1_2)));
      return cdf + x * exp_of(T(-0.5) * x * x) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);
    }
    case UnaryOp::square: return T(2) * x;
  }
  return T(1);
}

template <typename T> __global__ void unary_kernel(UnaryOp op, const T* x, T* out, int64_t n, T s) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = unary_value(op, x[i], s);
}

template <typename T> __global__ void unary_backward_kernel(UnaryOp op, const T* x, const T* g, T* dx, int64_t n, T s) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) dx[i] = g[i] * unary_slope(op, x[i], s);
}
}  // namespace

void CudaBackend::binary(BinaryOp op, const Tensor& a, const StridedView& view_a, const Tensor& b,
                         const StridedView& view_b, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  dispatch_float(a.dtype(), [&]<typename T>() {
    if (a.shape() == out.shape() && b.shape() == out.shape()) {
      binary_same_shape<<<blocks_for(n), kThreads, 0, stream_>>>(op, a.data<T>(), b.data<T>(), out.data<T>(), n);
    } else {
      StridedView view_out = StridedView::contiguous(out.shape());
      StridedArgs<3> s = strided_args<3>({&view_a, &view_b, &view_out});
      int64_t mid = 0, width = 0;
      if (row_broadcast(s, mid, width)) {
        auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
        const bool vector = width % 4 == 0 && aligned(a.data<T>()) && aligned(b.data<T>()) && aligned(out.data<T>());
        if (std::is_same_v<T, float> && vector)
          row_broadcast_kernel<T, 4><<<blocks_for(n / 4), kThreads, 0, stream_>>>(op, a.data<T>(), b.data<T>(), out.data<T>(), n, mid, width);
        else
          row_broadcast_kernel<T, 1><<<blocks_for(n), kThreads, 0, stream_>>>(op, a.data<T>(), b.data<T>(), out.data<T>(), n, mid, width);
      } else if (fits_32_bits(s))
        binary_kernel<T, int32_t><<<blocks_for(n), kThreads, 0, stream_>>>(op, a.data<T>(), b.data<T>(), out.data<T>(), s);
      else
        binary_kernel<T, int64_t><<<blocks_for(n), kThreads, 0, stream_>>>(op, a.data<T>(), b.data<T>(), out.data<T>(), s);
    }
  });
  check_launch("binary");
}

void CudaBackend::unary(UnaryOp op, const Tensor& x, Tensor& out, double scalar) {
  if (x.numel() == 0) return;
  dispatch_float(x.dtype(), [&]<typename T>() {
    unary_kernel<<<blocks_for(x.numel()), kThreads, 0, stream_>>>(op, x.data<T>(), out.data<T>(), x.numel(), static_cast<T>(scalar));
  });
  check_launch("unary");
}

void CudaBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& dout, Tensor& dx, double scalar) {
  if (x.numel() == 0) return;
  dispatch_float(x.dtype(), [&]<typename T>() {
    unary_backward_kernel<<<blocks_for(x.numel()), kThreads, 0, stream_>>>(op, x.data<T>(), dout.data<T>(), dx.data<T>(),
                                                                         x.numel(), static_cast<T>(scalar));
  });
  check_launch("unary_backward");
}

}  // namespace mechlab
