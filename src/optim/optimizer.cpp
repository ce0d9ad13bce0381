#include "optim/optimizer.h"

#include <cmath>
#include <stdexcept>

#include "backend/backend.h"

namespace mechlab {

Optimizer::Optimizer(const std::vector<NamedParameter>& parameters, OptimizerConfig config, int64_t replicas)
    : parameters_(parameters), config_(std::move(config)), replicas_(replicas), grad_norms_(replicas, 0.0) {
  if (config_.lr.size() == 1) config_.lr.assign(replicas_, config_.lr[0]);
  if (static_cast<int64_t>(config_.lr.size()) != replicas_)
    throw std::invalid_argument("optim.lr: give one learning rate or one per replica (" + std::to_string(replicas_) + ")");
  for (const NamedParameter& p : parameters_) {
    const Tensor& v = p.value;
    first_moment_.push_back(Tensor::zeros(v.shape(), v.dtype(), v.device()));
    second_moment_.push_back(config_.kind == OptimizerKind::sgd ? Tensor()
                                                                 : Tensor::zeros(v.shape(), v.dtype(), v.device()));
  }
}

std::vector<double> Optimizer::learning_rates() const {
  std::vector<double> rates = config_.lr;
  for (double& rate : rates) rate *= config_.schedule.factor(step_);
  return rates;
}

void Optimizer::step() {
  if (parameters_.empty()) return;
  const Device device = parameters_[0].value.device();
  Backend& backend = backend_for(device);

  Tensor squares = Tensor::zeros({replicas_}, DType::f64, device);
  for (const NamedParameter& p : parameters_)
    if (p.value.grad().defined()) backend.sum_squares_per_replica(p.value.grad(), squares);
  std::vector<double> sums = squares.to_vector<double>();
  std::vector<double> scales(replicas_, 1.0);
  for (int64_t r = 0; r < replicas_; ++r) {
    grad_norms_[r] = std::sqrt(sums[r]);
    // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
    if (config_.clip_norm > 0) scales[r] = std::min(1.0, config_.clip_norm / (grad_norms_[r] + 1e-6));
  }
  Tensor lr = Tensor::from_vector<double>({replicas_}, learning_rates()).to(device);
  Tensor grad_scale = Tensor::from_vector<double>({replicas_}, scales).to(device);

  ++step_;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Tensor param = parameters_[i].value;
    const Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    if (config_.kind == OptimizerKind::sgd) {
      backend.sgd_update(param, grad, first_moment_[i], lr, grad_scale,
                         SgdStep{config_.momentum, config_.weight_decay});
    } else {
      backend.adam_update(param, grad, first_moment_[i], second_moment_[i], lr, grad_scale,
                          AdamStep{config_.beta1, config_.beta2, config_.eps, config_.weight_decay,
                                   config_.kind == OptimizerKind::adamw, step_});
    }
  }
}

void Optimizer::zero_grad() {
  for (const NamedParameter& p : parameters_) p.value.zero_grad();
}

std::vector<NamedParameter> Optimizer::state() const {
  std::vector<NamedParameter> state;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    state.push_back({parameters_[i].name + ".m", first_moment_[i]});
    if (second_moment_[i].defined()) state.push_back({parameters_[i].name + ".v", second_moment_[i]});
  }
  return state;
}

}  // namespace mechlab
