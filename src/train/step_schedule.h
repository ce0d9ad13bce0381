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

}  // namespace mechlab
