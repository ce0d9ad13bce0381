// A node of the tape: the op that produced a tensor, its inputs, and how to send a gradient back to them.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "tensor/tensor.h"

namespace mechlab {

// Given d(loss)/d(output), returns d(loss)/d(input) for each input (undefined where not needed).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& dout)>;

struct Node {
  const char* op;
  std::vector<Tensor> inputs;
  BackwardFn backward;
};

// Attaches a node to `out` when grad mode is on and some input requires a gradient; returns `out`.
// The closure must not capture `out` itself (use out.detach()), or the tape would own itself.
Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward);

}  // namespace mechlab
