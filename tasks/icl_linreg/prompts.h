// In-context linear regression prompts (He et al. 2025, studies.md section 2): x_1..x_L, x_q ~ N(0, Sigma),
// beta ~ N(0, I_d / d), y = beta . x + eps with eps ~ N(0, sigma^2). Pure and stateless: prompt s is a
// function of (Philox key, s), so batches are reproducible in any order.
#pragma once
#include <Eigen/Dense>
#include <cstdint>

#include "random/philox.h"

namespace mechlab {

struct Prompt {
  Eigen::MatrixXd x;  // (L, d) context inputs
  Eigen::VectorXd y;  // (L) context targets
  Eigen::VectorXd x_query;
  double y_query = 0.0;  // with noise: the target the model is scored on
};

// The model's view of a prompt: (L + 1) tokens of width d + 1, [x_l; y_l] then [x_q; 0], row-major into z;
// and back (y_query is not in the tokens).
void write_prompt_tokens(const Prompt& p, float* z);
Prompt read_prompt_tokens(const float* z, int64_t tokens, int d, double y_query);

class PromptSampler {
 public:
  // Sigma_ij = rho^|i - j| (rho = 0: isotropic); throws std::invalid_argument unless d >= 1, |rho| < 1.
  PromptSampler(int d, double noise_variance, double rho = 0.0);
  int d() const { return d_; }
  double noise_variance() const { return noise_variance_; }

  // Prompt `index` with `length` context pairs.
  Prompt sample(const Philox& rng, uint64_t index, int64_t length) const;

 private:
  int d_;
  double noise_variance_;
  Eigen::MatrixXd sigma_root_;  // lower Cholesky factor of Sigma
};

}  // namespace mechlab
