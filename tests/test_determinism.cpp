// Bitwise reproducibility: the thread count and the packing of replicas must not change a single bit.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <cstring>

#include "ops/ops.h"
#include "train/train_step.h"

using namespace mechlab;

namespace {
TransformerConfig config() {
  TransformerConfig c;
  c.n_layers = 2;
  c.n_heads = 4;
  c.d_model = 32;
  c.d_mlp = 64;
  c.n_ctx = 32;
  c.d_vocab = 11;
  return c;
}

// Trains replicas `ids` with learning rates `lrs` for `steps` on a copy task (predict the token two back)
// with B = 32, T = 32: large enough that products, elementwise loops and reductions split across
// threads. Returns each replica's parameters as raw float bits, in parameter order.
std::vector<std::vector<uint32_t>> train(const std::vector<uint32_t>& indices, const std::vector<double>& lrs,
                                         int steps, OptimizerKind kind = OptimizerKind::adamw) {
  std::vector<ReplicaKey> ids;
  for (uint32_t index : indices) ids.push_back({42, index});
  Transformer model(config(), ids, DType::f32);
  OptimizerConfig oc;
  oc.kind = kind;
  oc.lr = lrs;
  oc.weight_decay = 0.01;
  oc.momentum = 0.9;
  oc.clip_norm = 1.0;
  oc.schedule = {ScheduleKind::warmup_cosine, 10, steps, 0.1};
  Optimizer optimizer(model.parameters(), oc, model.replicas());
  for (int step = 0; step < steps; ++step) {
    Tensor tokens = random_tokens(ids, 32, 32, 11, step);
    Tensor targets = concat({slice(tokens, 2, 0, 2), slice(tokens, 2, 0, 30)}, 2);
    train_step(model, optimizer, tokens, targets);
  }
  std::vector<std::vector<uint32_t>> bits(ids.size());
  for (const NamedParameter& p : model.parameters()) {
    std::vector<float> values = p.value.to_vector<float>();
    const size_t block = values.size() / ids.size();
    for (size_t r = 0; r < ids.size(); ++r)
      for (size_t i = 0; i < block; ++i) {
        uint32_t word;
        std::memcpy(&word, &values[r * block + i], 4);
        bits[r].push_back(word);
      }
  }
  return bits;
}
}  // namespace

TEST_CASE("50 training steps give bitwise identical parameters on 1 and 2 threads") {
  std::vector<std::vector<uint32_t>> one, two;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    one = train({0}, {3e-3}, 50);
  }
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 2);
    two = train({0}, {3e-3}, 50);
  }
  CHECK(one == two);
  // The parameters did move: the comparison is not between two untouched initialisations.
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
  CHECK(one != train({0}, {3e-3}, 1));
}

TEST_CASE("R = 4 replicas trained together equal each replica trained alone, bit for bit") {
  const std::vector<double> lrs{1e-3, 2e-3, 3e-3, 5e-3};
  for (OptimizerKind kind : {OptimizerKind::adamw, OptimizerKind::sgd}) {
    auto packed = train({0, 1, 2, 3}, lrs, 50, kind);
    for (uint32_t r = 0; r < 4; ++r) {
      INFO("optimizer " << static_cast<int>(kind) << ", replica " << r);
      CHECK(packed[r] == train({r}, {lrs[r]}, 50, kind)[0]);
    }
    CHECK(packed[0] != packed[1]);
  }
}

TEST_CASE("training on the copy task lowers the loss") {
  Transformer model(config(), {{42, 0}});
  OptimizerConfig oc;
  oc.lr = {3e-3};
  Optimizer optimizer(model.parameters(), oc, 1);
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    Tensor tokens = random_tokens({{42, 0}}, 16, 16, 11, step);
    Tensor targets = concat({slice(tokens, 2, 0, 2), slice(tokens, 2, 0, 14)}, 2);
    double loss = train_step(model, optimizer, tokens, targets)[0];
    if (step == 0) first = loss;
    last = loss;
  }
  // Uniform guessing over 11 tokens costs ln 11 = 2.40; 14 of 16 positions are copyable.
  CHECK(first > 2.2);
  CHECK(last < 1.0);
}
