// Batched GEMM through cuBLAS. cuBLAS is column-major, so row-major C = op(A) op(B) is computed as
// C^T = op(B)^T op(A)^T, which needs no copies. Plain FP32 unless TF32 is asked for; deterministic on one
// GPU either way.
#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"

namespace mechlab {

using namespace cuda;

void CudaBackend::set_matmul_precision(MatmulPrecision precision) {
  check(cublasSetMathMode(cublas_, precision == MatmulPrecision::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
        "cublasSetMathMode");
}

void CudaBackend::gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmShape& g) {
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  if (g.k == 0 && g.beta == 0.0) {
    fill(c, 0.0);
    return;
  }
  const cublasOperation_t op_b = g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = static_cast<int>(g.m), n = static_cast<int>(g.n), k = static_cast<int>(g.k);
  const int ldb = g.trans_b ? k : n, lda = g.trans_a ? m : k;
  const int batch = static_cast<int>(g.batch);
  if (a.dtype() == DType::f32) {
    const float alpha = static_cast<float>(g.alpha), beta = static_cast<float>(g.beta);
    check(cublasSgemmStridedBatched(cublas_, op_b, op_a, n, m, k, &alpha, b.data<float>(), ldb, g.b_batch_stride,
                                    a.data<float>(), lda, g.a_batch_stride, &beta, c.data<float>(), n, g.c_batch_stride,
                                    batch),
          "cublasSgemmStridedBatched");
  } else {
    const double alpha = g.alpha, beta = g.beta;
    check(cublasDgemmStridedBatched(cublas_, op_b, op_a, n, m, k, &alpha, b.data<double>(), ldb, g.b_batch_stride,
                                    a.data<double>(), lda, g.a_batch_stride, &beta, c.data<double>(), n, g.c_batch_stride,
                                    batch),
          "cublasDgemmStridedBatched");
  }
}

}  // namespace mechlab
