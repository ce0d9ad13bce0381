// What each example of a batch is, named so analyses never re-derive it by parsing tokens back: positions
// by role (the trigger, the token a copy reads, the query) and tokens by role (the answer, the wrong answer a
// corruption puts there), sets of positions by role (the bigram positions), and labels of each example (its
// template, its order). Tensors live on the host.
#pragma once
#include <map>
#include <string>

#include "tensor/tensor.h"

namespace mechlab {

struct Annotations {
  std::map<std::string, Tensor> positions;  // role -> (R, B) position index in [0, T)
  std::map<std::string, Tensor> tokens;     // role -> (R, B) token id in [0, V)
  std::map<std::string, Tensor> masks;      // role -> (R, B, T) f32, 1 at the positions of the role
  std::map<std::string, Tensor> labels;     // name -> (R, B) i32, what kind of example it is (its template)

  // The tensor of `role`; throws std::invalid_argument naming the role when the batch does not carry it.
  const Tensor& position(const std::string& role) const;
  const Tensor& token(const std::string& role) const;
  const Tensor& mask(const std::string& role) const;
};

}  // namespace mechlab
