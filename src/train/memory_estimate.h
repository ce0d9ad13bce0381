// Before anything is written: the memory a run needs on its device, from its shapes, against what the
// device has free. A run that cannot fit is refused with the key to change and the numbers, instead of
// ending in std::bad_alloc half-way through writing its directory.
#pragma once
#include <string>
#include <vector>

#include "config/run_config.h"
#include "task/task.h"

namespace mechlab {

// The parts of a run's peak memory: parameters with their gradients and optimizer state, a training step's
// activations, the evaluation batch, the probe dumps and what the task's own analyses hold.
std::vector<MemoryPart> estimate_memory(const RunConfig& run, const Task& task);

// Throws ConfigError naming the key of the largest part when the sum exceeds what the run's device has
// available: "train.batch_size: the run needs about 48.2 GiB (...) but 21.3 GiB is available; lower it".
void check_memory(const RunConfig& run, const Task& task);

// 1.5 KiB, 12.0 MiB, 48.2 GiB.
std::string bytes_text(double bytes);

}  // namespace mechlab
