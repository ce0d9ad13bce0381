// Products through cuBLASLt, each matrix of a batch summed in the same order however many replicas share it.
//
// cuBLAS picks its kernel (tile, split-K) from the whole problem, batch count included, so replica r of a
// packed run (batch R) and the same seed alone (batch 1) were summed in different orders and drifted
// apart in the last bits. Here the algorithm is chosen once per (dtype, precision, transposes, m, n, k,
// alignment, batch per replica) from cuBLASLt's heuristic and then used for any number of replicas: each
// matrix of a batch is computed by the same kernel in the same order, so packing changes no bit. No
// algorithm here splits the inner dimension (a split runs on one batch count, not on others); where the
// heuristic would split one replica's sum, CudaBackend::gemm cuts it into that many parts itself, as one
// more batch, and adds the parts in a fixed order.
// One replica's algorithm is tuned to a small problem (small tiles); a packed batch runs faster with the
// tiles the heuristic picks for the whole batch. Such an algorithm is used only where it gives one
// replica's bits: checked once per shape and batch count on synthetic operands (gemm_plans_check.cu).
// Where cuBLASLt refuses a packed call, the batch runs one replica's matrices at a time.
// gemm_plans_fastest.cu times every candidate of a product, to measure how far the plans are from cuBLASLt's best.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "backend/backend.h"

namespace mechlab::cuda {

class GemmPlans {
 public:
  GemmPlans(cudaStream_t stream, void* workspace, size_t workspace_bytes);
  ~GemmPlans();
  GemmPlans(const GemmPlans&) = delete;
  GemmPlans& operator=(const GemmPlans&) = delete;

  void set_tf32(bool on) { tf32_ = on; }
  void set_replica_count(int64_t replicas) { replicas_ = replicas > 0 ? replicas : 1; }
  // Row-major c = alpha op(a) op(b) + beta c for every matrix of the batch (shapes as in GemmShape).
  void run(DType dtype, const void* a, const void* b, void* c, const GemmShape& g);
  // How many parts cuBLASLt's heuristic would split the inner dimension of one replica's product into.
  int64_t inner_splits(DType dtype, const void* a, const void* b, const void* c, const GemmShape& g);
  // mechlab_bench --products: the fastest of cuBLASLt's candidates for g's whole batch (split or not, bits
  // not kept), in milliseconds per product over `repeats` launches on the operands given; 0 if none runs.
  double fastest_ms(DType dtype, const void* a, const void* b, void* c, const GemmShape& g, int repeats);
  // How many algorithms cuBLASLt's heuristic offers for g with `epilogue` (a bias added, a bias gradient summed,
  // ...) fused in: whether such a fusion is available at this precision at all.
  int epilogue_candidates(DType dtype, const void* a, const void* b, const void* c, const GemmShape& g,
                          cublasLtEpilogue_t epilogue) const;

 private:
  // What the algorithm depends on: everything but the batch count, which enters only as the batch per
  // replica that the heuristic is asked about.
  using ShapeKey = std::tuple<int, bool, bool, bool, int64_t, int64_t, int64_t, int, int, int, int64_t>;
  struct Plan {
    cublasLtMatmulDesc_t operation = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  };
  ShapeKey key_of(DType dtype, const void* a, const void* b, const void* c, const GemmShape& g) const;
  Plan make_plan(const ShapeKey& key, int64_t batch, const GemmShape& g) const;
  static void destroy(Plan& plan);
  // The heuristic's best algorithms (at most `wanted`) for `batch` matrices of the key's shape.
  int candidates(const ShapeKey& key, int64_t batch, const GemmShape& g, cublasLtMatmulHeuristicResult_t* results,
                 int wanted, cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT) const;
  // The algorithm of one replica's problem, and the one for g.batch matrices (see the top of this file).
  const cublasLtMatmulAlgo_t& algorithm_for(const ShapeKey& key, const GemmShape& g);
  const cublasLtMatmulAlgo_t& batch_algorithm_for(const ShapeKey& key, const GemmShape& g);
  // Whether `batched` on two replicas' matrices at once gives the bits of `one_replica` on each replica's
  // matrices alone, on synthetic operands of g's shape.
  bool same_bits(const ShapeKey& key, const GemmShape& g, const cublasLtMatmulAlgo_t& batched,
                 const cublasLtMatmulAlgo_t& one_replica);
  const Plan& plan_for(const ShapeKey& key, int64_t batch, const GemmShape& g);
  cublasStatus_t launch(const Plan& plan, const cublasLtMatmulAlgo_t& algorithm, DType dtype, double alpha,
                        const void* a, const void* b, double beta, void* c);
  // `algorithm` on g.batch matrices, one replica's at a time, as each seed alone runs it.
  cublasStatus_t launch_by_replica(const ShapeKey& key, const GemmShape& g, const cublasLtMatmulAlgo_t& algorithm,
                                   DType dtype, double alpha, const void* a, const void* b, double beta, void* c);

  cudaStream_t stream_;
  void* workspace_;
  size_t workspace_bytes_;
  bool tf32_ = false;
  int64_t replicas_ = 1;
  cublasLtHandle_t handle_ = nullptr;
  std::map<ShapeKey, cublasLtMatmulAlgo_t> algorithms_;
  std::map<std::pair<ShapeKey, int64_t>, cublasLtMatmulAlgo_t> batch_algorithms_;  // by shape and batch count
  std::set<std::pair<ShapeKey, int64_t>> by_replica_;  // shapes and batch counts whose batched call was refused
  std::map<ShapeKey, int64_t> splits_;
  std::map<std::pair<ShapeKey, int64_t>, Plan> plans_;  // by shape and batch count
};

}  // namespace mechlab::cuda
