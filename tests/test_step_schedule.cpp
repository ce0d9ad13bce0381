// Evaluation and checkpoint schedules: the union of every-N, dense-early and log-spaced rules.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "train/step_schedule.h"

using namespace mechlab;

namespace {
// The steps 0..last that a schedule holds.
std::vector<int64_t> listed(const StepSchedule& schedule, int64_t last) {
  const StepPlan plan(schedule, last);
  std::vector<int64_t> steps;
  for (int64_t s = 0; s <= last; ++s)
    if (plan.contains(s)) steps.push_back(s);
  return steps;
}
}  // namespace

TEST_CASE("step schedules: every N only") {
  CHECK(listed({300, 20, 0, 0}, 1000) == std::vector<int64_t>{0, 300, 600, 900, 1000});
}

TEST_CASE("step schedules: dense below dense_until, every N after") {
  CHECK(listed({500, 20, 100, 0}, 1000) == std::vector<int64_t>{0, 20, 40, 60, 80, 500, 1000});
  // dense_until past the end stops at the last step.
  CHECK(listed({1000, 300, 5000, 0}, 1000) == std::vector<int64_t>{0, 300, 600, 900, 1000});
}

TEST_CASE("step schedules: log points merge in, sorted and without duplicates") {
  const std::vector<int64_t> steps = listed({100000, 20, 1000, 30}, 100000);
  std::vector<int64_t> expected = log_spaced_steps(30, 100000);
  for (int64_t s = 0; s < 1000; s += 20) expected.push_back(s);
  expected.push_back(100000);
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  CHECK(steps == expected);
  // Dense below 1k (50 steps), then the log-spaced ones above it: about a third of 30 lie past 1000.
  const auto above = std::count_if(steps.begin(), steps.end(), [](int64_t s) { return s > 1000; });
  CHECK(above >= 9);
  CHECK(above <= 12);
}

TEST_CASE("step schedules: a run of 10^12 steps evaluated at every step needs no list of them") {
  const StepPlan plan({1, 20, 0, 0}, 1000000000000);
  CHECK(plan.contains(999999999999));
  const StepPlan sparse({1000000000000, 20, 0, 1000}, 1000000000000);
  CHECK(sparse.contains(1000000000000));
  CHECK_FALSE(sparse.contains(999999999999));
}
