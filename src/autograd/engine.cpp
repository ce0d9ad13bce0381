#include "autograd/engine.h"

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
thread_local bool grad_enabled = true;

// The nodes reachable from `root` through the edges, each after every node that consumes its output.
std::vector<std::shared_ptr<Node>> consumers_first_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> post_order;
  std::unordered_set<const Node*> seen{root.get()};
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (!node->backward)
      throw std::logic_error(std::string("backward through ") + node->op + " a second time: its graph was freed");
    if (next_input < node->inputs.size()) {
      const std::shared_ptr<Node>& child = node->inputs[next_input++].node;
      if (child && seen.insert(child.get()).second) stack.push_back({child, 0});
    } else {
      post_order.push_back(std::move(node));
      stack.pop_back();
    }
  }
  return {post_order.rbegin(), post_order.rend()};
}

void accumulate(Tensor& slot, const Tensor& contribution) {
  // Sums are formed out of place: a backward may hand the same tensor to several inputs.
  slot = slot.defined() ? add(slot, contribution) : contribution;
}
}  // namespace

bool grad_mode_enabled() { return grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(grad_enabled) { grad_enabled = false; }
NoGradGuard::~NoGradGuard() { grad_enabled = previous_; }

Tensor record(Tensor out, const char* op, const std::vector<Tensor>& inputs, BackwardFn backward) {
  if (!grad_enabled) return out;
  std::vector<Edge> edges(inputs.size());
  bool needs_grad = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    if (!input.defined() || !input.requires_grad()) continue;
    needs_grad = true;
    edges[i].shape = input.shape();
    if (input.grad_fn()) edges[i].node = input.grad_fn();
    else edges[i].leaf = input;
  }
  if (!needs_grad) return out;
  out.set_requires_grad(true);
  out.set_grad_fn(std::make_shared<Node>(Node{op, std::move(edges), std::move(backward)}));
  return out;
}

void run_backward(const Tensor& loss) {
  if (loss.numel() != 1) throw std::invalid_argument("backward() needs a one-element loss, got " + to_string(loss.shape()));
  if (!loss.requires_grad()) throw std::invalid_argument("backward(): the loss does not depend on any parameter");
  NoGradGuard no_grad;
  const Tensor one = Tensor::full(loss.shape(), 1.0, loss.dtype(), loss.device());
  if (!loss.grad_fn()) {  // the loss is itself a leaf
    accumulate(loss.impl()->grad, one);
    return;
  }
  // Gradients not yet sent on: of nodes' outputs, and of leaves (added to grad() at the end, each in the
  // order its contributions arrived).
  std::unordered_map<const Node*, Tensor> pending;
  std::vector<std::pair<Tensor, Tensor>> leaves;  // (leaf, its summed gradient)
  std::unordered_map<TensorImpl*, size_t> leaf_slot;
  pending[loss.grad_fn().get()] = one;
  // The graph is freed as it is walked, as torch's backward does without retain_graph: once a node has run,
  // its closure (with the activations it saved) and its edges go, even where a caller still holds its output.
  std::vector<std::shared_ptr<Node>> order = consumers_first_order(loss.grad_fn());
  for (std::shared_ptr<Node>& entry : order) {
    const std::shared_ptr<Node> node = std::move(entry);
    auto found = pending.find(node.get());
    if (found == pending.end()) continue;  // nothing flowed here
    const Tensor dout = std::move(found->second);
    pending.erase(found);
    const BackwardFn backward = std::move(node->backward);
    const std::vector<Edge> inputs = std::move(node->inputs);
    node->backward = nullptr;
    node->inputs.clear();
    std::vector<Tensor> dinputs = backward(dout);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Edge& input = inputs[i];
      if (!input.defined() || i >= dinputs.size() || !dinputs[i].defined()) continue;
      if (dinputs[i].shape() != input.shape)
        throw std::logic_error(std::string("backward of ") + node->op + " returned shape " +
                               to_string(dinputs[i].shape()) + " for input " + to_string(input.shape));
      if (input.node) {
        accumulate(pending[input.node.get()], dinputs[i]);
        continue;
      }
      auto [slot, added] = leaf_slot.try_emplace(input.leaf.impl(), leaves.size());
      if (added) leaves.push_back({input.leaf, Tensor()});
      accumulate(leaves[slot->second].second, dinputs[i]);
    }
  }
  for (auto& [leaf, gradient] : leaves) accumulate(leaf.impl()->grad, gradient);
}

}  // namespace mechlab
