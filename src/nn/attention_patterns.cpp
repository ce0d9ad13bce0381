#include "nn/attention_patterns.h"

#include <fmt/format.h>

namespace mechlab {

OutputsAndPatterns forward_with_patterns(const Transformer& model, const Tensor& inputs) {
  const TransformerConfig& c = model.config();
  ActivationHooks hooks;
  for (int l = 0; l < c.n_layers; ++l)
    if (c.layer(l).attention) hooks.capture(fmt::format("blocks.{}.attn.hook_pattern", l));
  OutputsAndPatterns out{model.forward(inputs, &hooks), std::vector<Tensor>(c.n_layers)};
  for (int l = 0; l < c.n_layers; ++l)
    if (c.layer(l).attention) out.patterns[l] = hooks.get(fmt::format("blocks.{}.attn.hook_pattern", l));
  return out;
}

}  // namespace mechlab
