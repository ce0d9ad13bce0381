// The CPU backend: Eigen for matrix products, oneTBB for parallel loops over fixed chunks.
#pragma once
#include <map>
#include <mutex>
#include <vector>

#include "backend/backend.h"

namespace mechlab {

class CpuBackend final : public Backend {
 public:
  ~CpuBackend() override;
  void* allocate(size_t bytes) override;
  void release(void* data, size_t bytes) override;
  double available_bytes() const override;
  size_t live_bytes() const override;
  size_t peak_live_bytes() const override;
  void reset_peak() override;
  void copy_from_host(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;

  void fill(Tensor& out, double value) override;
  void convert(const Tensor& x, Tensor& out) override;
  void strided_copy(const Tensor& x, const StridedView& view_x, Tensor& out, const StridedView& view_out,
                    bool accumulate) override;

  void gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmShape& shape) override;
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
  // Training repeats the same shapes every step; reusing freed blocks by size avoids page faults.
  std::mutex cache_mutex_;
  std::multimap<size_t, void*> free_blocks_;
  size_t live_bytes_ = 0, peak_live_bytes_ = 0;
};

}  // namespace mechlab
