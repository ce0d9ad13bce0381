#include "tasks/icl_linreg/circuits.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "analysis/circuits.h"
#include "ops/ops.h"

namespace mechlab {

Tensor kq_circuits(const Transformer& model) { return head_qk(model, 0); }

Tensor ov_circuits(const Transformer& model) {
  const Tensor vo = head_ov(model, 0);  // (R, H, D, D), or (R, H, D, K)
  if (!model.has_parameter("unembed.W_U")) return vo;                // the heads write the output themselves
  const Tensor& W_U = model.parameter("unembed.W_U");                 // (R, D, K)
  const int64_t R = vo.dim(0), H = vo.dim(1), D = vo.dim(2), K = W_U.dim(2);
  return matmul(vo, broadcast_to(reshape(W_U, {R, 1, D, K}), {R, H, D, K}));
}

HeadCircuit summarize_head(const float* kq, const float* ov, int64_t D) {
  const int64_t d = D - 1;
  HeadCircuit c;
  double sum = 0.0, sum_sq = 0.0, offdiag = 0.0, ov_x = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    sum += kq[i * D + i];
    sum_sq += static_cast<double>(kq[i * D + i]) * kq[i * D + i];
    for (int64_t j = 0; j < D; ++j)
      if (j != i) offdiag = std::max(offdiag, static_cast<double>(std::abs(kq[i * D + j])));
    ov_x = std::max(ov_x, static_cast<double>(std::abs(ov[i])));
  }
  c.omega = sum / static_cast<double>(d);
  const double variance = std::max(0.0, sum_sq / static_cast<double>(d) - c.omega * c.omega);
  const double scale = std::abs(c.omega) > 0.0 ? std::abs(c.omega) : std::numeric_limits<double>::quiet_NaN();
  c.diag_spread = std::sqrt(variance) / scale;
  c.offdiag_ratio = offdiag / scale;
  c.mu = ov[d];
  c.last_entry_ratio = ov_x > 0.0 ? std::abs(c.mu) / ov_x : std::numeric_limits<double>::infinity();
  return c;
}

}  // namespace mechlab
