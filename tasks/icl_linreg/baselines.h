// Predictors in-context linear regression is compared with, each computed on the same prompts as the model.
// Each reads output 0 of its prompt (pass Prompt::output(k) for output k).
#pragma once
#include <string>
#include <vector>

#include "tasks/icl_linreg/prompts.h"

namespace mechlab {

// Ridge regression on the context, lambda = 0 giving least squares (minimum norm when L < d). With
// lambda = sigma^2 d it is the posterior mean under beta ~ N(0, I/d): Bayes optimal.
double ridge_prediction(const Prompt& p, double lambda);
// x_q^T X^T y / L: one gradient step from beta = 0 (before its step size).
double gd_direction(const Prompt& p);
// sum_l y_l (x_l - xbar)^T x_q / L: the debiased gradient step (before its step size).
double debiased_gd_direction(const Prompt& p);
// One softmax head with KQ = omega I on the x-block and OV reading y with weight mu:
// mu * sum_l softmax_l(omega x_l . x_q) y_l.
double kernel_head_prediction(const Prompt& p, double omega, double mu);

// The step size that minimises the squared error of eta * direction on these prompts, and that error.
struct FittedStep {
  double eta = 0.0;
  double mse = 0.0;
};
FittedStep fit_step(const std::vector<double>& directions, const std::vector<double>& targets);

// Mean squared error of predictions against targets.
double mean_squared_error(const std::vector<double>& predictions, const std::vector<double>& targets);

}  // namespace mechlab
