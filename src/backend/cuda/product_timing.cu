// CudaBackend::time_product (mechlab_bench --products): one product of a step timed alone on synthetic
// operands, as gemm() runs it (the plans' algorithm, the inner sum cut into parts where gemm() cuts it) and at
// cuBLASLt's fastest algorithm for the whole batch; and whether cuBLASLt could fuse a bias or its gradient in.
#include <utility>

#include <cublasLt.h>

#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/stream_timer.cuh"
#include "backend/cuda/synthetic_operands.cuh"

namespace mechlab {

CudaBackend::ProductTiming CudaBackend::time_product(DType dtype, const GemmShape& g, int repeats) {
  ProductLog* log = std::exchange(product_log_, nullptr);  // these products are not the step's
  auto operand = [&](int64_t stride, int64_t matrix, uint32_t salt) {
    Tensor t = Tensor::empty({cuda::batch_extent(g.batch, stride, matrix)}, dtype, Device::cuda);
    cuda::fill_synthetic(t.raw(), t.numel(), dtype, salt, stream_);
    return t;
  };
  const Tensor a = operand(g.a_batch_stride, g.m * g.k, 1), b = operand(g.b_batch_stride, g.k * g.n, 2);
  Tensor c = operand(g.c_batch_stride, g.m * g.n, 3);
  gemm(a, b, c, g);  // plans, algorithms and their bit check, outside the timing
  ProductTiming timing;
  timing.ms = cuda::elapsed_ms(stream_, [&] {
    for (int r = 0; r < repeats; ++r) gemm(a, b, c, g);
  }) / repeats;
  timing.fastest_ms = gemm_plans_->fastest_ms(dtype, a.raw(), b.raw(), c.raw(), g, repeats);
  timing.bias_algorithms = gemm_plans_->epilogue_candidates(dtype, a.raw(), b.raw(), c.raw(), g, CUBLASLT_EPILOGUE_BIAS);
  timing.bias_gradient_algorithms =
      gemm_plans_->epilogue_candidates(dtype, a.raw(), b.raw(), c.raw(), g, CUBLASLT_EPILOGUE_BGRADB);
  product_log_ = log;
  return timing;
}

}  // namespace mechlab
