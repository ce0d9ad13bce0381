// Every op of the table (op_cases.cpp) through a double-precision finite-difference gradient check.
// Tolerance: finite_difference_error (gradcheck.h) below 1e-6 for every input; measured values are
// 1e-11 to 1e-9 with central differences of step 1e-6.
#include <doctest/doctest.h>

#include "autograd/grad_mode.h"
#include "gradcheck.h"
#include "op_cases.h"
#include "ops/ops.h"

using namespace mechlab;
using mechlab::testing::gradcheck;
using mechlab::testing::random_tensor;

namespace {
constexpr double kTolerance = 1e-6;
}  // namespace

TEST_CASE("every op's gradient matches central finite differences in double precision") {
  for (const mechlab::testing::OpCase& op : mechlab::testing::op_cases()) {
    std::vector<Tensor> inputs;
    std::vector<std::string> names;
    for (size_t i = 0; i < op.input_shapes.size(); ++i) {
      inputs.push_back(random_tensor(op.input_shapes[i], static_cast<uint32_t>(100 + i), op.floor));
      names.push_back("input " + std::to_string(i));
    }
    auto result = gradcheck(op.fn, inputs, names);
    INFO(std::string(op.name) << ": relative error " << result.max_relative_error << " at " << result.worst_input);
    CHECK(result.max_relative_error < kTolerance);
  }
}

TEST_CASE("a tensor used by several ops accumulates every gradient") {
  Tensor x = random_tensor({3, 4}, 7);
  x.set_requires_grad(true);
  // y = sum(x * x + 3x) -> dy/dx = 2x + 3
  Tensor y = sum(add(mul(x, x), scale(x, 3.0)), {0, 1});
  y.backward();
  auto values = x.to_vector<double>();
  auto grads = x.grad().to_vector<double>();
  for (size_t i = 0; i < values.size(); ++i) CHECK(grads[i] == doctest::Approx(2 * values[i] + 3).epsilon(1e-14));
}

TEST_CASE("a permute that keeps the memory order is a view, any other a copy") {
  const Tensor x = random_tensor({2, 3, 1, 4}, 9);
  const Tensor heads_first = permute(x, {0, 2, 1, 3});  // (2, 1, 3, 4): one head moved ahead of 3 positions
  CHECK(heads_first.shape() == Shape{2, 1, 3, 4});
  CHECK(heads_first.raw() == x.raw());
  CHECK(heads_first.to_vector<double>() == x.to_vector<double>());
  const Tensor swapped = permute(x, {1, 0, 2, 3});
  CHECK(swapped.raw() != x.raw());
  CHECK(swapped.to_vector<double>()[4] == x.to_vector<double>()[12]);  // swapped[0][1] is x[1][0]
}

TEST_CASE("evaluation mode records nothing") {
  Tensor w = random_tensor({3, 3}, 8);
  w.set_requires_grad(true);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = matmul(reshape(w, {1, 3, 3}), reshape(w, {1, 3, 3}));
  }
  CHECK_FALSE(y.requires_grad());
  CHECK(y.grad_fn() == nullptr);
}

TEST_CASE("ops report bad shapes with both shapes in the message") {
  Tensor a = random_tensor({2, 3}, 1), b = random_tensor({4, 5}, 2);
  CHECK_THROWS_WITH_AS(add(a, b), "add: shapes (2, 3) and (4, 5) do not broadcast", std::invalid_argument);
  CHECK_THROWS_WITH_AS(matmul(a, b), "matmul: inner dims differ: (2, 3) @ (4, 5)", std::invalid_argument);
  CHECK_THROWS_AS(embedding(random_tensor({1, 4, 2}, 3), Tensor::from_vector<int32_t>({1, 2}, {0, 9})),
                  std::out_of_range);
}
