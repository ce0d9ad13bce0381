// Batched GEMM through cuBLASLt, one algorithm per shape (gemm_plans.h). cuBLAS is column-major, so
// row-major C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T, which needs no copies. Plain FP32 unless
// TF32 is asked for; deterministic on one GPU and independent of how many replicas share a product.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/gemm_plans.h"

namespace mechlab {

using namespace cuda;

namespace cuda {
namespace {
// The largest power of two (at most 256) that divides every address a matrix of the batch starts at.
int alignment_of(const void* data, int64_t batch_stride, size_t element_bytes) {
  uint64_t bits = reinterpret_cast<uintptr_t>(data) | 256u;
  if (batch_stride != 0) bits |= static_cast<uint64_t>(batch_stride) * element_bytes;
  return static_cast<int>(bits & (~bits + 1));
}

std::string what(const GemmShape& g) {
  return "cublasLtMatmul of " + std::to_string(g.batch) + " products " + std::to_string(g.m) + "x" +
         std::to_string(g.k) + (g.trans_a ? "^T" : "") + " @ " + std::to_string(g.k) + "x" + std::to_string(g.n) +
         (g.trans_b ? "^T" : "");
}

template <typename T> void set(cublasLtMatrixLayout_t layout, cublasLtMatrixLayoutAttribute_t what, T value) {
  check(cublasLtMatrixLayoutSetAttribute(layout, what, &value, sizeof value), "cublasLtMatrixLayoutSetAttribute");
}
template <typename T> void set(cublasLtMatmulPreference_t preference, cublasLtMatmulPreferenceAttributes_t what, T value) {
  check(cublasLtMatmulPreferenceSetAttribute(preference, what, &value, sizeof value),
        "cublasLtMatmulPreferenceSetAttribute");
}
}  // namespace

GemmPlans::GemmPlans(cudaStream_t stream, void* workspace, size_t workspace_bytes)
    : stream_(stream), workspace_(workspace), workspace_bytes_(workspace_bytes) {
  check(cublasLtCreate(&handle_), "cublasLtCreate");
}

GemmPlans::~GemmPlans() {
  for (auto& [key, plan] : plans_) destroy(plan);
  cublasLtDestroy(handle_);
}

void GemmPlans::destroy(Plan& plan) {
  cublasLtMatrixLayoutDestroy(plan.a);
  cublasLtMatrixLayoutDestroy(plan.b);
  cublasLtMatrixLayoutDestroy(plan.c);
  cublasLtMatmulDescDestroy(plan.operation);
  plan = Plan{};
}

// The column-major problem: Lt's A is our b, Lt's B is our a, and D = C is our c (n x m).
GemmPlans::Plan GemmPlans::make_plan(const ShapeKey& key, int64_t batch, const GemmShape& g) const {
  const auto [dtype_code, tf32, trans_a, trans_b, m, n, k, align_a, align_b, align_c, per_replica] = key;
  const bool f64 = dtype_code == static_cast<int>(DType::f64);
  const cudaDataType_t type = f64 ? CUDA_R_64F : CUDA_R_32F;
  const cublasComputeType_t compute = f64 ? CUBLAS_COMPUTE_64F : tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  Plan plan;
  check(cublasLtMatmulDescCreate(&plan.operation, compute, type), "cublasLtMatmulDescCreate");
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_TRANSA, &op_b, sizeof op_b), "TRANSA");
  check(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_TRANSB, &op_a, sizeof op_a), "TRANSB");
  auto layout = [&](int64_t rows, int64_t cols, int64_t stride) {
    cublasLtMatrixLayout_t l = nullptr;
    check(cublasLtMatrixLayoutCreate(&l, type, rows, cols, rows), "cublasLtMatrixLayoutCreate");
    set(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, static_cast<int32_t>(batch));
    set(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride);
    return l;
  };
  plan.a = trans_b ? layout(k, n, g.b_batch_stride) : layout(n, k, g.b_batch_stride);
  plan.b = trans_a ? layout(m, k, g.a_batch_stride) : layout(k, m, g.a_batch_stride);
  plan.c = layout(n, m, g.c_batch_stride);
  return plan;
}

int GemmPlans::candidates(const ShapeKey& key, int64_t batch, const GemmShape& g,
                          cublasLtMatmulHeuristicResult_t* results, int wanted, cublasLtEpilogue_t epilogue) const {
  const auto [dtype_code, tf32, trans_a, trans_b, m, n, k, align_a, align_b, align_c, per_replica] = key;
  Plan plan = make_plan(key, batch, g);
  if (epilogue != CUBLASLT_EPILOGUE_DEFAULT)
    check(cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue),
          "CUBLASLT_MATMUL_DESC_EPILOGUE");
  cublasLtMatmulPreference_t preference = nullptr;
  check(cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate");
  set(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, static_cast<uint64_t>(workspace_bytes_));
  set(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, static_cast<uint32_t>(align_b));
  set(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, static_cast<uint32_t>(align_a));
  set(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, static_cast<uint32_t>(align_c));
  set(preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, static_cast<uint32_t>(align_c));
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle_, plan.operation, plan.a, plan.b, plan.c, plan.c,
                                                                preference, wanted, results, &found);
  cublasLtMatmulPreferenceDestroy(preference);
  destroy(plan);
  return status == CUBLAS_STATUS_SUCCESS ? found : 0;
}

