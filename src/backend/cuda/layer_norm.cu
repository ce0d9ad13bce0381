// LayerNorm rows, one warp per row; statistics in double as on the CPU. Rows up to 256 wide are read once into
// registers (kPerLane values a lane), wider ones are walked again for each pass.
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/rows.cuh"
#include "backend/cuda/strided.cuh"

namespace mechlab {

using namespace cuda;

namespace {
// Row `row`'s slice of an optional per-group parameter (see Backend::layer_norm), or nullptr.
template <typename T>
__device__ inline const T* group_row(const T* param, int64_t groups, int64_t row, int64_t rows, int64_t width) {
  return param ? param + (row / (rows / groups)) * width : nullptr;
}

// The per-element formulas both kernel shapes share: the normalised, affine output, and dx.
template <typename T>
__device__ inline T normalized(T x, double mean, double rstd, const T* w, const T* b, int64_t c) {
  double y = (x - mean) * rstd;
  if (w) y *= w[c];
  if (b) y += b[c];
  return static_cast<T>(y);
}
__device__ inline double input_gradient(double gw, double xhat, double rstd, double g_mean, double gx_mean) {
  return rstd * (gw - g_mean - xhat * gx_mean);
}

// A row held in registers: value c of the row is lane + 32 * i of slot i, zero past the width.
template <typename T, int kPerLane> struct RowValues {
  T v[kPerLane];
  __device__ void load(const T* row, int64_t width) {
#pragma unroll
    for (int i = 0; i < kPerLane; ++i) {
      const int64_t c = lane() + 32 * i;
      v[i] = c < width ? row[c] : T(0);
    }
  }
};

template <typename T, int kPerLane>
__global__ void layer_norm_registers_kernel(const T* x, const T* weight, int64_t weight_groups, const T* bias,
                                            int64_t bias_groups, T* out, T* stats, int64_t rows, int64_t width, double eps) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const T* w = group_row(weight, weight_groups, row, rows, width);
  const T* b = group_row(bias, bias_groups, row, rows, width);
  RowValues<T, kPerLane> in;
  in.load(x + row * width, width);
  double sum = 0.0;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) sum += in.v[i];
  const double mean = warp_sum(sum) / static_cast<double>(width);
  double squares = 0.0;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i)
    if (lane() + 32 * i < width) squares += (in.v[i] - mean) * (in.v[i] - mean);
  const double rstd = 1.0 / sqrt(warp_sum(squares) / static_cast<double>(width) + eps);
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int64_t c = lane() + 32 * i;
    if (c < width) out[row * width + c] = normalized(in.v[i], mean, rstd, w, b, c);
  }
  if (lane() == 0) {
    stats[2 * row] = static_cast<T>(mean);
    stats[2 * row + 1] = static_cast<T>(rstd);
  }
}

template <typename T, int kPerLane>
__global__ void layer_norm_backward_registers_kernel(const T* x, const T* stats, const T* weight, int64_t groups,
                                                     const T* g, T* dx, T* dout_xhat, int64_t rows, int64_t width) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const double mean = stats[2 * row], rstd = stats[2 * row + 1];
  const T* w = group_row(weight, groups, row, rows, width);
  RowValues<T, kPerLane> in, grad;
  in.load(x + row * width, width);
  grad.load(g + row * width, width);
  double xhat[kPerLane], gw[kPerLane], g_sum = 0.0, gx_sum = 0.0;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int64_t c = lane() + 32 * i;
    xhat[i] = (in.v[i] - mean) * rstd;
    gw[i] = c < width && w ? static_cast<double>(grad.v[i]) * w[c] : grad.v[i];
    g_sum += gw[i];
    gx_sum += gw[i] * xhat[i];
  }
  const double g_mean = warp_sum(g_sum) / static_cast<double>(width);
  const double gx_mean = warp_sum(gx_sum) / static_cast<double>(width);
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int64_t c = lane() + 32 * i;
    if (c >= width) continue;
    dx[row * width + c] = static_cast<T>(input_gradient(gw[i], xhat[i], rstd, g_mean, gx_mean));
    if (dout_xhat) dout_xhat[row * width + c] = static_cast<T>(grad.v[i] * xhat[i]);
  }
}

// Calls fn.template operator()<kPerLane>() for rows up to 256 wide; returns false for wider ones.
template <typename Fn> bool dispatch_per_lane(int64_t width, Fn&& fn) {
  if (width <= 32) return fn.template operator()<1>(), true;
  if (width <= 64) return fn.template operator()<2>(), true;
  if (width <= 128) return fn.template operator()<4>(), true;
  if (width <= 256) return fn.template operator()<8>(), true;
  return false;
}

