#include "ops/broadcast.h"

#include <stdexcept>

namespace mechlab {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t ea = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t eb = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (ea != eb && ea != 1 && eb != 1)
      throw std::invalid_argument(std::string(op) + ": shapes " + to_string(a) + " and " + to_string(b) +
                                  " do not broadcast");
    out[i] = ea == 1 ? eb : ea;
  }
  return out;
}

StridedView broadcast_view(const Shape& x_shape, const Shape& out) {
  std::vector<int64_t> x_strides = contiguous_strides(x_shape);
  std::vector<int64_t> strides(out.size(), 0);
  size_t lead = out.size() - x_shape.size();
  for (size_t i = 0; i < x_shape.size(); ++i)
    strides[lead + i] = x_shape[i] == out[lead + i] ? x_strides[i] : 0;
  return {out, strides, 0};
}

void check_same_kind(const Tensor& a, const Tensor& b, const char* op) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(std::string(op) + ": dtypes differ (" + dtype_name(a.dtype()) + " vs " +
                                dtype_name(b.dtype()) + ")");
  if (a.device() != b.device())
    throw std::invalid_argument(std::string(op) + ": tensors on different devices");
}

}  // namespace mechlab
