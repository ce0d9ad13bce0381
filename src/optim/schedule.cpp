#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

namespace mechlab {

double Schedule::factor(int64_t step) const {
  if (kind == ScheduleKind::constant) return 1.0;
  if (step < warmup_steps) return static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const int64_t decay_steps = std::max<int64_t>(total_steps - warmup_steps, 1);
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(decay_steps));
  return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace mechlab
