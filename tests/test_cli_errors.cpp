// Bad input to `mechlab run`: every case must exit with code 2, print one line that names the offending
// JSON path or argument, and leave no run directory behind.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "subprocess.h"

using namespace mechlab::testing;
using nlohmann::json;

namespace {
json valid_config() {
  return json::parse(R"({
    "name": "tiny", "seed": 1,
    "task": {"name": "bigram_backcopy", "seq_len": 16},
    "model": {"n_layers": 1, "n_heads": 2, "d_model": 16, "d_mlp": 32},
    "optim": {"lr": 1e-3},
    "train": {"steps": 5, "batch_size": 4}
  })");
}

struct BadInput {
  const char* what;
  std::string config_text;             // the config file's content
  std::vector<std::string> arguments;  // after the config path
  std::string expected;                // must appear in the one-line message
};

std::string with(const char* pointer, json value) {
  json config = valid_config();
  config[json::json_pointer(pointer)] = std::move(value);
  return config.dump();
}

std::string without(const char* section, const char* key) {
  json config = valid_config();
  if (key) config[section].erase(key); else config.erase(section);
  return config.dump();
}
}  // namespace

TEST_CASE("malformed configs and overrides exit with 2, name the path, and write nothing") {
  const std::string valid = valid_config().dump();
  const std::vector<BadInput> cases = {
      {"broken JSON", R"({"name": "tiny", "model": {"d_model": 16,}})", {}, "invalid JSON at line 1"},
      {"not an object", "[1, 2, 3]", {}, "config.json: a config must be a JSON object"},
      {"unknown key with a suggestion", with("/model/d_modle", 16), {}, "model.d_modle: unknown key; did you mean model.d_model?"},
      {"unknown section", with("/modle", json::object({{"d_model", 16}})), {}, "modle: unknown key"},
      {"wrong type", with("/model/n_layers", "2"), {}, "model.n_layers: must be an integer"},
      {"fractional integer", with("/train/steps", 1.5), {}, "train.steps: must be an integer"},
      {"negative size", with("/model/d_model", -4), {}, "model.d_model: must be >= 1, got -4"},
      {"zero batch", with("/train/batch_size", 0), {}, "train.batch_size: must be >= 1, got 0"},
      {"heads do not divide d_model", with("/model/n_heads", 3), {}, "model.n_heads: must divide d_model (16)"},
      {"NaN learning rate override", valid, {"optim.lr=nan"}, "optim.lr"},
      {"negative learning rate", with("/optim/lr", -0.1), {}, "optim.lr: must be > 0"},
      {"unknown task", with("/task/name", "reverse"), {}, "task.name: unknown task 'reverse'"},
      {"unknown task key", with("/task/seq_length", 16), {}, "task.seq_length: unknown key; did you mean task.seq_len?"},
      {"task length below its minimum", with("/task/seq_len", 1), {}, "task.seq_len: must be >= 2, got 1"},
      {"bad choice", with("/optim/kind", "rmsprop"), {}, "optim.kind: must be one of sgd, adam, adamw, got 'rmsprop'"},
      {"beta out of range", with("/optim/beta2", 1.5), {}, "optim.beta2: must be < 1, got 1.5"},
      {"one lr per seed", with("/seeds", json::array({1, 2})), {"optim.lr=[1e-3,2e-3,3e-3]"}, "optim.lr: give one learning rate or one per seed (2)"},
      {"per-layer switches of the wrong length", with("/model/attention_layers", json::array({true, false})), {}, "model.attention_layers: needs one entry per layer (1)"},
      {"n_ctx shorter than the sequence", with("/model/n_ctx", 8), {}, "model.n_ctx: is 8 but task.seq_len is 16"},
      {"vocabulary that contradicts the task", with("/model/d_vocab", 50), {}, "model.d_vocab: bigram_backcopy has 65 characters plus BOS"},
      {"warmup longer than training", with("/optim/schedule", "warmup_cosine"), {"optim.warmup_steps=10"}, "optim.warmup_steps: is longer than train.steps"},
      {"bad device", valid, {"train.device=tpu"}, "train.device: must be one of cpu, cuda"},
      {"missing name", without("name", nullptr), {}, "name: required key is missing"},
      {"missing task", without("task", nullptr), {}, "task.name: required key is missing"},
      {"override without =", valid, {"optim.lr"}, "optim.lr: missing '='"},
      {"override of an unknown key", valid, {"optim.learning_rate=1e-3"}, "optim.learning_rate: unknown key"},
      {"override of the wrong type", valid, {"model.n_heads=two"}, "model.n_heads: expects an integer, got 'two'"},
      {"negative seed", with("/seed", -1), {}, "seed: must be >= 0, got -1"},
      {"unwritable output directory", valid, {"--out", "/proc/mechlab-run"}, "outputs.dir: cannot write under '/proc'"},
      {"output directory under a file", valid, {"--out", "/etc/hostname/run"}, "outputs.dir: '/etc/hostname' exists and is not a directory"},
      {"negative thread count", valid, {"--threads", "-2"}, "--threads"},
      {"unknown flag", valid, {"--epochs", "3"}, "--epochs"},
  };
  CHECK(cases.size() >= 20);
  for (const BadInput& bad : cases) {
    TempDir dir;
    write_text(dir / "config.json", bad.config_text);
    std::vector<std::string> args{"run", (dir / "config.json").string()};
    bool out_given = false;
    for (const std::string& a : bad.arguments) out_given = out_given || a == "--out";
    args.insert(args.end(), bad.arguments.begin(), bad.arguments.end());
    if (!out_given) args.insert(args.end(), {"--out", (dir / "run").string()});
    ProcessResult result = run_mechlab(args, dir.path());
    INFO(std::string(bad.what) << ": " << result.err);
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(bad.expected) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK_FALSE(std::filesystem::exists(dir / "run"));
    CHECK_FALSE(std::filesystem::exists(dir / "results"));
  }
}

TEST_CASE("validate prints the resolved config with every default, or the error") {
  TempDir dir;
  write_text(dir / "config.json", valid_config().dump());
  ProcessResult ok = run_mechlab({"validate", (dir / "config.json").string(), "optim.lr=3e-4"});
  REQUIRE(ok.exit_code == 0);
  json resolved = json::parse(ok.out);
  CHECK(resolved["optim"]["lr"] == 3e-4);
  CHECK(resolved["model"]["d_vocab"] == 66);  // filled in by the task
  CHECK(resolved["model"]["n_ctx"] == 16);
  CHECK(resolved["model"]["activation"] == "gelu");  // a default
  ProcessResult bad = run_mechlab({"validate", (dir / "config.json").string(), "model.d_model=0"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("model.d_model: must be >= 1, got 0") != std::string::npos);
}
