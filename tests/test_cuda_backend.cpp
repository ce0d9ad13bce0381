// The CUDA backend against the CPU: every op of the table forward and backward in float32, bitwise
// repeatable training, and the quick Bigram-Backcopy config's first 100 losses. Without a usable GPU each
// test reports itself skipped by name. Tolerance for ops: max |cuda - cpu| / max(max |cpu|, 1e-3) < 1e-5.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>

#include "config/load_config.h"
#include "op_cases.h"
#include "report.h"
#include "subprocess.h"
#include "ops/ops.h"
#include "train/eval_runner.h"
#include "train/step_runner.h"
#include "train/train_step.h"

using namespace mechlab;
using namespace mechlab::testing;

namespace {
bool gpu_available() {
  if (cuda_backend_or_null()) return true;
  skip_test("no CUDA device");
  return false;
}

// train.fused_attention for the scope: the fused kernels are off by default.
struct FusedAttention {
  explicit FusedAttention(bool on) { backend_for(Device::cuda).allow_fused_attention(on); }
  ~FusedAttention() { backend_for(Device::cuda).allow_fused_attention(false); }
};

double relative_difference(const Tensor& expected, const Tensor& actual) {
  const std::vector<double> a = expected.to_vector<double>(), b = actual.to_vector<double>();
  double diff = 0.0, scale = 1e-3;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(a[i]));
  }
  return diff / scale;
}

// The forward output and the gradient of sum(output * weights) for each input, on `device`.
std::vector<Tensor> run_case(const OpCase& op, const std::vector<Tensor>& host_inputs, Device device) {
  std::vector<Tensor> inputs;
  for (const Tensor& x : host_inputs) inputs.push_back(x.to(device).clone().set_requires_grad(true));
  Tensor out = op.fn(inputs);
  Tensor weights = random_tensor(out.shape(), 999, 0.0, DType::f32).to(device);
  std::vector<int> axes(out.ndim());
  for (int i = 0; i < out.ndim(); ++i) axes[i] = i;
  sum(mul(out, weights), axes).backward();
  std::vector<Tensor> results{out.to(Device::cpu)};
  for (const Tensor& x : inputs) results.push_back(x.grad().to(Device::cpu));
  return results;
}
}  // namespace

TEST_CASE("every op on CUDA matches the CPU in float32, forward and backward") {
  if (!gpu_available()) return;
  const FusedAttention fused(true);  // ops::attention then runs the fused kernels
  double worst = 0.0;
  for (const OpCase& op : op_cases()) {
    std::vector<std::vector<Shape>> shape_sets{op.input_shapes};
    if (!op.large_input_shapes.empty()) shape_sets.push_back(op.large_input_shapes);
    for (const auto& shapes : shape_sets) {
      std::vector<Tensor> inputs;
      for (size_t i = 0; i < shapes.size(); ++i)
        inputs.push_back(random_tensor(shapes[i], static_cast<uint32_t>(200 + i), op.floor, DType::f32));
      std::vector<Tensor> cpu = run_case(op, inputs, Device::cpu), gpu = run_case(op, inputs, Device::cuda);
      for (size_t k = 0; k < cpu.size(); ++k) {
        const double difference = relative_difference(cpu[k], gpu[k]);
        worst = std::max(worst, difference);
        INFO(std::string(op.name) << " " << to_string(shapes[0]) << (k == 0 ? " output" : " gradient of input " + std::to_string(k - 1))
                     << ": relative difference " << difference);
        CHECK(difference < 1e-5);
      }
    }
  }
  MESSAGE("worst CPU/CUDA relative difference over all ops: " << worst);
}

TEST_CASE("the fused attention kernels' gradients on CUDA match finite differences in double precision") {
  if (!gpu_available()) return;
  const FusedAttention fused(true);
  int checked = 0;
  for (const OpCase& op : op_cases()) {
    if (std::string(op.name).rfind("fused attention", 0) != 0) continue;
    std::vector<Tensor> host;  // f64 on the CPU, perturbed in place by the finite differences
    for (size_t i = 0; i < op.input_shapes.size(); ++i)
      host.push_back(random_tensor(op.input_shapes[i], static_cast<uint32_t>(100 + i), op.floor));
    const Tensor weights = random_tensor(op.fn(host).shape(), 998);
    const std::vector<double> w = weights.to_vector<double>();
    auto loss = [&] {
      std::vector<Tensor> inputs;
      for (const Tensor& x : host) inputs.push_back(x.to(Device::cuda));
      const std::vector<double> out = op.fn(inputs).to_vector<double>();
      double total = 0.0;
      for (size_t i = 0; i < out.size(); ++i) total += out[i] * w[i];
      return total;
    };
    std::vector<Tensor> leaves;
    for (const Tensor& x : host) leaves.push_back(x.to(Device::cuda).clone().set_requires_grad(true));
    const Tensor out = op.fn(leaves);
    std::vector<int> axes(out.ndim());
    for (int i = 0; i < out.ndim(); ++i) axes[i] = i;
    sum(mul(out, weights.to(Device::cuda)), axes).backward();
    for (size_t i = 0; i < host.size(); ++i) {
      const double error = finite_difference_error(loss, host[i], leaves[i].grad().to_vector<double>());
      INFO(op.name << ", input " << i << ": relative error " << error);
      CHECK(error < 1e-6);
    }
    ++checked;
  }
  CHECK(checked >= 9);
}

