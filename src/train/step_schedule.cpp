#include "train/step_schedule.h"

#include <algorithm>
#include <cmath>

namespace mechlab {

std::vector<int64_t> every_n_steps(int64_t every, int64_t last) {
  std::vector<int64_t> steps;
  for (int64_t s = 0; s < last; s += every) steps.push_back(s);
  steps.push_back(last);
  return steps;
}

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

std::vector<int64_t> scheduled_steps(const StepSchedule& schedule, int64_t last) {
  std::vector<int64_t> steps = every_n_steps(schedule.every, last);
  for (int64_t s = 0; s < std::min(schedule.dense_until, last); s += schedule.dense_every) steps.push_back(s);
  if (schedule.log_points > 0) {
    const std::vector<int64_t> logs = log_spaced_steps(schedule.log_points, last);
    steps.insert(steps.end(), logs.begin(), logs.end());
  }
  std::sort(steps.begin(), steps.end());
  steps.erase(std::unique(steps.begin(), steps.end()), steps.end());
  return steps;
}

}  // namespace mechlab
