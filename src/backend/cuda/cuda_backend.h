// The CUDA backend: a kernel for every Backend operation, cuBLASLt batched products with one algorithm per
// shape (gemm_plans.h), one stream.
// Reductions use fixed thread-to-data maps and fixed trees (no atomic accumulation; an arrival counter
// only picks which block adds a column sum's partials, in a fixed order), so two runs on the same GPU give
// bitwise identical results. Memory comes from best-fit pools of cudaMalloc'd segments (block_pool.h); while
// a CUDA graph is being captured, blocks come from (and return to) that graph's private pool, so replays own
// their memory. One stream orders every kernel, so a block freed during a capture is safe to reuse in it.
#pragma once
#include <cuda_runtime.h>

#include <array>
#include <map>
#include <memory>
#include <utility>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/block_pool.h"
#include "backend/cuda/gemm_plans.h"

namespace mechlab {

class CudaBackend final : public Backend {
 public:
  CudaBackend();
  ~CudaBackend() override;

  cudaStream_t stream() const { return stream_; }
  // Allocations until end_pool() come from pool `id` (> 0); memory of a pool is never handed elsewhere.
  void begin_pool(int id);
  void end_pool();
  // Frees the blocks cached in the shared pool (after a capture, the warm-up's blocks are not needed).
  void trim();

  void* allocate(size_t bytes) override;
  double available_bytes() const override;
  size_t live_bytes() const override;
  size_t peak_live_bytes() const override;
  void reset_peak() override;
  void release(void* data, size_t bytes) override;
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;

  void fill(Tensor& out, double value) override;
  void convert(const Tensor& x, Tensor& out) override;
  void strided_copy(const Tensor& x, const StridedView& view_x, Tensor& out, const StridedView& view_out,
                    bool accumulate) override;

  void gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmShape& shape) override;
  void set_matmul_precision(MatmulPrecision precision) override;
  void set_replica_count(int64_t replicas) override { gemm_plans_->set_replica_count(replicas); }
  // mechlab_bench --products: while a log is set, gemm() appends every product it is asked for; time_product
  // times one on synthetic operands as gemm() runs it and at cuBLASLt's fastest algorithm for its whole batch
  // (gemm_plans_fastest.cu), in milliseconds per product, and counts the algorithms that would fuse a bias into
  // it (BIAS) or sum its B operand's columns as a bias gradient (BGRADB).
  using ProductLog = std::vector<std::pair<DType, GemmShape>>;
  struct ProductTiming {
    double ms = 0, fastest_ms = 0;
    int bias_algorithms = 0, bias_gradient_algorithms = 0;
  };
  void log_products(ProductLog* log) { product_log_ = log; }
  ProductTiming time_product(DType dtype, const GemmShape& g, int repeats);
  void binary(BinaryOp op, const Tensor& a, const StridedView& view_a, const Tensor& b, const StridedView& view_b,
              Tensor& out) override;
  void unary(UnaryOp op, const Tensor& x, Tensor& out, double scalar) override;
  void unary_backward(UnaryOp op, const Tensor& x, const Tensor& dout, Tensor& dx, double scalar) override;
  void sum_mid(const Tensor& x, int64_t outer, int64_t mid, int64_t inner, Tensor& out) override;

  void gather_rows(const Tensor& table, const Tensor& ids, Tensor& out) override;
  void scatter_add_rows(const Tensor& dout, const Tensor& ids, Tensor& dtable) override;

  void attention_pattern(AttentionKind kind, bool exclude_self, const Tensor& scores, Tensor& pattern) override;
  void attention_pattern_backward(AttentionKind kind, bool exclude_self, const Tensor& scores, const Tensor& pattern,
                                  const Tensor& dpattern, Tensor& dscores) override;

  bool supports_fused_attention(DType dtype, int64_t head_width) const override;
  void allow_fused_attention(bool allowed) override { fused_attention_allowed_ = allowed; }
  void fused_attention(AttentionKind kind, bool exclude_self, double scale, const Tensor& q, const Tensor& k,
                       const Tensor& v, Tensor& z, Tensor& lse) override;
  void fused_attention_backward(AttentionKind kind, bool exclude_self, double scale, const Tensor& q, const Tensor& k,
                                const Tensor& v, const Tensor& z, const Tensor& lse, const Tensor& dz, Tensor& dq,
                                Tensor& dk, Tensor& dv) override;

  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor& out,
                  Tensor& stats) override;
  void layer_norm_backward(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& dout, Tensor& dx,
                           Tensor& dout_xhat) override;

  void cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& loss, Tensor& lse) override;
  void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse, const Tensor& dloss,
                              Tensor& dlogits) override;

  void sum_squares_per_replica(const std::vector<Tensor>& xs, Tensor& out) override;
  void clip_scales(const Tensor& squares, double clip_norm, Tensor& scales) override;
  void adam_update(const std::vector<OptimizerSlot>& slots, const Tensor& step_values, const Tensor& grad_scale,
                   const AdamStep& step) override;
  void sgd_update(const std::vector<OptimizerSlot>& slots, const Tensor& step_values, const Tensor& grad_scale,
                  const SgdStep& step) override;

 private:
  cudaStream_t stream_ = nullptr;
  bool fused_attention_allowed_ = false;  // train.fused_attention
  void* cublas_workspace_ = nullptr;
  std::unique_ptr<cuda::GemmPlans> gemm_plans_;
  ProductLog* product_log_ = nullptr;
  mutable std::mutex mutex_;
  size_t live_bytes_ = 0, peak_live_bytes_ = 0;
  int current_pool_ = 0;                                // 0: the shared cache
  std::map<int, std::unique_ptr<BlockPool>> pools_;     // pool id -> its blocks
  std::unordered_map<void*, int> owner_;                // live block -> pool id

  // Pinned host buffers that make small host-to-device copies asynchronous (see copy_from_host).
  struct StagingSlot {
    void* host = nullptr;
    size_t capacity = 0;
    cudaEvent_t ready = nullptr;  // recorded after the slot's last copy
  };
  static constexpr size_t kStagingBytes = 64u << 20;
  std::array<StagingSlot, 8> staging_;
  size_t next_staging_ = 0;

  // Arrival counters of the column sums (see reduce.cu), zero between launches.
  static constexpr int64_t kArrivalCounters = 1 << 16;
  unsigned* arrivals_ = nullptr;
};

// The process's CUDA backend, or nullptr when no GPU is usable.
CudaBackend* cuda_backend();

}  // namespace mechlab
