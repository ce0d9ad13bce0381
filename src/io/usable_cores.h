// The cores this process may run on: its CPU affinity mask (what Slurm, taskset or a sweep's local launcher
// gives it), not every core of the machine. The default thread count of a run.
#pragma once
#include <vector>

namespace mechlab {

// The ids of the CPUs in this process's affinity mask (all online CPUs if it cannot be read).
std::vector<int> usable_cores();

}  // namespace mechlab
