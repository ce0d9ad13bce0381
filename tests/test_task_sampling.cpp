// Host work drawn and summarised in parallel (src/task/parallel_replicas.h) must not depend on the thread
// count or on which seeds share a pack: every task's batch, and the bigram-backcopy evaluation's metrics.
#include <doctest/doctest.h>
#include <tbb/global_control.h>

#include <cstring>
#include <string>
#include <vector>

#include "config/load_config.h"
#include "subprocess.h"
#include "tensor/replica_slice.h"

using namespace mechlab;
using mechlab::testing::source_dir;

namespace {
std::vector<char> bytes_of(const Tensor& t) {
  if (!t.defined()) return {};
  const Tensor host = t.to(Device::cpu);
  std::vector<char> bytes(host.bytes());
  std::memcpy(bytes.data(), host.raw(), bytes.size());
  return bytes;
}
}  // namespace

TEST_CASE("every task draws the same batch on one thread and on several, and a packed replica's rows are its seed's alone") {
  for (const char* config : {"bigram_backcopy/quick.json", "icl_linreg/quick_h2.json", "retrieval/pair_2layer.json",
                             "retrieval/triple_dense_rotary.json", "ioi/symbolic_1layer_1head.json",
                             "ioi/templates_1layer_2heads.json"}) {
    CAPTURE(config);
    const LoadedConfig loaded = load_config(source_dir() + "/configs/" + config, {});
    const std::vector<ReplicaKey> keys = replicas_for_seeds({3, 5, 8});
    auto draw = [&](int threads, const std::vector<ReplicaKey>& replicas) {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
      return loaded.task->sample(replicas, 37, RandomStream::data, 11);  // 37: chunks of 16 end mid-replica
    };
    const Batch one = draw(1, keys), four = draw(4, keys), alone = draw(4, {keys[1]});
    CHECK(bytes_of(one.inputs) == bytes_of(four.inputs));
    CHECK(bytes_of(one.targets) == bytes_of(four.targets));
    CHECK(bytes_of(one.loss_mask) == bytes_of(four.loss_mask));
    CHECK(bytes_of(replica_slice(one.inputs, 1)) == bytes_of(replica_slice(alone.inputs, 0)));
    CHECK(bytes_of(replica_slice(one.targets, 1)) == bytes_of(replica_slice(alone.targets, 0)));
    CHECK(bytes_of(replica_slice(one.inputs, 0)) != bytes_of(replica_slice(one.inputs, 1)));  // seeds differ
  }
}

TEST_CASE("the bigram-backcopy evaluation's metrics are the same on one thread and on several") {
  const LoadedConfig loaded = load_config(source_dir() + "/configs/bigram_backcopy/quick.json", {});
  const std::vector<ReplicaKey> keys = replicas_for_seeds({0, 1, 2});
  const Transformer model(loaded.run.model, keys, DType::f32, Device::cpu);
  const Batch batch = loaded.task->sample(keys, 24, RandomStream::eval_data, 0);
  auto metrics = [&](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    return loaded.task->summarize(loaded.task->evaluation_tensors(model, batch), batch);
  };
  const std::vector<Metrics> one = metrics(1), four = metrics(4);
  REQUIRE(one.size() == 3);
  CHECK(one.at(0).size() > 20);
  CHECK(one.at(0).count("bos_logit_gap_trigger.L0H0") == 1);
  CHECK(one == four);
}
