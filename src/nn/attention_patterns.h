// One forward pass that also returns every layer's attention pattern, for the task metrics and probes that read
// where heads look (hop scores, role scores, sink attention).
#pragma once
#include <vector>

#include "nn/transformer.h"

namespace mechlab {

struct OutputsAndPatterns {
  Tensor outputs;                 // the model's output, as forward returns it
  std::vector<Tensor> patterns;   // per layer, blocks.<l>.attn.hook_pattern (R, B, H, T, T); undefined without attention
};

OutputsAndPatterns forward_with_patterns(const Transformer& model, const Tensor& inputs);

}  // namespace mechlab
