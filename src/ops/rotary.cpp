// Rotary position embedding (Su et al. 2021) in the half-split form of GPT-NeoX and Hugging Face's LLaMA:
// feature i of the first half and feature i + E/2 are rotated together by angle t * base^(-2i/E). Composed
// of ops the backends already have, so its gradient (a rotation by the opposite angle) comes from theirs.
#include <cmath>
#include <stdexcept>

#include "ops/ops.h"

namespace mechlab {

Tensor rotary(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  const int axis = x.ndim() - 1;
  const int64_t E = x.dim(-1);
  const int axes = cos.ndim();  // the table covers x's last `axes` axes: (T, E), or (T, 1, E) over heads
  bool fits = E % 2 == 0 && (axes == 2 || axes == 3) && x.ndim() >= axes && sin.shape() == cos.shape() &&
              cos.dim(-1) == E && cos.dim(-axes) == x.dim(-axes);
  if (fits && axes == 3) fits = cos.dim(-2) == 1;
  if (!fits)
    throw std::invalid_argument("rotary: x (..., T, E) with E even and tables (T, E), or x (..., T, H, E) and tables "
                                "(T, 1, E), got " + to_string(x.shape()) + " and " + to_string(cos.shape()));
  const Tensor turned = concat({scale(slice(x, axis, E / 2, E), -1.0), slice(x, axis, 0, E / 2)}, axis);
  return add(mul(x, cos), mul(turned, sin));
}

std::pair<Tensor, Tensor> rotary_tables(int64_t first, int64_t last, int64_t E, double base, DType dtype, Device device) {
  std::vector<double> c((last - first) * E), s((last - first) * E);
  for (int64_t t = first; t < last; ++t)
    for (int64_t i = 0; i < E; ++i) {
      const double angle = static_cast<double>(t) * std::pow(base, -static_cast<double>(2 * (i % (E / 2))) / E);
      c[(t - first) * E + i] = std::cos(angle);
      s[(t - first) * E + i] = std::sin(angle);
    }
  auto table = [&](const std::vector<double>& v) {
    return Tensor::from_vector<double>({last - first, E}, v).to(dtype).to(device);
  };
  return {table(c), table(s)};
}

}  // namespace mechlab
