#include "train/train_step.h"

#include "ops/ops.h"
#include "train/step_runner.h"
#include "random/philox.h"

namespace mechlab {

std::vector<double> train_step(const Transformer& model, Optimizer& optimizer, const Tensor& inputs,
                               const Tensor& targets, const Tensor& mask) {
  StepRunner eager(model, optimizer, /*use_graph=*/false);
  return eager.step({inputs, targets, mask, {}}).to_vector<double>();
}

Tensor random_tokens(const std::vector<ReplicaKey>& replicas, int64_t batch, int64_t length, int32_t vocab,
                     uint32_t step) {
  const int64_t per_replica = batch * length;
  std::vector<int32_t> ids(replicas.size() * per_replica);
  for (size_t r = 0; r < replicas.size(); ++r) {
    Philox rng(replicas[r], RandomStream::data, step);
    for (int64_t i = 0; i < per_replica; ++i) ids[r * per_replica + i] = static_cast<int32_t>(rng.below(i, vocab));
  }
  return Tensor::from_vector<int32_t>({static_cast<int64_t>(replicas.size()), batch, length}, ids);
}

}  // namespace mechlab
