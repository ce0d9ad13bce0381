#include "io/usable_cores.h"

#include <sched.h>

#include <thread>

namespace mechlab {

std::vector<int> usable_cores() {
  std::vector<int> cores;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &mask)) cores.push_back(cpu);
  if (cores.empty())
    for (int cpu = 0; cpu < static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); ++cpu) cores.push_back(cpu);
  return cores;
}

}  // namespace mechlab
