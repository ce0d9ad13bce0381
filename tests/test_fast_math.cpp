// The float exp and erf used by CPU kernels, against libm in double over their working range.
#include <doctest/doctest.h>

#include <cmath>

#include "backend/cpu/fast_math.h"

using namespace mechlab::cpu;

TEST_CASE("exp_approx has relative error below 3e-7 on [-80, 80]") {
  double worst = 0.0;
  for (int i = -800000; i <= 800000; ++i) {
    const float x = static_cast<float>(i * 1e-4);
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(exp_approx(x) - exact) / exact);
  }
  INFO("worst relative error " << worst);
  CHECK(worst < 3e-7);
  CHECK(exp_approx(-200.0f) < 1e-37f);
  CHECK(std::isfinite(exp_approx(200.0f)));
}

TEST_CASE("erf_approx has absolute error below 3e-7 on [-6, 6]") {
  double worst = 0.0;
  for (int i = -600000; i <= 600000; ++i) {
    const float x = static_cast<float>(i * 1e-5);
    worst = std::max(worst, std::abs(erf_approx(x) - std::erf(static_cast<double>(x))));
  }
  INFO("worst absolute error " << worst);
  CHECK(worst < 3e-7);
}
