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

// Tensors reachable from `root` through grad_fn, each after everything that consumes it.
std::vector<Tensor> consumers_first_order(const Tensor& root) {
  std::vector<Tensor> post_order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<Tensor, size_t>> stack{{root, 0}};
  seen.insert(root.impl());
  while (!stack.empty()) {
    auto& [tensor, next_input] = stack.back();
    TensorImpl* impl = tensor.impl();
    const auto& inputs = impl->grad_fn ? impl->grad_fn->inputs : std::vector<Tensor>{};
    if (next_input < inputs.size()) {
      const Tensor& child = inputs[next_input++];  // undefined for an optional input left out
      if (child.defined() && child.requires_grad() && seen.insert(child.impl()).second) stack.push_back({child, 0});
    } else {
      post_order.push_back(std::move(tensor));
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

Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!grad_enabled) return out;
  bool needs_grad = false;
  for (const Tensor& input : inputs) needs_grad = needs_grad || (input.defined() && input.requires_grad());
  if (!needs_grad) return out;
  out.set_requires_grad(true);
  out.set_grad_fn(std::make_shared<Node>(Node{op, std::move(inputs), std::move(backward)}));
  return out;
}

void run_backward(const Tensor& loss) {
  if (loss.numel() != 1) throw std::invalid_argument("backward() needs a one-element loss, got " + to_string(loss.shape()));
  if (!loss.requires_grad()) throw std::invalid_argument("backward(): the loss does not depend on any parameter");
  NoGradGuard no_grad;
  std::unordered_map<TensorImpl*, Tensor> pending;  // gradients of non-leaf tensors not yet propagated
  pending[loss.impl()] = Tensor::full(loss.shape(), 1.0, loss.dtype(), loss.device());
  // The graph is freed as it is walked, as torch's backward does without retain_graph: a tensor's node (with
  // the activations its backward saved) goes once the node has run, and the walk's own reference to the
  // tensor goes with it, so activations are released during backward instead of after it.
  std::vector<Tensor> order = consumers_first_order(loss);
  for (Tensor& tensor : order) {
    const Tensor here = std::move(tensor);
    TensorImpl* impl = here.impl();
    auto found = pending.find(impl);
    if (found == pending.end()) continue;  // nothing flowed here
    Tensor dout = std::move(found->second);
    pending.erase(found);
    if (!impl->grad_fn) {
      accumulate(impl->grad, dout);
      continue;
    }
    const std::shared_ptr<Node> owned = std::move(impl->grad_fn);
    const Node& node = *owned;
    std::vector<Tensor> dinputs = node.backward(dout);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Tensor& input = node.inputs[i];
      if (!input.defined() || !input.requires_grad() || !dinputs[i].defined()) continue;
      if (dinputs[i].shape() != input.shape())
        throw std::logic_error(std::string("backward of ") + node.op + " returned shape " +
                               to_string(dinputs[i].shape()) + " for input " + to_string(input.shape()));
      accumulate(pending[input.impl()], dinputs[i]);
    }
  }
}

}  // namespace mechlab