template <typename T>
__global__ void layer_norm_kernel(const T* x, const T* weight, int64_t weight_groups, const T* bias, int64_t bias_groups,
                                  T* out, T* stats, int64_t rows, int64_t width, double eps) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const T* in = x + row * width;
  const T* w = group_row(weight, weight_groups, row, rows, width);
  const T* b = group_row(bias, bias_groups, row, rows, width);
  double sum = 0.0;
  for (int64_t c = lane(); c < width; c += 32) sum += in[c];
  const double mean = warp_sum(sum) / static_cast<double>(width);
  double squares = 0.0;
  for (int64_t c = lane(); c < width; c += 32) squares += (in[c] - mean) * (in[c] - mean);
  const double rstd = 1.0 / sqrt(warp_sum(squares) / static_cast<double>(width) + eps);
  for (int64_t c = lane(); c < width; c += 32) out[row * width + c] = normalized(in[c], mean, rstd, w, b, c);
  if (lane() == 0) {
    stats[2 * row] = static_cast<T>(mean);
    stats[2 * row + 1] = static_cast<T>(rstd);
  }
}

template <typename T>
__global__ void layer_norm_backward_kernel(const T* x, const T* stats, const T* weight, int64_t groups, const T* g,
                                           T* dx, T* dout_xhat, int64_t rows, int64_t width) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const double mean = stats[2 * row], rstd = stats[2 * row + 1];
  const T* in = x + row * width;
  const T* grad = g + row * width;
  const T* w = group_row(weight, groups, row, rows, width);
  double g_sum = 0.0, gx_sum = 0.0;
  for (int64_t c = lane(); c < width; c += 32) {
    const double gw = w ? static_cast<double>(grad[c]) * w[c] : grad[c];
    g_sum += gw;
    gx_sum += gw * (in[c] - mean) * rstd;
  }
  const double g_mean = warp_sum(g_sum) / static_cast<double>(width);
  const double gx_mean = warp_sum(gx_sum) / static_cast<double>(width);
  for (int64_t c = lane(); c < width; c += 32) {
    const double xhat = (in[c] - mean) * rstd;
    const double gw = w ? static_cast<double>(grad[c]) * w[c] : grad[c];
    dx[row * width + c] = static_cast<T>(input_gradient(gw, xhat, rstd, g_mean, gx_mean));
    if (dout_xhat) dout_xhat[row * width + c] = static_cast<T>(grad[c] * xhat);
  }
}

template <typename T> const T* optional(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
int64_t groups_of(const Tensor& param, int64_t width) { return param.defined() ? param.numel() / width : 1; }
}  // namespace

void CudaBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor& out,
                             Tensor& stats) {
  const int64_t width = x.dim(-1), rows = x.numel() / width;
  if (rows == 0) return;
  dispatch_float(x.dtype(), [&]<typename T>() {
    const bool in_registers = dispatch_per_lane(width, [&]<int kPerLane>() {
      layer_norm_registers_kernel<T, kPerLane><<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(
          x.data<T>(), optional<T>(weight), groups_of(weight, width), optional<T>(bias), groups_of(bias, width),
          out.data<T>(), stats.data<T>(), rows, width, eps);
    });
    if (!in_registers)
      layer_norm_kernel<<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(
          x.data<T>(), optional<T>(weight), groups_of(weight, width), optional<T>(bias), groups_of(bias, width),
          out.data<T>(), stats.data<T>(), rows, width, eps);
  });
  check_launch("layer_norm");
}

void CudaBackend::layer_norm_backward(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& dout,
                                      Tensor& dx, Tensor& dout_xhat) {
  const int64_t width = x.dim(-1), rows = x.numel() / width;
  if (rows == 0) return;
  dispatch_float(x.dtype(), [&]<typename T>() {
    T* gx = dout_xhat.defined() ? dout_xhat.data<T>() : nullptr;
    const bool in_registers = dispatch_per_lane(width, [&]<int kPerLane>() {
      layer_norm_backward_registers_kernel<T, kPerLane><<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(
          x.data<T>(), stats.data<T>(), optional<T>(weight), groups_of(weight, width), dout.data<T>(), dx.data<T>(), gx,
          rows, width);
    });
    if (!in_registers)
      layer_norm_backward_kernel<<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(
          x.data<T>(), stats.data<T>(), optional<T>(weight), groups_of(weight, width), dout.data<T>(), dx.data<T>(), gx,
          rows, width);
  });
  check_launch("layer_norm_backward");
}

}  // namespace mechlab
