// Which steps get an evaluation, a dump or a checkpoint. Schedules answer "is step s due?" rather than
// listing steps, so a run of 10^12 steps that evaluates every step costs no memory.
#pragma once
#include <cstdint>
#include <vector>

namespace mechlab {

// 0, then `points` steps spaced evenly in log(step) over [1, last] (rounded, duplicates removed), and
// `last`: dense early, where mechanisms form, sparse later.
std::vector<int64_t> log_spaced_steps(int64_t points, int64_t last);

// The union of three rules, so that one schedule can be dense while a mechanism forms and sparse after:
// every `every` steps; every `dense_every` steps below `dense_until` (0: none); `log_points` log-spaced
// steps (0: none). Step 0 and the last step are always included.
struct StepSchedule {
  int64_t every = 100;
  int64_t dense_every = 20;
  int64_t dense_until = 0;
  int64_t log_points = 0;
};

// A schedule over a run of `last` steps.
class StepPlan {
 public:
  StepPlan(const StepSchedule& schedule, int64_t last);
  bool contains(int64_t step) const;

 private:
  StepSchedule schedule_;
  int64_t last_;
  std::vector<int64_t> log_steps_;  // sorted
};

}  // namespace mechlab