namespace {
LoadedConfig quick_config(const std::string& device) {
  return load_config(source_dir() + "/configs/bigram_backcopy/quick.json", {"train.device=" + device});
}

// Losses of the first `steps` steps of the quick config on `device`, and the final parameters' bits.
std::pair<std::vector<double>, std::vector<float>> train_quick(Device device, int steps) {
  LoadedConfig loaded = quick_config(device == Device::cuda ? "cuda" : "cpu");
  Transformer model(loaded.run.model, loaded.run.replica_keys(), DType::f32, device);
  Optimizer optimizer(model.parameters(), loaded.run.optim, 1);
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    Batch batch = loaded.task->sample(loaded.run.replica_keys(), loaded.run.train.batch_size, RandomStream::data, step);
    losses.push_back(train_step(model, optimizer, batch.inputs.to(device), batch.targets.to(device))[0]);
  }
  std::vector<float> bits;
  for (const NamedParameter& p : model.parameters()) {
    std::vector<float> values = p.value.to_vector<float>();
    bits.insert(bits.end(), values.begin(), values.end());
  }
  return {losses, bits};
}

// Trains the quick config widened to two layers of four heads with biases, seeds `seeds` packed as
// replicas, for `steps` on CUDA; returns each replica's parameters as raw bits, in parameter order.
std::vector<std::vector<uint32_t>> train_packed(const std::string& seeds, int steps) {
  LoadedConfig loaded = load_config(source_dir() + "/configs/bigram_backcopy/quick.json",
                                    {"train.device=cuda", "seeds=" + seeds, "model.n_layers=2", "model.n_heads=4",
                                     "model.biases=true"});
  const std::vector<ReplicaKey> keys = loaded.run.replica_keys();
  Transformer model(loaded.run.model, keys, DType::f32, Device::cuda);
  Optimizer optimizer(model.parameters(), loaded.run.optim, static_cast<int64_t>(keys.size()));
  for (int step = 0; step < steps; ++step) {
    Batch batch = loaded.task->sample(keys, loaded.run.train.batch_size, RandomStream::data, step);
    train_step(model, optimizer, batch.inputs.to(Device::cuda), batch.targets.to(Device::cuda));
  }
  std::vector<std::vector<uint32_t>> bits(keys.size());
  for (const NamedParameter& p : model.parameters()) {
    const std::vector<float> values = p.value.to_vector<float>();
    const size_t block = values.size() / keys.size();
    for (size_t r = 0; r < keys.size(); ++r) {
      const size_t first = bits[r].size();
      bits[r].resize(first + block);
      std::memcpy(bits[r].data() + first, values.data() + r * block, block * sizeof(float));
    }
  }
  return bits;
}
}  // namespace

TEST_CASE("training on CUDA is bitwise repeatable, with and without fused attention") {
  if (!gpu_available()) return;
  for (bool on : {false, true}) {
    const FusedAttention fused(on);
    auto first = train_quick(Device::cuda, 30), second = train_quick(Device::cuda, 30);
    INFO("fused attention " << on);
    CHECK(std::memcmp(first.second.data(), second.second.data(), first.second.size() * sizeof(float)) == 0);
    CHECK(first.first == second.first);
  }
}

TEST_CASE("on CUDA a product or sum of one replica gives the same bits alone as packed with 63 others") {
  if (!gpu_available()) return;
  auto bits = [](const Tensor& t) {
    std::vector<float> v = t.to(Device::cpu).to_vector<float>();
    std::vector<uint32_t> words(v.size());
    std::memcpy(words.data(), v.data(), v.size() * sizeof(float));
    return words;
  };
  // The shapes of one replica of config a's step: activations times weights, the weight gradient (a long
  // inner dimension, where cuBLAS would split the sum), bias gradients and per-row sums.
  const Tensor x = random_tensor({64, 4096, 64}, 1, 0.0, DType::f32).to(Device::cuda);
  const Tensor w = random_tensor({64, 64, 256}, 2, 0.0, DType::f32).to(Device::cuda);
  const Tensor x0 = slice(x, 0, 0, 1), w0 = slice(w, 0, 0, 1);
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, const Tensor&)>>> ops{
      {"activations @ weights", [](const Tensor& a, const Tensor& b) { return matmul(a, b); }},
      {"weight gradient a^T @ (a @ w)", [](const Tensor& a, const Tensor& b) { return matmul(a, matmul(a, b), true); }},
      {"column sums", [](const Tensor& a, const Tensor&) { return sum(a, {1}); }},
      {"row sums", [](const Tensor& a, const Tensor&) { return sum(a, {2}); }},
  };
  Backend& cuda = backend_for(Device::cuda);  // what a model's forward tells the backend
  for (const auto& [name, op] : ops) {
    INFO(name);
    cuda.set_replica_count(64);
    const std::vector<uint32_t> packed = bits(op(x, w));
    cuda.set_replica_count(1);
    const std::vector<uint32_t> alone = bits(op(x0, w0));
    REQUIRE(packed.size() == 64 * alone.size());
    CHECK(std::equal(alone.begin(), alone.end(), packed.begin()));
  }
}

