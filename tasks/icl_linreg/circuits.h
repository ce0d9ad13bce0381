// The weight circuits of a one-layer attention model on in-context regression (He et al. 2025): per head,
// KQ_h = scale W_Q W_K^T (query features by key features; the scores are z_q^T KQ_h z_l, so omega is the
// coefficient the softmax sees, as in the study)
// and OV_h = W_V W_O W_U, the weights with which each feature of a key token reaches each of the K outputs.
// Trained heads have KQ_h ~ omega_h I on the x-block and OV_h ~ mu_h on the y entry only.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "nn/transformer.h"

namespace mechlab {

// (R, H, D, D) and (R, H, D, K): layer 0's head_qk and head_ov (analysis/circuits.h), OV times W_U when the
// model has a readout; ops only (graph-recordable).
Tensor kq_circuits(const Transformer& model);
Tensor ov_circuits(const Transformer& model);

// Summaries of one head, d = D - 1 the width of x:
struct HeadCircuit {
  double omega = 0.0;            // mean of the x-block diagonal of KQ
  double diag_spread = 0.0;      // standard deviation of that diagonal / |omega|
  double offdiag_ratio = 0.0;    // largest |KQ| off that diagonal in the query's x rows / |omega|
  double mu = 0.0;               // OV's y entry
  double last_entry_ratio = 0.0; // |mu| / largest |OV| x entry
};
// One output (K = 1): kq D * D values row-major, ov D values.
HeadCircuit summarize_head(const float* kq, const float* ov, int64_t D);

}  // namespace mechlab
