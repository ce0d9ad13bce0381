// A tensor with its name: model parameters, optimizer state and checkpoint entries.
#pragma once
#include <string>

#include "tensor/tensor.h"

namespace mechlab {

struct NamedTensor {
  std::string name;  // e.g. "blocks.0.attn.W_Q"
  Tensor value;
};

}  // namespace mechlab