TEST_CASE("replica r of a packed run on CUDA equals its seed trained alone, bit for bit") {
  if (!gpu_available()) return;
  for (bool on : {false, true}) {
    const FusedAttention fused(on);
    const auto packed = train_packed("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]", 20);
    for (int seed : {0, 9, 15}) {
      INFO("fused attention " << on << ", seed " << seed);
      CHECK(packed[seed] == train_packed("[" + std::to_string(seed) + "]", 20)[0]);
    }
    CHECK(packed[0] != packed[1]);
  }
}

TEST_CASE("the quick config's first 100 losses on CUDA agree with the CPU, with and without fused attention") {
  if (!gpu_available()) return;
  const std::vector<double> cpu = train_quick(Device::cpu, 100).first;
  for (bool on : {false, true}) {
    const FusedAttention fused(on);
    const std::vector<double> gpu = train_quick(Device::cuda, 100).first;
    double worst = 0.0;
    for (int step = 0; step < 100; ++step) worst = std::max(worst, std::abs(cpu[step] - gpu[step]) / cpu[step]);
    MESSAGE("first 100 losses, fused attention " << on << ": worst relative difference CPU vs CUDA " << worst
                                                 << " (loss " << cpu[0] << " -> " << cpu[99] << ")");
    CHECK(worst < 1e-4);
  }
}

TEST_CASE("a step replayed from a CUDA graph equals the step launched kernel by kernel, bit for bit") {
  if (!gpu_available()) return;
  auto run = [](bool graph, const char* positions) {
    LoadedConfig loaded = quick_config("cuda");
    loaded.run.model.positions = std::string(positions) == "learned"      ? Positions::learned
                                 : std::string(positions) == "rotary" ? Positions::rotary
                                                                      : Positions::sinusoidal;
    const std::vector<ReplicaKey> keys = replicas_for_seeds({0, 1});  // two replicas, two learning rates
    loaded.run.optim.lr = {1e-3, 3e-3};
    Transformer model(loaded.run.model, keys, DType::f32, Device::cuda);
    Optimizer optimizer(model.parameters(), loaded.run.optim, 2);
    StepRunner runner(model, optimizer, graph);
    std::vector<double> losses;
    for (int step = 0; step < 30; ++step) {
      Batch batch = loaded.task->sample(keys, 16, RandomStream::data, step);
      for (double loss : runner.step(batch).to_vector<double>()) losses.push_back(loss);
    }
    std::vector<float> bits;
    for (const NamedParameter& p : model.parameters()) {
      std::vector<float> values = p.value.to_vector<float>();
      bits.insert(bits.end(), values.begin(), values.end());
    }
    return std::make_pair(losses, bits);
  };
  for (const char* positions : {"learned", "sinusoidal", "rotary"}) {
    INFO("positions " << std::string(positions));
    auto replayed = run(true, positions), eager = run(false, positions);
    CHECK(replayed.first == eager.first);
    CHECK(std::memcmp(replayed.second.data(), eager.second.data(), replayed.second.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("an evaluation replayed from a CUDA graph gives the metrics of an eager one") {
  if (!gpu_available()) return;
  LoadedConfig loaded = quick_config("cuda");
  const std::vector<ReplicaKey> keys = loaded.run.replica_keys();
  Transformer model(loaded.run.model, keys, DType::f32, Device::cuda);
  Optimizer optimizer(model.parameters(), loaded.run.optim, 1);
  StepRunner runner(model, optimizer, true);
  const Batch eval_batch = loaded.task->sample(keys, 64, RandomStream::eval_data, 0).to(Device::cuda);
  EvalRunner recorded(model, *loaded.task, eval_batch, true);
  for (int round = 0; round < 3; ++round) {  // eager, then recorded, then replayed on changed weights
    for (int step = 0; step < 20; ++step) runner.step(loaded.task->sample(keys, 16, RandomStream::data, 20 * round + step));
    const std::vector<Metrics> from_graph = recorded.evaluate();
    const std::vector<Metrics> eager = EvalRunner(model, *loaded.task, eval_batch, /*use_graph=*/false).evaluate();
    INFO("round " << round);
    CHECK(from_graph == eager);
    CHECK(from_graph[0].count("bos_attn_nontrigger.L0H0") == 1);
  }
}
