#include "optim/optimizer.h"

#include <cmath>
#include <stdexcept>

#include "backend/backend.h"

namespace mechlab {

Optimizer::Optimizer(const std::vector<NamedParameter>& parameters, OptimizerConfig config, int64_t replicas)
    : parameters_(parameters), config_(std::move(config)), replicas_(replicas) {
  if (config_.lr.size() == 1) config_.lr.assign(replicas_, config_.lr[0]);
  if (static_cast<int64_t>(config_.lr.size()) != replicas_)
    throw std::invalid_argument("optim.lr: give one learning rate or one per replica (" + std::to_string(replicas_) + ")");
  const Device device = parameters_.empty() ? Device::cpu : parameters_[0].value.device();
  for (const NamedParameter& p : parameters_) {
    const Tensor& v = p.value;
    first_moment_.push_back(Tensor::zeros(v.shape(), v.dtype(), v.device()));
    second_moment_.push_back(config_.kind == OptimizerKind::sgd ? Tensor()
                                                                 : Tensor::zeros(v.shape(), v.dtype(), v.device()));
  }
  step_values_ = Tensor::zeros({replicas_, 3}, DType::f64, device);
  squares_ = Tensor::zeros({replicas_}, DType::f64, device);
  grad_scale_ = Tensor::full({replicas_}, 1.0, DType::f64, device);
}

std::vector<double> Optimizer::learning_rates() const {
  std::vector<double> rates = config_.lr;
  for (double& rate : rates) rate *= config_.schedule.factor(step_);
  return rates;
}

std::vector<double> Optimizer::last_grad_norms() const {
  std::vector<double> norms = squares_.to_vector<double>();
  for (double& n : norms) n = std::sqrt(n);
  return norms;
}

void Optimizer::step() {
  prepare_step();
  apply();
}

void Optimizer::prepare_step() {
  const std::vector<double> rates = learning_rates();
  ++step_;
  const double t = static_cast<double>(step_);
  std::vector<double> values(replicas_ * 3);
  for (int64_t r = 0; r < replicas_; ++r) {
    values[3 * r + kLearningRate] = rates[r];
    values[3 * r + kBias1] = 1.0 - std::pow(config_.beta1, t);
    values[3 * r + kBias2Sqrt] = std::sqrt(1.0 - std::pow(config_.beta2, t));
  }
  backend_for(step_values_.device()).copy_from_host(step_values_.raw(), values.data(), step_values_.bytes());
}

void Optimizer::apply() {
  std::vector<OptimizerSlot> slots;
  std::vector<Tensor> grads;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor& param = parameters_[i].value;
    if (!param.grad().defined()) continue;  // a parameter the loss does not reach
    slots.push_back({param, param.grad(), first_moment_[i], second_moment_[i]});
    grads.push_back(param.grad());
  }
  if (slots.empty()) return;
  Backend& backend = backend_for(slots[0].param.device());
  backend.sum_squares_per_replica(grads, squares_);
  backend.clip_scales(squares_, config_.clip_norm, grad_scale_);
  if (config_.kind == OptimizerKind::sgd)
    backend.sgd_update(slots, step_values_, grad_scale_, SgdStep{config_.momentum, config_.weight_decay});
  else
    backend.adam_update(slots, step_values_, grad_scale_,
                        AdamStep{config_.beta1, config_.beta2, config_.eps, config_.weight_decay,
                                 config_.kind == OptimizerKind::adamw});
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