int64_t GemmPlans::inner_splits(DType dtype, const void* a, const void* b, const void* c, const GemmShape& g) {
  const ShapeKey key = key_of(dtype, a, b, c, g);
  if (auto known = splits_.find(key); known != splits_.end()) return known->second;
  cublasLtMatmulHeuristicResult_t best{};
  int splits = 1;
  if (candidates(key, std::get<10>(key), g, &best, 1) == 1)
    cublasLtMatmulAlgoConfigGetAttribute(&best.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splits, sizeof splits, nullptr);
  return splits_[key] = std::max(splits, 1);
}

namespace {
// The best candidate that runs on any batch count and does not split the inner dimension (a split is tuned
// to one batch count; long sums are split by CudaBackend::gemm instead), or null.
const cublasLtMatmulHeuristicResult_t* first_unsplit(const cublasLtMatmulHeuristicResult_t* results, int found) {
  for (int i = 0; i < found; ++i) {
    int splits = 1, batched = 0;
    cublasLtMatmulAlgoConfigGetAttribute(&results[i].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splits, sizeof splits,
                                         nullptr);
    cublasLtMatmulAlgoCapGetAttribute(&results[i].algo, CUBLASLT_ALGO_CAP_STRIDED_BATCH_SUPPORT, &batched,
                                      sizeof batched, nullptr);
    if (splits <= 1 && batched) return &results[i];
  }
  return nullptr;
}
}  // namespace

const cublasLtMatmulAlgo_t& GemmPlans::algorithm_for(const ShapeKey& key, const GemmShape& g) {
  if (auto known = algorithms_.find(key); known != algorithms_.end()) return known->second;
  const auto [dtype_code, tf32, trans_a, trans_b, m, n, k, align_a, align_b, align_c, per_replica] = key;
  constexpr int kCandidates = 16;
  cublasLtMatmulHeuristicResult_t results[kCandidates] = {};
  const int found = candidates(key, std::max<int64_t>(1, per_replica), g, results, kCandidates);
  const cublasLtMatmulHeuristicResult_t* chosen = first_unsplit(results, found);
  if (!chosen && found > 0) {  // the first, with its split undone
    const int one = 1;
    const uint32_t none = CUBLASLT_REDUCTION_SCHEME_NONE;
    cublasLtMatmulAlgoConfigSetAttribute(&results[0].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &one, sizeof one);
    cublasLtMatmulAlgoConfigSetAttribute(&results[0].algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &none, sizeof none);
    chosen = &results[0];
  }
  if (!chosen)
    throw std::runtime_error("cuBLASLt has no algorithm for the product " + std::to_string(m) + "x" + std::to_string(k) +
                             " @ " + std::to_string(k) + "x" + std::to_string(n));
  return algorithms_.emplace(key, chosen->algo).first->second;
}

const cublasLtMatmulAlgo_t& GemmPlans::batch_algorithm_for(const ShapeKey& key, const GemmShape& g) {
  const cublasLtMatmulAlgo_t& one_replica = algorithm_for(key, g);
  if (g.batch <= std::get<10>(key)) return one_replica;
  if (auto known = batch_algorithms_.find({key, g.batch}); known != batch_algorithms_.end()) return known->second;
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream_, &capturing), "cudaStreamIsCapturing");
  if (capturing != cudaStreamCaptureStatusNone) return one_replica;  // the check would synchronise; not cached
  constexpr int kCandidates = 8;
  cublasLtMatmulHeuristicResult_t results[kCandidates] = {};
  const cublasLtMatmulHeuristicResult_t* best = first_unsplit(results, candidates(key, g.batch, g, results, kCandidates));
  const bool faster = best && std::memcmp(&best->algo, &one_replica, sizeof one_replica) != 0 &&
                      same_bits(key, g, best->algo, one_replica);
  return batch_algorithms_.emplace(std::pair{key, g.batch}, faster ? best->algo : one_replica).first->second;
}

const GemmPlans::Plan& GemmPlans::plan_for(const ShapeKey& key, int64_t batch, const GemmShape& g) {
  auto planned = plans_.find({key, batch});
  if (planned == plans_.end()) planned = plans_.emplace(std::pair{key, batch}, make_plan(key, batch, g)).first;
  return planned->second;
}

cublasStatus_t GemmPlans::launch_by_replica(const ShapeKey& key, const GemmShape& g, const cublasLtMatmulAlgo_t& algorithm,
                                            DType dtype, double alpha, const void* a, const void* b, double beta, void* c) {
  const int64_t per_replica = std::get<10>(key), bytes = dtype == DType::f64 ? 8 : 4;
  const Plan& plan = plan_for(key, per_replica, g);
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  for (int64_t first = 0; first < g.batch && status == CUBLAS_STATUS_SUCCESS; first += per_replica)
    status = launch(plan, algorithm, dtype, alpha, static_cast<const char*>(a) + first * g.a_batch_stride * bytes,
                    static_cast<const char*>(b) + first * g.b_batch_stride * bytes, beta,
                    static_cast<char*>(c) + first * g.c_batch_stride * bytes);
  return status;
}

