#include "train/step_schedule.h"

#include <algorithm>
#include <cmath>

namespace mechlab {

std::vector<int64_t> log_spaced_steps(int64_t points, int64_t last) {
  std::vector<int64_t> steps{0};
  for (int64_t i = 0; i < points; ++i) {
    const double fraction = points > 1 ? static_cast<double>(i) / static_cast<double>(points - 1) : 1.0;
    steps.push_back(std::llround(std::exp(fraction * std::log(static_cast<double>(last)))));
  }
  steps.push_back(last);
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

StepPlan::StepPlan(const StepSchedule& schedule, int64_t last)
    : schedule_(schedule), last_(last), log_steps_(schedule.log_points > 0 ? log_spaced_steps(schedule.log_points, last)
                                                                          : std::vector<int64_t>{}) {}

bool StepPlan::contains(int64_t step) const {
  if (step == 0 || step == last_ || step % schedule_.every == 0) return true;
  if (step < schedule_.dense_until && step % schedule_.dense_every == 0) return true;
  return std::binary_search(log_steps_.begin(), log_steps_.end(), step);
}

}  // namespace mechlab
