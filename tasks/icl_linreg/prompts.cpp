#include "tasks/icl_linreg/prompts.h"

#include <cmath>
#include <numbers>
#include <stdexcept>

namespace mechlab {

namespace {
// Standard normals by Box-Muller from 53-bit uniforms: draw k of a prompt uses counter base + k / 2.
class Normals {
 public:
  Normals(const Philox& rng, uint64_t base) : rng_(rng), base_(base) {}
  double next() {
    if (k_ % 2 == 0) {
      const auto w = rng_.words(base_ + k_ / 2);
      const double u1 = static_cast<double>(((static_cast<uint64_t>(w[0]) << 21) ^ (w[1] >> 11)) + 1) * 0x1.0p-53;
      const double u2 = static_cast<double>((static_cast<uint64_t>(w[2]) << 21) ^ (w[3] >> 11)) * 0x1.0p-53;
      const double radius = std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * std::numbers::pi * u2;
      first_ = radius * std::cos(angle);
      second_ = radius * std::sin(angle);
    }
    return k_++ % 2 == 0 ? first_ : second_;
  }

 private:
  const Philox& rng_;
  uint64_t base_, k_ = 0;
  double first_ = 0.0, second_ = 0.0;
};

// Counters per prompt: room for prompts of up to 2^20 pairs in dimension up to 1023.
constexpr uint64_t kCountersPerPrompt = uint64_t(1) << 30;
}  // namespace

void write_prompt_tokens(const Prompt& p, float* z) {
  const int64_t L = p.x.rows(), d = p.x.cols(), W = d + 1;
  for (int64_t l = 0; l < L; ++l) {
    for (int64_t i = 0; i < d; ++i) z[l * W + i] = static_cast<float>(p.x(l, i));
    z[l * W + d] = static_cast<float>(p.y[l]);
  }
  for (int64_t i = 0; i < d; ++i) z[L * W + i] = static_cast<float>(p.x_query[i]);
  z[L * W + d] = 0.0f;
}

Prompt read_prompt_tokens(const float* z, int64_t tokens, int d, double y_query) {
  const int64_t L = tokens - 1, W = d + 1;
  Prompt p;
  p.x.resize(L, d);
  p.y.resize(L);
  p.x_query.resize(d);
  for (int64_t l = 0; l < L; ++l) {
    for (int i = 0; i < d; ++i) p.x(l, i) = z[l * W + i];
    p.y[l] = z[l * W + d];
  }
  for (int i = 0; i < d; ++i) p.x_query[i] = z[L * W + i];
  p.y_query = y_query;
  return p;
}

PromptSampler::PromptSampler(int d, double noise_variance, double rho) : d_(d), noise_variance_(noise_variance) {
  if (d < 1) throw std::invalid_argument("icl_linreg: d must be at least 1");
  if (std::abs(rho) >= 1.0) throw std::invalid_argument("icl_linreg: |rho| must be below 1");
  Eigen::MatrixXd sigma(d, d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) sigma(i, j) = std::pow(rho, std::abs(i - j));
  sigma_root_ = sigma.llt().matrixL();
}

Prompt PromptSampler::sample(const Philox& rng, uint64_t index, int64_t length) const {
  Normals normal(rng, index * kCountersPerPrompt);
  Prompt p;
  Eigen::VectorXd beta(d_);
  for (int i = 0; i < d_; ++i) beta[i] = normal.next() / std::sqrt(static_cast<double>(d_));
  auto draw_x = [&] {
    Eigen::VectorXd z(d_);
    for (int i = 0; i < d_; ++i) z[i] = normal.next();
    return Eigen::VectorXd(sigma_root_ * z);
  };
  const double noise = std::sqrt(noise_variance_);
  p.x.resize(length, d_);
  p.y.resize(length);
  for (int64_t l = 0; l < length; ++l) {
    p.x.row(l) = draw_x().transpose();
    p.y[l] = p.x.row(l).dot(beta) + noise * normal.next();
  }
  p.x_query = draw_x();
  p.y_query = p.x_query.dot(beta) + noise * normal.next();
  return p;
}

}  // namespace mechlab
