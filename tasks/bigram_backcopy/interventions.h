// The interventions Guo et al. use to test what each part of a trained Bigram-Backcopy model does,
// applied at evaluation through activation hooks: zero one head's output, zero every head of a layer (when it
// has several), zero a layer's MLP output, zero the BOS value state of a layer, zero the BOS residual state
// after a layer.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "nn/hook_points.h"
#include "nn/transformer_config.h"

namespace mechlab {

struct Intervention {
  std::string label;  // e.g. "zero_head.L0H0", "zero_heads.L0", "zero_mlp.L1", "zero_bos_value.L0"
  std::function<void(ActivationHooks&)> install;  // registers the replacement on a fresh hook set
};

// Every intervention that applies to a model of this shape, layer by layer.
std::vector<Intervention> bigram_backcopy_interventions(const TransformerConfig& config);

}  // namespace mechlab
