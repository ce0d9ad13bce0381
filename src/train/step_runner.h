// Runs training steps. On CUDA the whole step (forward, backward, optimizer) is captured once as a CUDA
// graph and replayed while shapes stay the same: a small model's step is hundreds of tiny kernels, and a
// graph launches them without the per-kernel host overhead.
#pragma once
#include <memory>

#include "nn/transformer.h"
#include "optim/optimizer.h"
#include "task/task.h"

namespace mechlab {

class StepRunner {
 public:
  // use_graph: capture and replay on CUDA (ignored on the CPU).
  StepRunner(const Transformer& model, Optimizer& optimizer, bool use_graph);
  ~StepRunner();
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;

  // One optimisation step on `batch` (host or device tensors). Returns the per-replica losses (R) on the
  // model's device; reading them waits for the step, launching the next one does not.
  Tensor step(const Batch& batch);

 private:
  struct Graph;
  Tensor body();  // the work of one step on the static batch

  const Transformer& model_;
  Optimizer& optimizer_;
  bool use_graph_;
  int64_t eager_steps_ = 0;
  Batch static_batch_;  // device copies the step reads
  Tensor losses_;
  std::unique_ptr<Graph> graph_;
};

}  // namespace mechlab
