#include "tasks/bigram_backcopy/interventions.h"

#include <fmt/format.h>

namespace mechlab {

std::vector<Intervention> bigram_backcopy_interventions(const TransformerConfig& c) {
  std::vector<Intervention> all;
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string block = fmt::format("blocks.{}", l);
    if (c.layer(l).attention) {
      for (int h = 0; h < c.n_heads; ++h) all.push_back(zero_head(l, h));
      if (c.n_heads > 1) all.push_back(zero_heads(l));
      // The BOS token sits at position 0, axis 2 of hook_v (R, B, T, H, E).
      all.push_back(zero_at_index(fmt::format("zero_bos_value.L{}", l), block + ".attn.hook_v", 2, 0));
    }
    if (c.layer(l).mlp && c.d_mlp > 0) all.push_back(zero_mlp(l));
    all.push_back(zero_at_index(fmt::format("zero_bos_resid.L{}", l), block + ".hook_resid_post", 2, 0));  // (R, B, T, D)
  }
  return all;
}

}  // namespace mechlab
