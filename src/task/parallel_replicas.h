// Host work spread over the cores: drawing a batch's examples, and summarising an evaluation or writing a
// dump replica by replica. Each example and each replica's output depends only on its own inputs, so the
// results are bitwise the same for any thread count (train.threads bounds the cores used).
#pragma once
#include <tbb/parallel_for.h>

#include <cstdint>

#include "backend/cpu/parallel.h"

namespace mechlab {

// body(begin, end) for chunks of the rows [0, rows) of a batch, one row per (replica, example).
template <typename Body> void for_example_chunks(int64_t rows, Body&& body) {
  constexpr int64_t kRowsPerChunk = 16;  // an example costs microseconds: enough to amortise a task
  cpu::parallel_chunks(rows, kRowsPerChunk, body);
}

// fn(r) for every replica r in [0, replicas).
template <typename Fn> void for_each_replica(int64_t replicas, Fn&& fn) {
  if (replicas == 1) {
    fn(int64_t{0});
    return;
  }
  tbb::parallel_for(int64_t{0}, replicas, [&](int64_t r) { fn(r); });
}

}  // namespace mechlab
