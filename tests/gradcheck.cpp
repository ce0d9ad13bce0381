#include "gradcheck.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "ops/ops.h"
#include "random/philox.h"

namespace mechlab::testing {

Tensor random_tensor(const Shape& shape, uint32_t stream_step, double floor, DType dtype) {
  Philox rng(12345, 0, RandomStream::data, stream_step);
  std::vector<double> values(numel(shape));
  for (size_t i = 0; i < values.size(); ++i) {
    double u = 2.0 * rng.uniform(i) - 1.0;
    if (std::abs(u) < floor) u = u < 0 ? u - floor : u + floor;
    values[i] = u;
  }
  return Tensor::from_vector<double>(shape, values).to(dtype);
}

double finite_difference_error(const std::function<double()>& loss, Tensor leaf, const std::vector<double>& analytic,
                               double h) {
  double* x = leaf.data<double>();
  double max_diff = 0.0, max_numeric = 0.0;
  for (int64_t j = 0; j < leaf.numel(); ++j) {
    const double saved = x[j];
    x[j] = saved + h;
    const double plus = loss();
    x[j] = saved - h;
    const double minus = loss();
    x[j] = saved;
    const double numeric = (plus - minus) / (2 * h);
    max_diff = std::max(max_diff, std::abs(numeric - analytic[j]));
    max_numeric = std::max(max_numeric, std::abs(numeric));
  }
  return max_diff / std::max(max_numeric, 1e-2);
}

GradCheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const std::vector<std::string>& names,
                          double h) {
  for (const Tensor& input : inputs) {
    input.zero_grad();
    const_cast<Tensor&>(input).set_requires_grad(true);
  }
  Tensor out = f(inputs);
  const Tensor weights = random_tensor(out.shape(), 999);
  auto all_axes = [](const Tensor& t) {
    std::vector<int> axes(t.ndim());
    for (int i = 0; i < t.ndim(); ++i) axes[i] = i;
    return axes;
  };
  Tensor loss = sum(mul(out, weights), all_axes(out));
  loss.backward();

  GradCheckResult result;
  NoGradGuard no_grad;
  auto perturbed_loss = [&] {
    Tensor y = f(inputs);
    return sum(mul(y, weights), all_axes(y)).item();
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    std::vector<double> analytic = input.grad().defined() ? input.grad().to_vector<double>()
                                                          : std::vector<double>(input.numel(), 0.0);
    const double error = finite_difference_error(perturbed_loss, input, analytic, h);
    if (error >= result.max_relative_error) {
      result.max_relative_error = error;
      result.worst_input = names.size() > i ? names[i] : "input " + std::to_string(i);
    }
  }
  return result;
}

}  // namespace mechlab::testing
