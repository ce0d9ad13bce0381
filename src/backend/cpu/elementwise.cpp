// Elementwise kernels: broadcasting binary ops, unary maps and their derivatives.
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/fast_math.h"
#include "backend/cpu/strided_loop.h"

namespace mechlab {

namespace {
template <typename T, typename Fn>
void binary_rows(const T* a, const T* b, T* out, const cpu::StridedLoop<3>& loop, Fn fn) {
  loop.run([&](const std::array<int64_t, 3>& at, int64_t n, const std::array<int64_t, 3>& step) {
    const T* x = a + at[0];
    const T* y = b + at[1];
    T* z = out + at[2];
    // The common cases get loops the compiler can vectorise.
    if (step[0] == 1 && step[1] == 1) {
      for (int64_t i = 0; i < n; ++i) z[i] = fn(x[i], y[i]);
    } else if (step[0] == 1 && step[1] == 0) {
      const T yv = *y;
      for (int64_t i = 0; i < n; ++i) z[i] = fn(x[i], yv);
    } else if (step[0] == 0 && step[1] == 1) {
      const T xv = *x;
      for (int64_t i = 0; i < n; ++i) z[i] = fn(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) z[i] = fn(x[i * step[0]], y[i * step[1]]);
    }
  });
}

template <typename T, typename Fn> void map_parallel(int64_t n, Fn fn) {
  cpu::parallel_chunks(n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

template <typename T> T gelu_of(T x) { return T(0.5) * x * (T(1) + cpu::erf_of(x * T(M_SQRT1_2))); }
template <typename T> T gelu_slope(T x) {
  const T cdf = T(0.5) * (T(1) + cpu::erf_of(x * T(M_SQRT1_2)));
  const T pdf = cpu::exp_of(T(-0.5) * x * x) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);
  return cdf + x * pdf;
}
}  // namespace

void CpuBackend::binary(BinaryOp op, const Tensor& a, const StridedView& view_a, const Tensor& b,
                        const StridedView& view_b, Tensor& out) {
  StridedView view_out = StridedView::contiguous(out.shape());
  cpu::StridedLoop<3> loop({&view_a, &view_b, &view_out});
  dispatch_float(a.dtype(), [&]<typename T>() {
    const T* x = a.data<T>();
    const T* y = b.data<T>();
    T* z = out.data<T>();
    switch (op) {
      case BinaryOp::add: binary_rows<T>(x, y, z, loop, [](T p, T q) { return p + q; }); break;
      case BinaryOp::sub: binary_rows<T>(x, y, z, loop, [](T p, T q) { return p - q; }); break;
      case BinaryOp::mul: binary_rows<T>(x, y, z, loop, [](T p, T q) { return p * q; }); break;
      case BinaryOp::div: binary_rows<T>(x, y, z, loop, [](T p, T q) { return p / q; }); break;
    }
  });
}

void CpuBackend::unary(UnaryOp op, const Tensor& x, Tensor& out, double scalar) {
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* o = out.data<T>();
    const T s = static_cast<T>(scalar);
    switch (op) {
      case UnaryOp::scale: map_parallel<T>(x.numel(), [&](int64_t i) { o[i] = in[i] * s; }); break;
      case UnaryOp::relu: map_parallel<T>(x.numel(), [&](int64_t i) { o[i] = in[i] > T(0) ? in[i] : T(0); }); break;
      case UnaryOp::gelu: map_parallel<T>(x.numel(), [&](int64_t i) { o[i] = gelu_of(in[i]); }); break;
      case UnaryOp::square: map_parallel<T>(x.numel(), [&](int64_t i) { o[i] = in[i] * in[i]; }); break;
    }
  });
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& dout, Tensor& dx, double scalar) {
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    const T* g = dout.data<T>();
    T* d = dx.data<T>();
    const T s = static_cast<T>(scalar);
    switch (op) {
      case UnaryOp::scale: map_parallel<T>(x.numel(), [&](int64_t i) { d[i] = g[i] * s; }); break;
      case UnaryOp::relu: map_parallel<T>(x.numel(), [&](int64_t i) { d[i] = in[i] > T(0) ? g[i] : T(0); }); break;
      case UnaryOp::gelu: map_parallel<T>(x.numel(), [&](int64_t i) { d[i] = g[i] * gelu_slope(in[i]); }); break;
      case UnaryOp::square: map_parallel<T>(x.numel(), [&](int64_t i) { d[i] = T(2) * in[i] * g[i]; }); break;
    }
  });
}

}  // namespace mechlab
