// The training loop of one run: sample -> forward -> loss -> backward -> step -> record, for all
// replicas at once, with evaluations, probe dumps and checkpoints on their schedules.
#pragma once
#include <atomic>
#include <stdexcept>

#include "config/run_config.h"
#include "io/run_directory.h"
#include "task/task.h"

namespace mechlab {

// A loss went NaN or infinite; the checkpoints written before stay.
class TrainingDiverged : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class TrainingOutcome { finished, interrupted };

class Trainer {
 public:
  Trainer(const RunConfig& run, const Task& task, RunDirectory& directory);
  // Trains from step 0, or from the directory's resume point, up to train.steps, then writes the summaries.
  // Checks `stop` after every step: when set, writes a checkpoint and returns interrupted (also when it is
  // set after the last step, before the summaries).
  TrainingOutcome train(const std::atomic<bool>& stop);

 private:
  const RunConfig& run_;
  const Task& task_;
  RunDirectory& directory_;
};

}  // namespace mechlab
