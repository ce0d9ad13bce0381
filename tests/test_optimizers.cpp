// Optimizers against values computed by hand from PyTorch's documented update rules (torch.optim.SGD,
// Adam, AdamW; clip_grad_norm_), three steps on p0 = [0.5, -1, 2] with gradients g1, g2, g3, lr 0.1.
#include <doctest/doctest.h>

#include "optim/optimizer.h"

using namespace mechlab;

namespace {
const std::vector<std::vector<double>> kGradients{{0.1, -0.2, 0.3}, {-0.05, 0.4, 0.0}, {0.2, 0.1, -0.3}};

std::vector<double> run(OptimizerConfig config, const std::vector<std::vector<double>>& gradients = kGradients) {
  Tensor p = Tensor::from_vector<double>({1, 3}, {0.5, -1.0, 2.0});
  p.set_requires_grad(true);
  std::vector<NamedParameter> params{{"p", p}};
  Optimizer optimizer(params, config, 1);
  for (const auto& g : gradients) {
    p.set_grad(Tensor::from_vector<double>({1, 3}, g));
    optimizer.step();
  }
  return p.to_vector<double>();
}

void check_close(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < actual.size(); ++i) CHECK(actual[i] == doctest::Approx(expected[i]).epsilon(1e-12));
}
}  // namespace

TEST_CASE("SGD with momentum 0.9 and weight decay 0.01") {
  // g += wd p; buf = 0.9 buf + g (buf = g at the first step); p -= lr buf.
  OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  c.lr = {0.1};
  c.momentum = 0.9;
  c.weight_decay = 0.01;
  check_close(run(c), {0.4596303895, -1.026230779, 1.937603568});
}

TEST_CASE("Adam with L2 weight decay 0.01") {
  // g += wd p; m, v moving averages; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
  OptimizerConfig c;
  c.kind = OptimizerKind::adam;
  c.lr = {0.1};
  c.weight_decay = 0.01;
  check_close(run(c), {0.30088806666779644, -0.9723174386473185, 1.8295100810120144});
}

TEST_CASE("AdamW with decoupled weight decay 0.1") {
  // p *= 1 - lr wd before the Adam update.
  OptimizerConfig c;
  c.kind = OptimizerKind::adamw;
  c.lr = {0.1};
  c.weight_decay = 0.1;
  check_close(run(c), {0.2949609911583473, -0.9500983713488743, 1.784839010329577});
}

TEST_CASE("global-norm clipping scales by max_norm / (norm + 1e-6) and reports the norm before clipping") {
  OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  c.lr = {0.1};
  c.clip_norm = 1.0;
  check_close(run(c, {{3.0, 4.0, 0.0}}), {0.4400000119999976, -1.0799999840000032, 2.0});
  // Below the threshold nothing changes.
  c.clip_norm = 10.0;
  check_close(run(c, {{3.0, 4.0, 0.0}}), {0.2, -1.4, 2.0});
}

TEST_CASE("warmup-cosine schedule") {
  Schedule s{ScheduleKind::warmup_cosine, 10, 110, 0.1};
  CHECK(s.factor(0) == doctest::Approx(0.1));
  CHECK(s.factor(9) == doctest::Approx(1.0));
  CHECK(s.factor(10) == doctest::Approx(1.0));
  CHECK(s.factor(60) == doctest::Approx(0.55));  // halfway down: 0.1 + 0.9 * 0.5
  CHECK(s.factor(110) == doctest::Approx(0.1));
  CHECK(s.factor(500) == doctest::Approx(0.1));
  CHECK(Schedule{}.factor(1000) == 1.0);
}

TEST_CASE("one learning rate per replica") {
  Tensor p = Tensor::from_vector<double>({2, 1}, {1.0, 1.0});
  p.set_requires_grad(true);
  OptimizerConfig c;
  c.kind = OptimizerKind::sgd;
  c.lr = {0.1, 0.3};
  Optimizer optimizer({{"p", p}}, c, 2);
  p.set_grad(Tensor::from_vector<double>({2, 1}, {1.0, 1.0}));
  optimizer.step();
  check_close(p.to_vector<double>(), {0.9, 0.7});
  c.lr = {0.1, 0.2, 0.3};
  CHECK_THROWS_AS(Optimizer({{"p", p}}, c, 2), std::invalid_argument);
}
