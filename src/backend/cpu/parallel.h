// Parallel loops over fixed chunks. Every chunk's result depends only on the chunk, and chunk bounds
// depend only on the problem size, so results are bitwise identical for any thread count.
#pragma once
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include <cstdint>

namespace mechlab::cpu {

// Calls body(begin, end) over [0, n) in chunks of at most `grain`.
template <typename Body> void parallel_chunks(int64_t n, int64_t grain, Body&& body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  if (n <= grain) {
    body(int64_t{0}, n);
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<int64_t>(0, n, grain),
      [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); }, tbb::simple_partitioner());
}

// A grain that gives each chunk about `work` elements when one item costs `item_size`.
inline int64_t grain_for(int64_t item_size, int64_t work = 1 << 15) {
  return item_size >= work ? 1 : work / (item_size > 0 ? item_size : 1);
}

}  // namespace mechlab::cpu
