// In-context linear regression prompts (He et al. 2025, studies.md section 2): x_1..x_L, x_q ~ N(0, Sigma),
// beta ~ N(0, I_d / d), y = beta . x + eps with eps ~ N(0, sigma^2). With two outputs (the multi-task
// variant) y_1 = b_1 . x[0 : d-2] and y_2 = b_2 . x[2 : d], b_k ~ N(0, I / (d - 2)), each with its own noise.
// Pure and stateless: prompt s is a function of (Philox key, s), so batches are reproducible in any order.
#pragma once
#include <Eigen/Dense>
#include <cstdint>

#include "random/philox.h"

namespace mechlab {

struct Prompt {
  Eigen::MatrixXd x;        // (L, d) context inputs
  Eigen::MatrixXd y;        // (L, K) context targets, one column per output
  Eigen::VectorXd x_query;  // (d)
  Eigen::VectorXd y_query;  // (K) with noise: the targets the model is scored on

  int outputs() const { return static_cast<int>(y.cols()); }
  // Output k alone (K = 1), for the baselines, which regress one output at a time.
  Prompt output(int k) const;
};

// The model's view of a prompt: (L + 1) tokens of width d + K, [x_l; y_l] then [x_q; 0], row-major into z;
// and back (y_query is not in the tokens).
void write_prompt_tokens(const Prompt& p, float* z);
Prompt read_prompt_tokens(const float* z, int64_t tokens, int d, const Eigen::VectorXd& y_query);

class PromptSampler {
 public:
  // Sigma_ij = rho^|i - j| (rho = 0: isotropic); each coordinate of beta ~ N(0, beta_variance), where 0 means
  // 1 / support_size() (the paper's N(0, I/d)); throws std::invalid_argument unless d >= 1, |rho| < 1,
  // outputs is 1 or 2, and d >= 4 for two outputs.
  PromptSampler(int d, double noise_variance, double rho = 0.0, int outputs = 1, double beta_variance = 0.0);
  int d() const { return d_; }
  int outputs() const { return outputs_; }
  // The coordinates of x output k reads: all of x, or [0, d - 2) and [2, d) with two outputs.
  int support_begin(int k) const { return outputs_ == 1 ? 0 : 2 * k; }
  int support_size() const { return outputs_ == 1 ? d_ : d_ - 2; }
  double noise_variance() const { return noise_variance_; }
  // The prior variance of a coordinate of beta, and the Bayes-optimal ridge penalty sigma^2 / that.
  double beta_variance() const { return beta_variance_ > 0 ? beta_variance_ : 1.0 / support_size(); }
  double ridge_lambda() const { return default_prior() ? noise_variance_ * support_size() : noise_variance_ / beta_variance_; }
  // Whether beta ~ N(0, I / support_size()), the prior the single-head kernel optimum assumes.
  bool default_prior() const { return beta_variance_ == 0.0; }

  // Prompt `index` with `length` context pairs.
  Prompt sample(const Philox& rng, uint64_t index, int64_t length) const;

 private:
  int d_;
  int outputs_;
  double noise_variance_;
  double beta_variance_;  // 0: 1 / support_size()
  Eigen::MatrixXd sigma_root_;  // lower Cholesky factor of Sigma
};

}  // namespace mechlab
