// Simplifies the common shape of N strided views before a kernel walks it: drops axes of extent 1 and
// merges neighbouring axes that are contiguous for every view. Shared by the CPU and CUDA backends.
#pragma once
#include <array>

#include "backend/backend.h"

namespace mechlab {

template <size_t N> struct CollapsedDims {
  Shape shape;  // never empty
  std::array<std::vector<int64_t>, N> strides;
  std::array<int64_t, N> offsets;
};

template <size_t N> CollapsedDims<N> collapse_dims(const std::array<const StridedView*, N>& views) {
  CollapsedDims<N> c;
  const Shape& full = views[0]->shape;
  for (size_t k = 0; k < N; ++k) c.offsets[k] = views[k]->offset;
  for (size_t axis = 0; axis < full.size(); ++axis) {
    if (full[axis] == 1) continue;
    bool merge = !c.shape.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = c.strides[k].back() == views[k]->strides[axis] * full[axis];
    if (merge) {
      c.shape.back() *= full[axis];
      for (size_t k = 0; k < N; ++k) c.strides[k].back() = views[k]->strides[axis];
    } else {
      c.shape.push_back(full[axis]);
      for (size_t k = 0; k < N; ++k) c.strides[k].push_back(views[k]->strides[axis]);
    }
  }
  if (c.shape.empty()) {
    c.shape.push_back(1);
    for (size_t k = 0; k < N; ++k) c.strides[k].push_back(0);
  }
  return c;
}

}  // namespace mechlab
