// Every op through a double-precision finite-difference gradient check. Adding an op adds one row.
// Tolerance: finite_difference_error (gradcheck.h) below 1e-6 for every input; measured values are
// 1e-11 to 1e-9 with central differences of step 1e-6.
#include <doctest/doctest.h>

#include "autograd/grad_mode.h"
#include "gradcheck.h"
#include "ops/ops.h"

using namespace mechlab;
using mechlab::testing::gradcheck;
using mechlab::testing::random_tensor;

namespace {
constexpr double kTolerance = 1e-6;

struct OpCase {
  const char* name;
  std::vector<Shape> input_shapes;
  mechlab::testing::TensorFn fn;
  double floor = 0.0;  // keep inputs at least this far from 0 (ops with a kink there)
};

Tensor ids(const Shape& shape, std::vector<int32_t> values) { return Tensor::from_vector<int32_t>(shape, values); }
Tensor constant(const Shape& shape, double value) { return Tensor::full(shape, value, DType::f64); }

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"matmul", {{3, 4, 5}, {3, 5, 2}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul A^T", {{2, 5, 4}, {2, 5, 3}}, [](auto& x) { return matmul(x[0], x[1], true, false); }},
      {"matmul B^T", {{2, 4, 5}, {2, 3, 5}}, [](auto& x) { return matmul(x[0], x[1], false, true); }},
      {"matmul A^T B^T", {{2, 5, 4}, {2, 3, 5}}, [](auto& x) { return matmul(x[0], x[1], true, true); }},
      {"batched matmul (R, H, B)", {{2, 3, 2, 4, 5}, {2, 3, 2, 5, 4}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul tall (several row tiles)", {{1, 130, 3}, {1, 3, 2}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"add", {{2, 3, 4}, {2, 3, 4}}, [](auto& x) { return add(x[0], x[1]); }},
      {"add broadcast trailing", {{2, 3, 4}, {4}}, [](auto& x) { return add(x[0], x[1]); }},
      {"add broadcast both", {{2, 1, 4}, {1, 3, 1}}, [](auto& x) { return add(x[0], x[1]); }},
      {"sub broadcast", {{2, 3, 4}, {3, 1}}, [](auto& x) { return sub(x[0], x[1]); }},
      {"mul", {{2, 3, 4}, {2, 3, 4}}, [](auto& x) { return mul(x[0], x[1]); }},
      {"mul broadcast replica axis", {{2, 3, 4}, {2, 1, 1}}, [](auto& x) { return mul(x[0], x[1]); }},
      {"div broadcast", {{2, 3, 4}, {3, 1}}, [](auto& x) { return div(x[0], add(x[1], constant({3, 1}, 3.0))); }},
      {"scale", {{2, 3, 4}}, [](auto& x) { return scale(x[0], -1.7); }},
      {"relu", {{2, 3, 4}}, [](auto& x) { return relu(x[0]); }, 0.05},
      {"gelu", {{2, 3, 4}}, [](auto& x) { return gelu(scale(x[0], 3.0)); }},
      {"square", {{2, 3, 4}}, [](auto& x) { return square(x[0]); }},
      {"sum axis", {{2, 3, 4}}, [](auto& x) { return sum(x[0], {1}); }},
      {"sum non-adjacent axes keepdim", {{2, 3, 4}}, [](auto& x) { return sum(x[0], {0, 2}, true); }},
      {"sum all", {{2, 3, 4}}, [](auto& x) { return sum(x[0], {0, 1, 2}); }},
      {"mean last axis", {{2, 3, 4}}, [](auto& x) { return mean(x[0], {-1}); }},
      {"reshape", {{2, 3, 4}}, [](auto& x) { return reshape(x[0], {4, -1}); }},
      {"permute", {{2, 3, 4}}, [](auto& x) { return permute(x[0], {2, 0, 1}); }},
      {"transpose", {{2, 3, 4, 5}}, [](auto& x) { return transpose(x[0], 1, 3); }},
      {"slice", {{2, 5, 3}}, [](auto& x) { return slice(x[0], 1, 1, 4); }},
      {"concat", {{2, 2, 3}, {2, 4, 3}}, [](auto& x) { return concat({x[0], x[1]}, 1); }},
      {"broadcast_to", {{3, 1}}, [](auto& x) { return broadcast_to(x[0], {2, 3, 4}); }},
      {"embedding (repeated ids)", {{2, 5, 3}},
       [](auto& x) { return embedding(x[0], ids({2, 4}, {0, 3, 3, 1, 4, 4, 4, 2})); }},
      {"attention softmax", {{2, 3, 5, 5}}, [](auto& x) { return attention_pattern(scale(x[0], 3.0), AttentionKind::softmax); }},
      {"attention relu", {{2, 3, 5, 5}}, [](auto& x) { return attention_pattern(x[0], AttentionKind::relu); }, 0.05},
      {"attention linear", {{2, 3, 5, 5}}, [](auto& x) { return attention_pattern(x[0], AttentionKind::linear); }},
      {"layer_norm", {{2, 3, 6}}, [](auto& x) { return layer_norm(x[0]); }},
      {"layer_norm weight bias", {{2, 3, 6}, {6}, {6}}, [](auto& x) { return layer_norm(x[0], x[1], x[2]); }},
      {"layer_norm weight only", {{2, 3, 6}, {6}}, [](auto& x) { return layer_norm(x[0], x[1], Tensor()); }},
      {"token_cross_entropy", {{2, 3, 7}},
       [](auto& x) { return token_cross_entropy(scale(x[0], 3.0), ids({2, 3}, {0, 6, 2, 2, 5, 1})); }},
      {"cross_entropy masked", {{2, 3, 7}},
       [](auto& x) {
         Tensor mask = Tensor::from_vector<double>({2, 3}, {1, 0, 1, 0, 1, 1});
         return cross_entropy(scale(x[0], 3.0), ids({2, 3}, {0, 6, 2, 2, 5, 1}), mask);
       }},
      {"mse", {{2, 3, 4}, {2, 3, 4}}, [](auto& x) { return mse(x[0], x[1]); }},
  };
  return cases;
}
}  // namespace

TEST_CASE("every op's gradient matches central finite differences in double precision") {
  for (const OpCase& op : op_cases()) {
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