cublasStatus_t GemmPlans::launch(const Plan& plan, const cublasLtMatmulAlgo_t& algorithm, DType dtype, double alpha,
                                 const void* a, const void* b, double beta, void* c) {
  const float alpha32 = static_cast<float>(alpha), beta32 = static_cast<float>(beta);
  const bool f32 = dtype == DType::f32;
  return cublasLtMatmul(handle_, plan.operation, f32 ? static_cast<const void*>(&alpha32) : &alpha, b, plan.a, a,
                        plan.b, f32 ? static_cast<const void*>(&beta32) : &beta, c, plan.c, c, plan.c, &algorithm,
                        workspace_, workspace_bytes_, stream_);
}

GemmPlans::ShapeKey GemmPlans::key_of(DType dtype, const void* a, const void* b, const void* c,
                                      const GemmShape& g) const {
  const size_t bytes = dtype == DType::f64 ? 8 : 4;
  return {static_cast<int>(dtype), tf32_ && dtype == DType::f32, g.trans_a, g.trans_b, g.m, g.n, g.k,
          alignment_of(a, g.a_batch_stride, bytes), alignment_of(b, g.b_batch_stride, bytes),
          alignment_of(c, g.c_batch_stride, bytes), g.batch % replicas_ == 0 ? g.batch / replicas_ : g.batch};
}

void GemmPlans::run(DType dtype, const void* a, const void* b, void* c, const GemmShape& g) {
  const ShapeKey key = key_of(dtype, a, b, c, g);
  const bool by_replica = by_replica_.count({key, g.batch}) > 0;
  cublasStatus_t status = by_replica ? CUBLAS_STATUS_NOT_SUPPORTED
                                     : launch(plan_for(key, g.batch, g), batch_algorithm_for(key, g), dtype, g.alpha, a,
                                              b, g.beta, c);
  if (status != CUBLAS_STATUS_SUCCESS && g.batch > std::get<10>(key)) {
    // An algorithm can refuse a batch count that one replica's problem did not show it (seen: TF32, 2 replicas
    // of 50176x512 @ 512x128). One replica's algorithm on one replica's matrices at a time is what each seed
    // alone computes, so it gives the same bits.
    by_replica_.insert({key, g.batch});
    status = launch_by_replica(key, g, algorithm_for(key, g), dtype, g.alpha, a, b, g.beta, c);
  }
  if (status != CUBLAS_STATUS_SUCCESS) check(status, what(g).c_str());  // the message only when it failed
}
}  // namespace cuda

void CudaBackend::set_matmul_precision(MatmulPrecision precision) {
  gemm_plans_->set_tf32(precision == MatmulPrecision::tf32);
}

void CudaBackend::gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmShape& g) {
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  if (g.k == 0) {  // an empty sum: c = beta c
    if (g.beta == 0.0) fill(c, 0.0);
    else unary(UnaryOp::scale, c, c, g.beta);
    return;
  }
  if (product_log_) product_log_->push_back({a.dtype(), g});
  // c = a^T b with a (k, m) and b (k, n): consecutive rows of both are one more matrix of a strided batch,
  // so a long k is summed as `parts` products (one batch) whose results are added in order.
  const bool packed = g.a_batch_stride == g.k * g.m && g.b_batch_stride == g.k * g.n && g.c_batch_stride == g.m * g.n;
  int64_t parts = 1;
  if (g.trans_a && !g.trans_b && (g.beta == 0.0 || g.beta == 1.0) && packed) {
    // As many parts as cuBLASLt would split one replica's sum into, rounded to a power of two that
    // divides k and leaves each part at least 32 terms.
    const int64_t splits = gemm_plans_->inner_splits(a.dtype(), a.raw(), b.raw(), c.raw(), g);
    while (2 * parts <= splits && g.k % (2 * parts) == 0 && g.k / (2 * parts) >= 32) parts *= 2;
  }
  if (parts == 1) {
    gemm_plans_->run(a.dtype(), a.raw(), b.raw(), c.raw(), g);
    return;
  }
  GemmShape part = g;
  part.batch = g.batch * parts;
  part.k = g.k / parts;
  part.a_batch_stride = part.k * g.m;
  part.b_batch_stride = part.k * g.n;
  part.beta = 0.0;
  Tensor partial = Tensor::empty({part.batch * g.m * g.n}, a.dtype(), Device::cuda);
  gemm_plans_->run(a.dtype(), a.raw(), b.raw(), partial.raw(), part);
  if (g.beta == 0.0) {
    sum_mid(partial, g.batch, parts, g.m * g.n, c);
    return;
  }
  Tensor total = Tensor::empty({g.batch * g.m * g.n}, a.dtype(), Device::cuda);  // c += the sum (beta = 1)
  sum_mid(partial, g.batch, parts, g.m * g.n, total);
  strided_copy(total, StridedView::contiguous(total.shape()), c, StridedView::contiguous(total.shape()), true);
}

}  // namespace mechlab
