// The interventions Guo et al. use to test what each part of a trained Bigram-Backcopy model does, applied
// at evaluation through activation hooks: the general zero ablations of analysis/interventions.h (one head, every
// head of a layer when it has several, a layer's MLP) and this study's own two, zeroing the BOS value state of a
// layer and the BOS residual state after a layer.
#pragma once
#include <vector>

#include "analysis/interventions.h"
#include "nn/transformer_config.h"

namespace mechlab {

// Every intervention that applies to a model of this shape, layer by layer.
std::vector<Intervention> bigram_backcopy_interventions(const TransformerConfig& config);

}  // namespace mechlab
