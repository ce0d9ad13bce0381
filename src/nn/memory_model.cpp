#include "nn/memory_model.h"

namespace mechlab {

double activation_bytes(const TransformerConfig& c, double sequences, double T, bool backward) {
  const double D = c.d_model, H = c.n_heads, E = c.head_width(), M = c.d_mlp;
  const double V = c.output == OutputKind::logits ? c.d_vocab : c.d_output;
  const double input = c.input == InputKind::vectors ? c.d_input : 1;
  double per_sequence = T * (4 * D + 3 * V + input);  // embeddings, the residual, the logits and their loss
  for (int l = 0; l < c.n_layers; ++l) {
    if (c.layer(l).attention) per_sequence += T * (6 * D + 8 * H * E) + 3 * H * T * T;
    if (c.layer(l).mlp && c.d_mlp > 0) per_sequence += T * (4 * D + 3 * M);
  }
  // A backward pass keeps every saved activation and adds gradients of about the same size; a forward
  // pass without gradients frees each tensor once the next one is computed, so it holds about two layers.
  const double factor = backward ? 2.0 : 2.0 / std::max(1, c.n_layers);
  return sequences * per_sequence * factor * 4.0;
}

}  // namespace mechlab
