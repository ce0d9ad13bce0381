// Shapes are plain vectors of extents; tensors are always contiguous and row-major.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mechlab {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
// Row-major strides in elements.
std::vector<int64_t> contiguous_strides(const Shape& shape);
std::string to_string(const Shape& shape);
// Maps a possibly negative axis into [0, ndim); throws on out of range.
int normalize_axis(int axis, int ndim);

}  // namespace mechlab
