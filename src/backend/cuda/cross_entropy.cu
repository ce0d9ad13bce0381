// Row-wise cross-entropy, one warp per row: loss = logsumexp - logit[target]; backward softmax - onehot.
// A target outside the vocabulary gives a NaN loss (kernels cannot throw).
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/rows.cuh"
#include "backend/cuda/strided.cuh"

namespace mechlab {

using namespace cuda;

namespace {
template <typename T>
__global__ void cross_entropy_kernel(const T* logits, const int32_t* targets, T* loss, T* lse, int64_t rows, int64_t V) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const T* x = logits + row * V;
  T max_logit = -INFINITY;
  for (int64_t v = lane(); v < V; v += 32) max_logit = max(max_logit, x[v]);
  max_logit = warp_max(max_logit);
  double total = 0.0;
  for (int64_t v = lane(); v < V; v += 32) total += exp(static_cast<double>(x[v] - max_logit));
  const double log_sum = static_cast<double>(max_logit) + log(warp_sum(total));
  if (lane() == 0) {
    const int32_t t = targets[row];
    lse[row] = static_cast<T>(log_sum);
    loss[row] = (t >= 0 && t < V) ? static_cast<T>(log_sum - x[t]) : T(NAN);
  }
}

template <typename T>
__global__ void cross_entropy_backward_kernel(const T* logits, const int32_t* targets, const T* lse, const T* dloss,
                                              T* dlogits, int64_t rows, int64_t V) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= rows * V) return;
  const int64_t row = i / V, v = i % V;
  const T softmax = exp(logits[i] - lse[row]);
  dlogits[i] = (softmax - (targets[row] == v ? T(1) : T(0))) * dloss[row];
}
}  // namespace

void CudaBackend::cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& loss, Tensor& lse) {
  const int64_t rows = logits.dim(0), V = logits.dim(1);
  if (rows == 0) return;
  dispatch_float(logits.dtype(), [&]<typename T>() {
    cross_entropy_kernel<<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(
        logits.data<T>(), targets.data<int32_t>(), loss.data<T>(), lse.data<T>(), rows, V);
  });
  check_launch("cross_entropy");
}

void CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                         const Tensor& dloss, Tensor& dlogits) {
  const int64_t rows = logits.dim(0), V = logits.dim(1);
  if (rows == 0) return;
  dispatch_float(logits.dtype(), [&]<typename T>() {
    cross_entropy_backward_kernel<<<blocks_for(rows * V), kThreads, 0, stream_>>>(
        logits.data<T>(), targets.data<int32_t>(), lse.data<T>(), dloss.data<T>(), dlogits.data<T>(), rows, V);
  });
  check_launch("cross_entropy_backward");
}

}  // namespace mechlab
