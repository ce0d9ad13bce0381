// LayerNorm rows; statistics in double as on the CPU. Float rows up to 128 wide (a multiple of 4) take a group of
// lanes that each hold four neighbouring values (one vector load), so a warp handles several narrow rows; other
// rows up to 256 wide take a warp and are read once into registers (kPerLane values a lane), wider ones are
// walked again for each pass.
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

// Sum over the kGroup lanes of an aligned group of a warp, in a fixed butterfly order. Every lane of the warp
// takes part (lanes past the last row hold zeros), so no lane may have returned.
template <int kGroup> __device__ inline double group_sum(double value) {
#pragma unroll
  for (int offset = kGroup / 2; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

// Where thread `thread` of a grouped kernel works: its row and its first of four columns; active when both exist.
template <int kGroup> struct GroupPlace {
  int64_t row, column;
  bool active;
  __device__ GroupPlace(int64_t rows, int64_t width) {
    const int64_t thread = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    row = thread / kGroup;
    column = 4 * (thread % kGroup);
    active = row < rows && column < width;
  }
};
__device__ inline float4 load4(const float* at, bool active) {
  return active ? *reinterpret_cast<const float4*>(at) : make_float4(0.f, 0.f, 0.f, 0.f);
}

template <int kGroup>
__global__ void layer_norm_groups_kernel(const float* x, const float* weight, int64_t weight_groups, const float* bias,
                                         int64_t bias_groups, float* out, float* stats, int64_t rows, int64_t width,
                                         double eps) {
  const GroupPlace<kGroup> at(rows, width);
  const int64_t offset = at.row * width + at.column;
  const float4 in4 = load4(x + offset, at.active);
  const float in[4] = {in4.x, in4.y, in4.z, in4.w};
  double sum = 0.0;
  for (int j = 0; j < 4; ++j) sum += in[j];
  const double mean = group_sum<kGroup>(sum) / static_cast<double>(width);
  double squares = 0.0;
  if (at.active)
    for (int j = 0; j < 4; ++j) squares += (in[j] - mean) * (in[j] - mean);
  const double rstd = 1.0 / sqrt(group_sum<kGroup>(squares) / static_cast<double>(width) + eps);
  if (!at.active) return;
  const float* w = group_row(weight, weight_groups, at.row, rows, width);
  const float* b = group_row(bias, bias_groups, at.row, rows, width);
  float y[4];
  for (int j = 0; j < 4; ++j) y[j] = normalized(in[j], mean, rstd, w, b, at.column + j);
  *reinterpret_cast<float4*>(out + offset) = make_float4(y[0], y[1], y[2], y[3]);
  if (at.column == 0) {
    stats[2 * at.row] = static_cast<float>(mean);
    stats[2 * at.row + 1] = static_cast<float>(rstd);
  }
}

template <int kGroup>
__global__ void layer_norm_backward_groups_kernel(const float* x, const float* stats, const float* weight, int64_t groups,
                                                  const float* g, float* dx, float* dout_xhat, int64_t rows, int64_t width) {
  const GroupPlace<kGroup> at(rows, width);
  const int64_t offset = at.row * width + at.column;
  const double mean = at.active ? stats[2 * at.row] : 0.0, rstd = at.active ? stats[2 * at.row + 1] : 0.0;
  const float* w = at.active ? group_row(weight, groups, at.row, rows, width) : nullptr;
  const float4 in4 = load4(x + offset, at.active), grad4 = load4(g + offset, at.active);
  const float in[4] = {in4.x, in4.y, in4.z, in4.w}, grad[4] = {grad4.x, grad4.y, grad4.z, grad4.w};
  double xhat[4], gw[4], g_sum = 0.0, gx_sum = 0.0;
  for (int j = 0; j < 4; ++j) {
    xhat[j] = (in[j] - mean) * rstd;
    gw[j] = w ? static_cast<double>(grad[j]) * w[at.column + j] : grad[j];
    g_sum += gw[j];
    gx_sum += gw[j] * xhat[j];
  }
  const double g_mean = group_sum<kGroup>(g_sum) / static_cast<double>(width);
  const double gx_mean = group_sum<kGroup>(gx_sum) / static_cast<double>(width);
  if (!at.active) return;
  float d[4], gx[4];
  for (int j = 0; j < 4; ++j) {
    d[j] = static_cast<float>(input_gradient(gw[j], xhat[j], rstd, g_mean, gx_mean));
    gx[j] = static_cast<float>(grad[j] * xhat[j]);
  }
  *reinterpret_cast<float4*>(dx + offset) = make_float4(d[0], d[1], d[2], d[3]);
  if (dout_xhat) *reinterpret_cast<float4*>(dout_xhat + offset) = make_float4(gx[0], gx[1], gx[2], gx[3]);
}

// Calls fn.template operator()<kGroup>() for float rows of width 4..128, a multiple of 4, whose every pointer is
// 16-byte aligned (kGroup lanes of four values, a power of two); returns false otherwise.
template <typename Fn>
bool dispatch_groups(DType dtype, int64_t width, std::initializer_list<const void*> pointers, Fn&& fn) {
  if (dtype != DType::f32 || width % 4 != 0 || width > 128) return false;
  for (const void* p : pointers)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  const int64_t lanes = width / 4;
  if (lanes <= 1) return fn.template operator()<1>(), true;
  if (lanes <= 2) return fn.template operator()<2>(), true;
  if (lanes <= 4) return fn.template operator()<4>(), true;
  if (lanes <= 8) return fn.template operator()<8>(), true;
  if (lanes <= 16) return fn.template operator()<16>(), true;
  return fn.template operator()<32>(), true;
}
unsigned group_blocks(int64_t rows, int group) { return blocks_for(rows * group); }

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
  const bool grouped = dispatch_groups(x.dtype(), width, {x.raw(), out.raw()}, [&]<int kGroup>() {
    layer_norm_groups_kernel<kGroup><<<group_blocks(rows, kGroup), kThreads, 0, stream_>>>(
        x.data<float>(), optional<float>(weight), groups_of(weight, width), optional<float>(bias), groups_of(bias, width),
        out.data<float>(), stats.data<float>(), rows, width, eps);
  });
  if (grouped) return check_launch("layer_norm");
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
  const void* gx_raw = dout_xhat.defined() ? dout_xhat.raw() : nullptr;
  const bool grouped = dispatch_groups(x.dtype(), width, {x.raw(), dout.raw(), dx.raw(), gx_raw}, [&]<int kGroup>() {
    layer_norm_backward_groups_kernel<kGroup><<<group_blocks(rows, kGroup), kThreads, 0, stream_>>>(
        x.data<float>(), stats.data<float>(), optional<float>(weight), groups_of(weight, width), dout.data<float>(),
        dx.data<float>(), dout_xhat.defined() ? dout_xhat.data<float>() : nullptr, rows, width);
  });
  if (grouped) return check_launch("layer_norm_backward");
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
