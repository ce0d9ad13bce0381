// scripts/reference_forward.py, a NumPy transformer written from the documented conventions (the README's "Model
// options" and docs/config.md), against `mechlab forward --f64` on checkpoints trained a few steps with each model
// option: positions, attention kinds, LayerNorm variants, biases, activations, input and output kinds, the
// residual stream and the per-layer switches. Someone porting a mechlab model elsewhere gets what the docs say.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "io/npy.h"
#include "report.h"
#include "subprocess.h"

using namespace mechlab;
using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
struct Variant {
  std::string what, config;
  std::vector<std::string> overrides;
};

// A few steps at a large learning rate, so LayerNorm weights and biases leave their initial 1 and 0.
const std::vector<std::string> kShort = {"train.steps=5",      "train.batch_size=8",      "train.eval_every=5",
                                         "train.log_every=5",  "train.eval_batch_size=8", "train.checkpoint_every=5",
                                         "outputs.dumps=log",  "outputs.probe_batch_size=4", "optim.lr=0.03"};
const std::string kTokens = "bigram_backcopy/quick.json";
const std::vector<std::string> kSmallTokens = {"model.n_layers=2", "model.n_heads=2", "model.d_model=16", "model.d_mlp=32",
                                               "task.seq_len=12"};

std::vector<Variant> variants() {
  auto tokens = [](std::string what, std::vector<std::string> more) {
    std::vector<std::string> all = kSmallTokens;
    all.insert(all.end(), more.begin(), more.end());
    return Variant{std::move(what), kTokens, all};
  };
  return {
      tokens("learned positions, pre-LayerNorm, biases, GELU", {"model.biases=true", "model.activation=gelu"}),
      tokens("sinusoidal positions, LayerNorm without weight", {"model.positions=sinusoidal", "model.layernorm_weight=false"}),
      tokens("rotary positions, attention-only, d_head 6", {"model.positions=rotary", "model.rotary_base=2000",
                                                            "model.d_mlp=0", "model.d_head=6"}),
      tokens("ReLU attention over the visible keys, the query excluding itself, score scale 0.3",
             {"model.attention=relu", "model.attention_excludes_self=true", "model.attention_scale=0.3"}),
      tokens("ReLU attention over the sequence length, no LayerNorm", {"model.attention=relu_by_length", "model.layernorm=none"}),
      tokens("linear attention, no residual stream", {"model.attention=linear", "model.residual=false"}),
      tokens("linear attention over the visible keys, layer 0 without attention, layer 1 without MLP",
             {"model.attention=linear_by_length", "model.attention_layers=[false,true]", "model.mlp_layers=[true,false]"}),
      tokens("no positions, no biases anywhere", {"model.positions=none", "model.biases=false", "model.layernorm_bias=false"}),
      {"token pairs with biases and rotary positions", "retrieval/quick_1layer.json",
       {"model.biases=true", "model.positions=rotary", "model.d_model=16"}},
      {"vectors as they are, the heads writing the output, softmax excluding the query (in-context regression)",
       "icl_linreg/h2.json", {"task.eval_length_prompts=16"}},
      {"vectors through W_in with biases, a readout after LayerNorm and an MLP", "icl_linreg/h2.json",
       {"task.eval_length_prompts=16", "model.input_projection=true", "model.biases=true", "model.output=readout",
        "model.residual=true", "model.layernorm=pre", "model.d_model=8", "model.d_head=4", "model.d_mlp=8"}},
  };
}
}  // namespace

TEST_CASE("scripts/reference_forward.py, written from the docs, gives mechlab's outputs for every model option") {
  if (!python_imports("numpy")) {
    skip_test("the reference needs python3-numpy (scripts/setup --figures installs it)");
    return;
  }
  TempDir dir;
  int index = 0;
  for (const Variant& v : variants()) {
    CAPTURE(v.what);
    const fs::path run = dir / ("run" + std::to_string(index++));
    std::vector<std::string> args = {"run", source_dir() + "/configs/" + v.config, "--out", run.string()};
    args.insert(args.end(), kShort.begin(), kShort.end());
    args.insert(args.end(), v.overrides.begin(), v.overrides.end());
    const ProcessResult trained = run_mechlab(args);
    REQUIRE_MESSAGE(trained.exit_code == 0, trained.err);
    const std::string checkpoint = (run / "checkpoints" / "step_00000005.safetensors").string();
    const std::string input = (run / "dumps" / "probe_tokens.npy").string();
    const ProcessResult forward = run_mechlab({"forward", checkpoint, "--input", input, "--out", (run / "ours.npy").string(), "--f64"});
    REQUIRE_MESSAGE(forward.exit_code == 0, forward.err);
    const std::string command = "/usr/bin/python3 " + source_dir() + "/scripts/reference_forward.py " + checkpoint + " " +
                                input + " " + (run / "reference.npy").string() + " > " + (run / "reference.log").string() + " 2>&1";
    const int status = std::system(command.c_str());
    INFO(read_text(run / "reference.log"));
    REQUIRE(status == 0);
    const Tensor ours = load_npy(run / "ours.npy"), reference = load_npy(run / "reference.npy");
    REQUIRE(ours.shape() == reference.shape());
    const std::vector<double> a = ours.to_vector<double>(), b = reference.to_vector<double>();
    double largest = 0, difference = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      largest = std::max(largest, std::abs(a[i]));
      difference = std::max(difference, std::abs(a[i] - b[i]));
    }
    INFO("largest output " << largest << ", largest difference " << difference);
    CHECK(largest > 0.01);  // outputs that say something
    CHECK(difference <= 1e-10 * (1 + largest));
  }
}
