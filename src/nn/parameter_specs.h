// The parameters a TransformerConfig declares: TransformerLens names, shapes without the replica axis, and
// how each starts. The Transformer allocates them; the memory check counts them without allocating.
#pragma once
#include <string>
#include <vector>

#include "nn/transformer_config.h"
#include "tensor/shape.h"

namespace mechlab {

enum class ParameterRole { embedding, matrix, bias, norm_weight, norm_bias };

struct ParameterSpec {
  std::string name;
  Shape shape;
  ParameterRole role;
  int64_t fan_in;  // for the pytorch initialisation (0 where it does not apply)
};

// In the order the model holds them (and checkpoints store them).
std::vector<ParameterSpec> parameter_specs(const TransformerConfig& c);
// Parameters of one replica, in elements.
int64_t parameter_count(const TransformerConfig& c);

}  // namespace mechlab
