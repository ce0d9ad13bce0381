// Walks N strided operands over a common shape (collapsed by collapse_dims), handing the body one
// innermost row at a time with each operand's starting offset and stride.
#pragma once
#include <array>

#include "backend/backend.h"
#include "backend/collapse_dims.h"
#include "backend/cpu/parallel.h"

namespace mechlab::cpu {

template <size_t N> struct StridedLoop {
  Shape shape;  // collapsed; never empty
  std::array<std::vector<int64_t>, N> strides;
  std::array<int64_t, N> offsets;

  explicit StridedLoop(const std::array<const StridedView*, N>& views) {
    CollapsedDims<N> c = collapse_dims<N>(views);
    shape = std::move(c.shape);
    strides = std::move(c.strides);
    offsets = c.offsets;
  }

  // body(offsets, length, inner_strides) for each innermost row, rows spread over threads.
  template <typename Body> void run(Body&& body) const {
    const int ndim = static_cast<int>(shape.size());
    const int64_t inner = shape.back();
    int64_t rows = 1;
    for (int d = 0; d < ndim - 1; ++d) rows *= shape[d];
    if (inner == 0 || rows == 0) return;
    std::array<int64_t, N> inner_strides;
    for (size_t k = 0; k < N; ++k) inner_strides[k] = strides[k].back();
    parallel_chunks(rows, grain_for(inner), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        std::array<int64_t, N> at = offsets;
        int64_t rest = row;
        for (int d = ndim - 2; d >= 0; --d) {
          int64_t index = rest % shape[d];
          rest /= shape[d];
          for (size_t k = 0; k < N; ++k) at[k] += index * strides[k][d];
        }
        body(at, inner, inner_strides);
      }
    });
  }
};

}  // namespace mechlab::cpu
