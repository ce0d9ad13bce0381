#include "tasks/icl_linreg/baselines.h"

#include <cmath>

namespace mechlab {

double ridge_prediction(const Prompt& p, double lambda) {
  const int64_t d = p.x.cols();
  if (lambda == 0.0) return p.x_query.dot(p.x.completeOrthogonalDecomposition().solve(p.y.col(0)));
  const Eigen::MatrixXd gram = p.x.transpose() * p.x + lambda * Eigen::MatrixXd::Identity(d, d);
  return p.x_query.dot(gram.ldlt().solve(p.x.transpose() * p.y.col(0)));
}

double gd_direction(const Prompt& p) {
  return p.x_query.dot(p.x.transpose() * p.y.col(0)) / static_cast<double>(p.x.rows());
}

double debiased_gd_direction(const Prompt& p) {
  const Eigen::RowVectorXd mean = p.x.colwise().mean();
  const Eigen::MatrixXd centred = p.x.rowwise() - mean;
  return p.x_query.dot(centred.transpose() * p.y.col(0)) / static_cast<double>(p.x.rows());
}

double kernel_head_prediction(const Prompt& p, double omega, double mu) {
  const Eigen::VectorXd scores = omega * (p.x * p.x_query);
  const Eigen::VectorXd weights = (scores.array() - scores.maxCoeff()).exp();
  return mu * weights.dot(p.y.col(0)) / weights.sum();
}

FittedStep fit_step(const std::vector<double>& directions, const std::vector<double>& targets) {
  double cross = 0.0, square = 0.0;
  for (size_t i = 0; i < directions.size(); ++i) {
    cross += directions[i] * targets[i];
    square += directions[i] * directions[i];
  }
  FittedStep fitted;
  fitted.eta = square > 0.0 ? cross / square : 0.0;
  std::vector<double> predictions(directions.size());
  for (size_t i = 0; i < directions.size(); ++i) predictions[i] = fitted.eta * directions[i];
  fitted.mse = mean_squared_error(predictions, targets);
  return fitted;
}

double mean_squared_error(const std::vector<double>& predictions, const std::vector<double>& targets) {
  double total = 0.0;
  for (size_t i = 0; i < predictions.size(); ++i) total += (predictions[i] - targets[i]) * (predictions[i] - targets[i]);
  return predictions.empty() ? 0.0 : total / static_cast<double>(predictions.size());
}

}  // namespace mechlab
