// Finite-difference gradient checking in double precision, shared by the op and model tests.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mechlab::testing {

struct GradCheckResult {
  double max_relative_error = 0.0;  // worst over inputs of finite_difference_error
  std::string worst_input;
};

// For one f64 leaf: max |analytic - numeric| / max(max |numeric|, 1e-2), with numeric from central
// differences of `loss` (step h) while the leaf is perturbed in place. The 1e-2 floor keeps a gradient
// that is exactly zero (b_K under softmax) from turning finite-difference noise (about 1e-9) into a
// relative error of 1; a real mistake on gradients of that scale still shows as 1e-3 or more.
double finite_difference_error(const std::function<double()>& loss, Tensor leaf, const std::vector<double>& analytic,
                               double h = 1e-6);

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d(sum(f(inputs) * W))/d(inputs) for a fixed random W against central differences with step h.
// Inputs must be f64 leaves; they are perturbed in place and restored.
GradCheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const std::vector<std::string>& names,
                          double h = 1e-6);

// f64 tensor with entries uniform in [-1, 1], pushed away from (-floor, floor) to avoid kinks.
Tensor random_tensor(const Shape& shape, uint32_t stream_step, double floor = 0.0, DType dtype = DType::f64);

}  // namespace mechlab::testing
