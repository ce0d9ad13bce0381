// A node of the tape: the op that produced a tensor, where its inputs came from, and how to send a gradient
// back to them.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "tensor/tensor.h"

namespace mechlab {

// Given d(loss)/d(output), returns d(loss)/d(input) for each input (undefined where not needed).
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& dout)>;

struct Node;

// Where an input's gradient goes: the node that produced it, or the leaf itself (a parameter, a gate) whose
// grad() accumulates it. An edge never holds an intermediate value: as in torch, an activation stays alive
// only while a backward closure captured it, not because some op read it.
struct Edge {
  std::shared_ptr<Node> node;
  Tensor leaf;
  Shape shape;
  bool defined() const { return node || leaf.defined(); }
};

struct Node {
  const char* op;
  std::vector<Edge> inputs;  // one per input of the op; undefined for an input that needs no gradient
  BackwardFn backward;       // empty once it has run (the graph is freed as backward walks it)
};

// Attaches a node to `out` when grad mode is on and some input requires a gradient; returns `out`.
// The closure must not capture `out` itself (use out.detach()), or the tape would own itself.
Tensor record(Tensor out, const char* op, const std::vector<Tensor>& inputs, BackwardFn backward);

}  // namespace mechlab
