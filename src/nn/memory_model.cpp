#include "nn/memory_model.h"

#include <algorithm>

namespace mechlab {

double activation_bytes(const TransformerConfig& c, double sequences, double T, bool backward) {
  const double D = c.d_model, H = c.n_heads, E = c.head_width(), M = c.d_mlp;
  const double V = c.output == OutputKind::logits ? c.d_vocab : c.d_output;
  const double input = c.input == InputKind::vectors ? c.d_input : c.input == InputKind::token_pairs ? 2 : 1;
  const double outside = T * (4 * D + 3 * V + input);  // embeddings, the residual, the logits and their loss
  // A forward pass without gradients holds one layer's tensors at once (freed once the next layer has its
  // input): q, k, v and their head-major copies, scores, pattern, the MLP's hidden layer twice.
  const double attention = T * (6 * D + 8 * H * E) + 3 * H * T * T, mlp = c.d_mlp > 0 ? T * (4 * D + 3 * M) : 0.0;
  // A training step keeps, per layer, only what the backward closures captured (the residual and the
  // normalised input, the head-major q, k, v and z, the pattern, and the scores for ReLU attention; the
  // MLP's hidden layer before its activation, the activated one being recomputed), and adds gradients of about
  // the same size.
  const double pattern_and_scores = is_relu_attention(c.attention) ? 2 * H * T * T : H * T * T;
  const double attention_saved = T * (2 * D + 4 * H * E) + pattern_and_scores;
  const double mlp_saved = c.d_mlp > 0 ? T * (2 * D + M) : 0.0;
  double saved = 0.0, widest_layer = 0.0;
  for (int l = 0; l < c.n_layers; ++l) {
    const bool has_attention = c.layer(l).attention, has_mlp = c.layer(l).mlp;
    saved += (has_attention ? attention_saved : 0.0) + (has_mlp ? mlp_saved : 0.0);
    widest_layer = std::max(widest_layer, (has_attention ? attention : 0.0) + (has_mlp ? mlp : 0.0));
  }
  const double per_sequence = backward ? 2.0 * (outside + saved) : outside + widest_layer;
  return sequences * per_sequence * 4.0;
}

}  // namespace mechlab
