// Weight circuits of every attention head (Elhage et al. 2021, TransformerLens names): QK_h = scale W_Q W_K^T,
// OV_h = W_V W_O, the full OV circuit W_E OV_h W_U on tokens and its copying score. Biases and LayerNorms
// are left out, as in the paper: these read what the weights do, not what a forward pass computes.
#pragma once
#include "nn/transformer.h"

namespace mechlab {

// (R, H, D, D): scores are x_q^T QK_h x_k, so the factor is score_scale(), the coefficient the pattern sees.
// Ops only, on the model's device and dtype. Throws std::invalid_argument for a layer without attention.
Tensor head_qk(const Transformer& model, int layer);
// (R, H, D, D_out): what a key position's residual writes through head h; D_out = d_output for the last
// layer of an output = heads model, D otherwise.
Tensor head_ov(const Transformer& model, int layer);

// Host f64 (R, H, V, V): W_E OV_h W_U, token in to logit out (row = source token). Needs token input and
// logits output; LayerNorms, positions and biases are ignored.
Tensor full_ov_circuits(const Transformer& model, int layer);
// Host f64 (R, H): sum of the full OV circuit's eigenvalues / sum of their moduli; +1 for a head that copies
// every token, -1 for one that suppresses it (NaN for an all-zero circuit).
Tensor ov_copy_scores(const Transformer& model, int layer);

}  // namespace mechlab
