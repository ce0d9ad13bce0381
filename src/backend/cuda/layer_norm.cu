// LayerNorm rows, one warp per row; statistics in double as on the CPU.
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/rows.cuh"
#include "backend/cuda/strided.cuh"

namespace mechlab {

using namespace cuda;

namespace {
template <typename T>
__global__ void layer_norm_kernel(const T* x, T* out, T* stats, int64_t rows, int64_t width, double eps) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const T* in = x + row * width;
  double sum = 0.0;
  for (int64_t c = lane(); c < width; c += 32) sum += in[c];
  const double mean = warp_sum(sum) / static_cast<double>(width);
  double squares = 0.0;
  for (int64_t c = lane(); c < width; c += 32) squares += (in[c] - mean) * (in[c] - mean);
  const double rstd = 1.0 / sqrt(warp_sum(squares) / static_cast<double>(width) + eps);
  for (int64_t c = lane(); c < width; c += 32) out[row * width + c] = static_cast<T>((in[c] - mean) * rstd);
  if (lane() == 0) {
    stats[2 * row] = static_cast<T>(mean);
    stats[2 * row + 1] = static_cast<T>(rstd);
  }
}

template <typename T>
__global__ void layer_norm_backward_kernel(const T* x, const T* stats, const T* g, T* dx, int64_t rows, int64_t width) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const double mean = stats[2 * row], rstd = stats[2 * row + 1];
  const T* in = x + row * width;
  const T* grad = g + row * width;
  double g_sum = 0.0, gx_sum = 0.0;
  for (int64_t c = lane(); c < width; c += 32) {
    g_sum += grad[c];
    gx_sum += grad[c] * (in[c] - mean) * rstd;
  }
  const double g_mean = warp_sum(g_sum) / static_cast<double>(width);
  const double gx_mean = warp_sum(gx_sum) / static_cast<double>(width);
  for (int64_t c = lane(); c < width; c += 32)
    dx[row * width + c] = static_cast<T>(rstd * (grad[c] - g_mean - (in[c] - mean) * rstd * gx_mean));
}
}  // namespace

void CudaBackend::layer_norm(const Tensor& x, double eps, Tensor& out, Tensor& stats) {
  const int64_t width = x.dim(-1), rows = x.numel() / width;
  if (rows == 0) return;
  dispatch_float(x.dtype(), [&]<typename T>() {
    layer_norm_kernel<<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(x.data<T>(), out.data<T>(), stats.data<T>(),
                                                                           rows, width, eps);
  });
  check_launch("layer_norm");
}

void CudaBackend::layer_norm_backward(const Tensor& x, const Tensor& stats, const Tensor& dout, Tensor& dx) {
  const int64_t width = x.dim(-1), rows = x.numel() / width;
  if (rows == 0) return;
  dispatch_float(x.dtype(), [&]<typename T>() {
    layer_norm_backward_kernel<<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(
        x.data<T>(), stats.data<T>(), dout.data<T>(), dx.data<T>(), rows, width);
  });
  check_launch("layer_norm_backward");
}

}  // namespace mechlab
