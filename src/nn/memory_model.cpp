#include "nn/memory_model.h"

#include <algorithm>

namespace mechlab {

double activation_bytes(const TransformerConfig& c, double sequences, double T, bool backward) {
  const double D = c.d_model, H = c.n_heads, E = c.head_width(), M = c.d_mlp;
  const double V = c.output == OutputKind::logits ? c.d_vocab : c.d_output;
  const double input = c.input == InputKind::vectors ? c.d_input : c.input == InputKind::token_pairs ? 2 : 1;
  const double outside = T * (4 * D + 3 * V + input);  // embeddings, the residual, the logits and their loss
  const double attention = T * (6 * D + 8 * H * E) + 3 * H * T * T, mlp = c.d_mlp > 0 ? T * (4 * D + 3 * M) : 0.0;
  double all_layers = 0.0, widest_layer = 0.0;
  for (int l = 0; l < c.n_layers; ++l) {
    const double layer = (c.layer(l).attention ? attention : 0.0) + (c.layer(l).mlp ? mlp : 0.0);
    all_layers += layer;
    widest_layer = std::max(widest_layer, layer);
  }
  // A backward pass keeps every saved activation and adds gradients of about the same size; a forward
  // pass without gradients frees each layer's tensors once the next layer has its input.
  const double per_sequence = backward ? 2.0 * (outside + all_layers) : outside + widest_layer;
  return sequences * per_sequence * 4.0;
}

}  // namespace mechlab
