// Evaluates a task on a fixed batch. On CUDA the device phase (forward with hooks and every tensor the
// metrics need) is recorded once as a CUDA graph and replayed at later evaluations; the host phase then
// summarises copies of its tensors.
#pragma once
#include <memory>

#include "backend/recorded_work.h"
#include "train/phase_times.h"
#include "task/task.h"

namespace mechlab {

class EvalRunner {
 public:
  // batch on the model's device; use_graph: record and replay on CUDA (ignored on the CPU).
  EvalRunner(const Transformer& model, const Task& task, Batch batch, bool use_graph);
  // The device phase and the copies are timed as "evaluation forward", the host phase as "evaluation summaries".
  std::vector<Metrics> evaluate(PhaseTimes* times = nullptr);

 private:
  const Transformer& model_;
  const Task& task_;
  Batch batch_, host_batch_;
  bool use_graph_;
  int64_t eager_runs_ = 0;
  std::unique_ptr<RecordedWork> graph_;
  Task::EvaluationTensors tensors_;  // written by the device phase (graph memory once recorded)
};

}  // namespace mechlab
