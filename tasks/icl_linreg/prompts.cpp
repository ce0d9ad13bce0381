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

Prompt Prompt::output(int k) const { return {x, y.col(k), x_query, y_query.segment(k, 1)}; }

void write_prompt_tokens(const Prompt& p, float* z) {
  const int64_t L = p.x.rows(), d = p.x.cols(), K = p.outputs(), W = d + K;
  for (int64_t l = 0; l < L; ++l) {
    for (int64_t i = 0; i < d; ++i) z[l * W + i] = static_cast<float>(p.x(l, i));
    for (int64_t k = 0; k < K; ++k) z[l * W + d + k] = static_cast<float>(p.y(l, k));
  }
  for (int64_t i = 0; i < d; ++i) z[L * W + i] = static_cast<float>(p.x_query[i]);
  for (int64_t k = 0; k < K; ++k) z[L * W + d + k] = 0.0f;
}

Prompt read_prompt_tokens(const float* z, int64_t tokens, int d, const Eigen::VectorXd& y_query) {
  const int64_t L = tokens - 1, K = y_query.size(), W = d + K;
  Prompt p;
  p.x.resize(L, d);
  p.y.resize(L, K);
  p.x_query.resize(d);
  for (int64_t l = 0; l < L; ++l) {
    for (int i = 0; i < d; ++i) p.x(l, i) = z[l * W + i];
    for (int64_t k = 0; k < K; ++k) p.y(l, k) = z[l * W + d + k];
  }
  for (int i = 0; i < d; ++i) p.x_query[i] = z[L * W + i];
  p.y_query = y_query;
  return p;
}

PromptSampler::PromptSampler(int d, double noise_variance, double rho, int outputs, double beta_variance)
    : d_(d), outputs_(outputs), noise_variance_(noise_variance), beta_variance_(beta_variance) {
  if (d < 1) throw std::invalid_argument("icl_linreg: d must be at least 1");
  if (outputs != 1 && outputs != 2) throw std::invalid_argument("icl_linreg: outputs must be 1 or 2");
  if (outputs == 2 && d < 4) throw std::invalid_argument("icl_linreg: two outputs need d >= 4");
  if (std::abs(rho) >= 1.0) throw std::invalid_argument("icl_linreg: |rho| must be below 1");
  Eigen::MatrixXd sigma(d, d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) sigma(i, j) = std::pow(rho, std::abs(i - j));
  sigma_root_ = sigma.llt().matrixL();
}

Prompt PromptSampler::sample(const Philox& rng, uint64_t index, int64_t length) const {
  Normals normal(rng, index * kCountersPerPrompt);
  Prompt p;
  // Column k of beta holds output k's weights, zero outside its support.
  const int m = support_size();
  Eigen::MatrixXd beta = Eigen::MatrixXd::Zero(d_, outputs_);
  for (int k = 0; k < outputs_; ++k)
    for (int i = 0; i < m; ++i) {
      const double z = normal.next();
      // The default prior divides by sqrt(m), as it always has, so its draws keep their bits.
      beta(support_begin(k) + i, k) = default_prior() ? z / std::sqrt(static_cast<double>(m)) : z * std::sqrt(beta_variance_);
    }
  auto draw_x = [&] {
    Eigen::VectorXd z(d_);
    for (int i = 0; i < d_; ++i) z[i] = normal.next();
    return Eigen::VectorXd(sigma_root_ * z);
  };
  const double noise = std::sqrt(noise_variance_);
  auto draw_y = [&](const Eigen::VectorXd& x) {
    Eigen::VectorXd y = beta.transpose() * x;
    for (int k = 0; k < outputs_; ++k) y[k] += noise * normal.next();
    return y;
  };
  p.x.resize(length, d_);
  p.y.resize(length, outputs_);
  for (int64_t l = 0; l < length; ++l) {
    p.x.row(l) = draw_x().transpose();
    p.y.row(l) = draw_y(p.x.row(l).transpose()).transpose();
  }
  p.x_query = draw_x();
  p.y_query = draw_y(p.x_query);
  return p;
}

}  // namespace mechlab
