// Learning-rate schedules, as a factor of the base rate at a given (0-based) step.
#pragma once
#include <cstdint>

namespace mechlab {

enum class ScheduleKind { constant, warmup_cosine };

// warmup_cosine: linear from 0 to 1 over warmup_steps (step + 1) / warmup_steps, then a half cosine
// from 1 down to min_factor at total_steps, and min_factor after.
struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;
  double min_factor = 0.0;

  double factor(int64_t step) const;
};

}  // namespace mechlab
