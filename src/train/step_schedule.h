// Which steps get an evaluation, a dump or a checkpoint.
#pragma once
#include <cstdint>
#include <vector>

namespace mechlab {

// 0, every, 2 every, ... and `last`.
std::vector<int64_t> every_n_steps(int64_t every, int64_t last);
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
std::vector<int64_t> scheduled_steps(const StepSchedule& schedule, int64_t last);

}  // namespace mechlab
