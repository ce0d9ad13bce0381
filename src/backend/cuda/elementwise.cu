// Elementwise kernels: broadcasting binary ops, unary maps and their derivatives.
#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"
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

__device__ inline float erf_of(float x) { return erff(x); }
__device__ inline double erf_of(double x) { return erf(x); }
__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return exp(x); }

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
      if (fits_32_bits(s))
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
