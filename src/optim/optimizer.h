// SGD (momentum, weight decay), Adam and AdamW over a model's parameters, with a learning-rate schedule
// and per-replica global-norm clipping. Each replica has its own learning rate and clips by its own
// gradient norm, so replicas packed together train exactly as they would alone.
#pragma once
#include <vector>

#include "nn/transformer.h"
#include "optim/schedule.h"

namespace mechlab {

enum class OptimizerKind { sgd, adam, adamw };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adamw;
  std::vector<double> lr{1e-3};  // one per replica, or one for all
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;   // SGD only
  double clip_norm = 0.0;  // 0: no clipping
  Schedule schedule;
};

class Optimizer {
 public:
  Optimizer(const std::vector<NamedParameter>& parameters, OptimizerConfig config, int64_t replicas);

  // Applies one update from the parameters' current gradients (parameters without one are skipped):
  // prepare_step() then apply().
  void step();
  // Host half of a step: counts it and writes its learning rates and bias corrections to the device.
  void prepare_step();
  // Device half: gradient norms, clipping and the updates, kernels only, so a CUDA graph can hold it.
  void apply();
  void zero_grad();

  int64_t steps_taken() const { return step_; }
  // Learning rate of each replica at the next step.
  std::vector<double> learning_rates() const;
  // Global gradient norm of each replica before clipping, from the last step (reads the device).
  std::vector<double> last_grad_norms() const;

  // State for checkpoints: per parameter, the first (Adam m / SGD momentum) and second (Adam v) moments.
  std::vector<NamedParameter> state() const;
  void set_steps_taken(int64_t step) { step_ = step; }
  const OptimizerConfig& config() const { return config_; }

 private:
  std::vector<NamedParameter> parameters_;
  OptimizerConfig config_;
  int64_t replicas_;
  int64_t step_ = 0;
  std::vector<Tensor> first_moment_, second_moment_;
  Tensor step_values_;  // (R, 3) f64: learning rate, 1 - beta1^t, sqrt(1 - beta2^t)
  Tensor squares_;      // (R) f64: summed squared gradients of the last step
  Tensor grad_scale_;   // (R) f64: clipping factors of the last step
};

}  // namespace mechlab
