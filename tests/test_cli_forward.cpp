// `mechlab forward`: a checkpoint run on the probe batch reproduces the trainer's logits bit for bit, and
// its gradients match finite differences.
#include <doctest/doctest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "config/run_config.h"
#include "gradcheck.h"
#include "io/checkpoint.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "subprocess.h"
#include "task/registry.h"
#include "tensor/replica_slice.h"

using namespace mechlab;
using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
const char* kConfig = R"({
  "name": "forward", "seed": 5,
  "task": {"name": "bigram_backcopy", "seq_len": 12},
  "model": {"n_layers": 2, "n_heads": 2, "d_model": 8, "d_mlp": 16},
  "train": {"steps": 30, "batch_size": 8, "eval_every": 30, "eval_batch_size": 8, "checkpoint_every": 30},
  "outputs": {"dumps": "every", "dump_every": 30, "probe_batch_size": 4}
})";
}  // namespace

TEST_CASE("forward on a checkpoint reproduces the probe logits bitwise and its gradients match finite differences") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const fs::path run = dir / "run";
  REQUIRE(run_mechlab({"run", (dir / "config.json").string(), "--out", run.string()}).exit_code == 0);
  const fs::path checkpoint = run / "checkpoints" / "step_00000030.safetensors";
  const fs::path tokens = run / "dumps" / "probe_tokens.npy";

  ProcessResult forward = run_mechlab({"forward", checkpoint.string(), "--input", tokens.string(), "--out",
                                       (dir / "logits.npy").string()});
  REQUIRE(forward.exit_code == 0);
  CHECK(read_text(dir / "logits.npy") == read_text(run / "dumps" / "step_00000030" / "logits.npy"));

  // Gradients of the mean loss, in double precision, against finite differences of the same model.
  Tensor probe = load_npy(tokens);  // (B, T)
  std::vector<int32_t> targets = probe.to_vector<int32_t>();
  std::rotate(targets.begin(), targets.begin() + 1, targets.end());
  save_npy(dir / "targets.npy", Tensor::from_vector<int32_t>(probe.shape(), targets));
  ProcessResult with_grads = run_mechlab({"forward", checkpoint.string(), "--input", tokens.string(), "--out",
                                          (dir / "logits64.npy").string(), "--targets", (dir / "targets.npy").string(),
                                          "--grads", (dir / "grads.safetensors").string(), "--f64"});
  REQUIRE(with_grads.exit_code == 0);
  SafetensorsFile grads = load_safetensors(dir / "grads.safetensors");

  RunConfig config = run_config_from_resolved(read_checkpoint_info(checkpoint).config);
  Transformer model(config.model, {{5, 0}}, DType::f64);
  load_checkpoint(checkpoint, model, nullptr, 0);
  Tensor inputs = probe.view({1, probe.dim(0), probe.dim(1)});
  Tensor target_ids = Tensor::from_vector<int32_t>({1, probe.dim(0), probe.dim(1)}, targets);
  NoGradGuard no_grad;
  auto loss = [&] { return cross_entropy(model.forward(inputs), target_ids).item(); };
  CHECK(std::stod(grads.metadata.at("loss")) == doctest::Approx(loss()).epsilon(1e-12));
  REQUIRE(grads.tensors.size() == model.parameters().size());
  for (const NamedParameter& p : model.parameters()) {
    const double error = finite_difference_error(loss, p.value, grads.at(p.name).to_vector<double>());
    INFO(p.name << ": relative error " << error);
    CHECK(grads.at(p.name).shape() == Shape(p.value.shape().begin() + 1, p.value.shape().end()));
    CHECK(error < 1e-6);
  }

  // The default single-precision gradients agree with the double-precision ones.
  REQUIRE(run_mechlab({"forward", checkpoint.string(), "--input", tokens.string(), "--out", (dir / "l32.npy").string(),
                       "--targets", (dir / "targets.npy").string(), "--grads", (dir / "grads32.safetensors").string()})
              .exit_code == 0);
  SafetensorsFile grads32 = load_safetensors(dir / "grads32.safetensors");
  for (const NamedTensor& g : grads.tensors) {
    std::vector<double> exact = g.value.to_vector<double>(), single = grads32.at(g.name).to_vector<double>();
    double scale = 1e-2, diff = 0;
    for (size_t i = 0; i < exact.size(); ++i) {
      scale = std::max(scale, std::abs(exact[i]));
      diff = std::max(diff, std::abs(exact[i] - single[i]));
    }
    INFO(g.name);
    CHECK(diff / scale < 1e-4);
  }
}

TEST_CASE("forward's gradients for a readout model are those of the training loss: the query's squared error only") {
  TempDir dir;
  nlohmann::json config = nlohmann::json::parse(read_text(source_dir() + "/configs/icl_linreg/quick_h2.json"));
  config["train"] = {{"steps", 20}, {"batch_size", 16}, {"eval_batch_size", 16}, {"checkpoint_every", 20}};
  config["outputs"] = {{"dumps", "none"}};
  write_text(dir / "config.json", config.dump());
  const fs::path run = dir / "run";
  REQUIRE(run_mechlab({"run", (dir / "config.json").string(), "--out", run.string()}).exit_code == 0);
  const fs::path checkpoint = run / "checkpoints" / "step_00000020.safetensors";
  RunConfig resolved = run_config_from_resolved(read_checkpoint_info(checkpoint).config);
  const auto task = make_task(resolved.task);
  const Batch batch = task->sample({{9, 0}}, 4, RandomStream::eval_data, 0);  // (1, 4, 41, 6), targets (1, 4, 41, 1)
  save_npy(dir / "x.npy", replica_slice(batch.inputs, 0));
  // Targets at every position: only the query's may count, as in training.
  std::vector<float> targets(4 * 41);
  for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<float>(std::sin(0.3 * static_cast<double>(i)));
  save_npy(dir / "y.npy", Tensor::from_vector<float>({4, 41, 1}, targets));
  REQUIRE(run_mechlab({"forward", checkpoint.string(), "--input", (dir / "x.npy").string(), "--out",
                       (dir / "out.npy").string(), "--targets", (dir / "y.npy").string(), "--grads",
                       (dir / "g.safetensors").string(), "--f64"})
              .exit_code == 0);
  SafetensorsFile grads = load_safetensors(dir / "g.safetensors");

  Transformer model(resolved.model, {{resolved.seeds[0], 0}}, DType::f64);
  load_checkpoint(checkpoint, model, nullptr, 0);
  const Tensor inputs = batch.inputs.to(DType::f64);
  const Tensor query_targets = slice(Tensor::from_vector<float>({1, 4, 41, 1}, targets).to(DType::f64), 2, 40, 41);
  NoGradGuard no_grad;
  auto loss = [&] { return mse(slice(model.forward(inputs), 2, 40, 41), query_targets).item(); };  // the query only
  CHECK(std::stod(grads.metadata.at("loss")) == doctest::Approx(loss()).epsilon(1e-12));
  for (const NamedParameter& p : model.parameters()) {
    const double error = finite_difference_error(loss, p.value, grads.at(p.name).to_vector<double>());
    INFO(p.name << ": relative error " << error);
    CHECK(error < 1e-6);
  }
}
