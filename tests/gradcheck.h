// Finite-difference gradient checking in double precision, shared by the op and model tests.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mechlab::testing {

struct GradCheckResult {
  double max_relative_error = 0.0;  // over inputs: max |analytic - numeric| / max |numeric|
  std::string worst_input;
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d(sum(f(inputs) * W))/d(inputs) for a fixed random W against central differences with step h.
// Inputs must be f64 leaves; they are perturbed in place and restored.
GradCheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const std::vector<std::string>& names,
                          double h = 1e-6);

// f64 tensor with entries uniform in [-1, 1], pushed away from (-floor, floor) to avoid kinks.
Tensor random_tensor(const Shape& shape, uint32_t stream_step, double floor = 0.0, DType dtype = DType::f64);

}  // namespace mechlab::testing
