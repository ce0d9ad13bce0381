// The config schema engine against a sample schema shaped like mechlab's: every user mistake must come back
// as one line starting with the JSON path, so these tests compare whole messages, not fragments.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "config/closest.h"
#include "config/config_error.h"
#include "config/json_file.h"
#include "config/schema.h"

using namespace mechlab;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

const Schema& copy_task() {
  static const Schema schema =
      Schema().integer("seq_len", 8, "Tokens per sequence.", 1, 512).integer("vocab", nullptr, "Vocabulary size.", 2);
  return schema;
}

const Schema& sort_task() {
  static const Schema schema = Schema()
                                   .integer("seq_len", 4, "Numbers to sort.", 1, 64)
                                   .number("noise", 0.0, "Probability of a corrupted input token.", 0, 1);
  return schema;
}

const Schema* task_schema(const std::string& name) {
  if (name == "copy") return &copy_task();
  if (name == "sort") return &sort_task();
  return nullptr;
}

const Schema& sample() {
  static const Schema schema =
      Schema()
          .string("name", nullptr, "Run name, used for the output directory.")
          .integer("seed", 0, "Seed of the counter-based random number generator.", 0)
          .integer("model.d_model", nullptr, "Width of the residual stream.", 1, 4096)
          .integer("model.n_layers", 2, "Number of transformer blocks.", 1, 16)
          .choice("model.attention", "softmax", {"softmax", "relu", "linear"}, "Kind of attention pattern.")
          .boolean("model.layer_norm", true, "Whether blocks apply LayerNorm.")
          .boolean_list("model.drop_mlp", json::array(), "Per-layer switch that removes the MLP sublayer.")
          .number_list("optim.lr", 1e-3, "Learning rate, or one per replica.", 0, inf, true, true)
          .number("optim.weight_decay", 0.0, "Decoupled weight decay.", 0, 1)
          .number_list("optim.betas", json::array({0.9, 0.999}), "Adam's moment decay rates.", 0, 1)
          .integer("train.steps", 1000, "Optimizer steps.", 1)
          .integer_list("train.eval_steps", json::array(), "Steps at which to evaluate.", 0)
          .string("outputs.dir", "results", "Where run directories are created.")
          .section_by("task", "task.name", task_schema, [] {
            return std::vector<std::string>{"copy", "sort"};
          });
  return schema;
}

json minimal() {
  return json::parse(R"({"name": "r", "model": {"d_model": 64}, "task": {"name": "copy", "vocab": 10}})");
}

// The minimal config with `patch` merged in (RFC 7386: a null removes a key).
json with(const json& patch) {
  json config = minimal();
  config.merge_patch(patch);
  return config;
}

// The ConfigError's what(), after checking that it starts with its path.
template <class Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const ConfigError& error) {
    const std::string what = error.what();
    CHECK_MESSAGE(what.rfind(error.path() + ": ", 0) == 0, what);
    return what;
  }
  return "no error";
}

std::string resolve_error(const json& user) {
  return error_of([&] { (void)sample().resolve(user); });
}

std::string override_error(json user, const std::string& assignment) {
  return error_of([&] { sample().apply_override(user, assignment); });
}

json overridden(json user, const std::string& assignment) {
  sample().apply_override(user, assignment);
  return user;
}

class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    path_ = fs::temp_directory_path() /
            ("mechlab-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(path_);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

}  // namespace

TEST_CASE("closest_match finds plausible typos, ignoring case, and nothing else") {
  const std::vector<std::string> keys{"d_model", "n_layers", "n_heads", "attention"};
  CHECK(closest_match("d_modle", keys) == "d_model");
  CHECK(closest_match("D_MODEL", keys) == "d_model");
  CHECK(closest_match("n_layer", keys) == "n_layers");
  CHECK(closest_match("atention", keys) == "attention");
  CHECK(closest_match("dropout", keys) == "");
  CHECK(closest_match("xy", {"lr"}) == "");
  CHECK(closest_match("anything", {}) == "");
}

TEST_CASE("a valid config resolves to the user's values plus every default") {
  const json expected = json::parse(R"({
    "name": "r", "seed": 0,
    "model": {"d_model": 64, "n_layers": 2, "attention": "softmax", "layer_norm": true, "drop_mlp": []},
    "optim": {"lr": 0.001, "weight_decay": 0.0, "betas": [0.9, 0.999]},
    "train": {"steps": 1000, "eval_steps": []},
    "outputs": {"dir": "results"},
    "task": {"name": "copy", "seq_len": 8, "vocab": 10}})");
  CHECK(sample().resolve(minimal()) == expected);

  const json resolved = sample().resolve(with(json::parse(
      R"({"seed": 7, "optim": {"lr": [0.01, 0.02], "weight_decay": 0}, "train": {"steps": 1e5, "eval_steps": [0, 10]},
          "task": {"name": "sort", "vocab": null, "noise": 0.25}})")));
  CHECK(resolved["seed"] == 7);
  CHECK(resolved["optim"]["lr"] == json::array({0.01, 0.02}));
  CHECK(resolved["optim"]["weight_decay"].is_number_float());  // numbers come back as doubles
  CHECK(resolved["train"]["steps"] == 100000);                 // a whole float is accepted as an integer
  CHECK(resolved["train"]["steps"].is_number_integer());
  CHECK(resolved["task"] == json::parse(R"({"name": "sort", "seq_len": 4, "noise": 0.25})"));
  // scalar_or_list keeps a single value as given.
  CHECK(sample().resolve(with({{"optim", {{"lr", 0.01}}}}))["optim"]["lr"] == 0.01);
}

TEST_CASE("unknown keys name the key and suggest the intended one") {
  CHECK(resolve_error(with({{"model", {{"d_modle", 64}}}})) ==
        "model.d_modle: unknown key; did you mean model.d_model?");
  CHECK(resolve_error(with({{"sed", 1}})) == "sed: unknown key; did you mean seed?");
  CHECK(resolve_error(with({{"optm", {{"lr", 0.1}}}})) == "optm: unknown key; did you mean optim?");
  // A key put in the wrong section is found by its name.
  CHECK(resolve_error(with({{"lr", 0.1}})) == "lr: unknown key; did you mean optim.lr?");
  // A typo of a required key is reported as the typo, not as the missing key.
  CHECK(
      resolve_error(json::parse(R"({"name": "r", "model": {"d_modle": 64}, "task": {"name": "copy", "vocab": 10}})")) ==
      "model.d_modle: unknown key; did you mean model.d_model?");
}

TEST_CASE("unknown keys without a close match list the valid keys") {
  CHECK(resolve_error(with({{"model", {{"dropout", 0.1}}}})) ==
        "model.dropout: unknown key; valid keys of model: d_model, n_layers, attention, layer_norm, drop_mlp");
  CHECK(resolve_error(with({{"data", {{"path", "x"}}}})) ==
        "data: unknown key; valid top-level keys: name, seed, model, optim, train, outputs, task");
}

TEST_CASE("objects appear only where the schema has sections") {
  CHECK(resolve_error(with({{"model", 3}})) ==
        "model: must be an object (a section with keys d_model, n_layers, attention, layer_norm, drop_mlp), got 3");
  CHECK(resolve_error(with({{"seed", {{"value", 1}}}})) == "seed: must be an integer >= 0, got an object");
  CHECK(resolve_error(with({{"model.d_model", 64}})) ==
        "model.d_model: a key cannot contain '.'; nest objects instead: {\"model\": {\"d_model\": ...}}");
  CHECK(
      resolve_error(json::array({1, 2})) ==
      "(top level): must be an object (a config with keys name, seed, model, optim, train, outputs, task), got [1,2]");
}

TEST_CASE("each type rejects values of another type") {
  CHECK(resolve_error(with({{"seed", "3"}})) == "seed: must be an integer >= 0, got '3'");
  CHECK(resolve_error(with({{"seed", true}})) == "seed: must be an integer >= 0, got true");
  CHECK(resolve_error(with({{"seed", 3.5}})) == "seed: must be an integer >= 0, got 3.5");
  CHECK(resolve_error(with({{"optim", {{"weight_decay", "0.1"}}}})) ==
        "optim.weight_decay: must be a number >= 0 and <= 1, got '0.1'");
  CHECK(resolve_error(with({{"model", {{"layer_norm", "yes"}}}})) ==
        "model.layer_norm: must be true or false, got 'yes'");
  CHECK(resolve_error(with({{"name", 5}})) == "name: must be a string, got 5");
  CHECK(resolve_error(with({{"model", {{"attention", 1}}}})) ==
        "model.attention: must be one of softmax, relu, linear, got 1");
  CHECK(resolve_error(with({{"optim", {{"betas", 0.9}}}})) ==
        "optim.betas: must be a list of numbers >= 0 and <= 1, got 0.9");
  CHECK(resolve_error(with({{"train", {{"eval_steps", "10"}}}})) ==
        "train.eval_steps: must be a list of integers >= 0, got '10'");
  CHECK(resolve_error(with({{"model", {{"drop_mlp", true}}}})) ==
        "model.drop_mlp: must be a list of booleans, got true");
  CHECK(resolve_error(with({{"optim", {{"lr", "fast"}}}})) ==
        "optim.lr: must be a number > 0 or a list of them, got 'fast'");
}

TEST_CASE("numbers must be finite and in range") {
  CHECK(resolve_error(with({{"optim", {{"weight_decay", std::nan("")}}}})) ==
        "optim.weight_decay: must be a finite number, got nan");
  CHECK(resolve_error(with({{"optim", {{"weight_decay", inf}}}})) ==
        "optim.weight_decay: must be a finite number, got inf");
  CHECK(resolve_error(with({{"seed", -1}})) == "seed: must be >= 0, got -1");
  CHECK(resolve_error(with({{"model", {{"d_model", 0}}}})) == "model.d_model: must be >= 1, got 0");
  CHECK(resolve_error(with({{"model", {{"n_layers", 17}}}})) == "model.n_layers: must be <= 16, got 17");
  CHECK(resolve_error(with({{"optim", {{"lr", 0}}}})) == "optim.lr: must be > 0, got 0");
  CHECK(resolve_error(with({{"optim", {{"weight_decay", 1.5}}}})) == "optim.weight_decay: must be <= 1, got 1.5");
  CHECK(resolve_error(with({{"model", {{"attention", "sofmax"}}}})) ==
        "model.attention: must be one of softmax, relu, linear, got 'sofmax'");
}

TEST_CASE("list elements are checked one by one, with their index in the path") {
  CHECK(resolve_error(with({{"optim", {{"lr", {1e-3, -0.1}}}}})) == "optim.lr[1]: must be > 0, got -0.1");
  CHECK(resolve_error(with({{"optim", {{"betas", {0.9, "x"}}}}})) ==
        "optim.betas[1]: must be a number >= 0 and <= 1, got 'x'");
  CHECK(resolve_error(with({{"optim", {{"betas", {0.9, 1.5}}}}})) == "optim.betas[1]: must be <= 1, got 1.5");
  CHECK(resolve_error(with({{"train", {{"eval_steps", {10, 2.5}}}}})) ==
        "train.eval_steps[1]: must be an integer >= 0, got 2.5");
  CHECK(resolve_error(with({{"model", {{"drop_mlp", {true, 1}}}}})) ==
        "model.drop_mlp[1]: must be true or false, got 1");
  // scalar_or_list: a single value is checked like an element, at the key's own path.
  CHECK(resolve_error(with({{"optim", {{"lr", -1}}}})) == "optim.lr: must be > 0, got -1");
}

TEST_CASE("required keys must be present") {
  CHECK(resolve_error(with({{"model", {{"d_model", nullptr}}}})) ==
        "model.d_model: required key is missing; set it to an integer >= 1 and <= 4096 (Width of the residual stream)");
  CHECK(resolve_error(with({{"name", nullptr}})) ==
        "name: required key is missing; set it to a string (Run name, used for the output directory)");
  // The first problem in declaration order is the one reported.
  CHECK(resolve_error(with({{"seed", -1}, {"name", nullptr}})) ==
        "name: required key is missing; set it to a string (Run name, used for the output directory)");
}

TEST_CASE("dynamic sections are checked against the selected schema") {
  CHECK(sample().resolve(with({{"task", {{"seq_len", 16}}}}))["task"] ==
        json::parse(R"({"name": "copy", "seq_len": 16, "vocab": 10})"));
  CHECK(resolve_error(with({{"task", {{"name", "sortt"}}}})) ==
        "task.name: unknown task 'sortt'; did you mean sort? known tasks: copy, sort");
  CHECK(resolve_error(with({{"task", {{"name", "reverse"}}}})) ==
        "task.name: unknown task 'reverse'; known tasks: copy, sort");
  CHECK(resolve_error(with({{"task", {{"name", 3}}}})) == "task.name: must be a string, got 3");
  CHECK(resolve_error(with({{"task", nullptr}})) ==
        "task.name: required key is missing; set it to one of the known tasks: copy, sort");
  CHECK(resolve_error(with({{"task", {{"seq_lne", 5}}}})) == "task.seq_lne: unknown key; did you mean task.seq_len?");
  CHECK(resolve_error(with({{"task", {{"noise", 0.1}}}})) ==
        "task.noise: unknown key; valid keys of task: name, seq_len, vocab");
  CHECK(resolve_error(with({{"task", {{"seq_len", 0}}}})) == "task.seq_len: must be >= 1, got 0");
  CHECK(resolve_error(with({{"task", {{"vocab", nullptr}}}})) ==
        "task.vocab: required key is missing; set it to an integer >= 2 (Vocabulary size)");
  CHECK(resolve_error(with({{"tsak", {{"name", "copy"}}}})) == "tsak: unknown key; did you mean task?");
}

TEST_CASE("overrides are parsed by the key's type") {
  const json base = minimal();
  CHECK(overridden(base, "model.n_layers=4")["model"]["n_layers"] == 4);
  CHECK(overridden(base, "train.steps=1e5")["train"]["steps"] == 100000);
  CHECK(overridden(base, "optim.weight_decay=0.01")["optim"]["weight_decay"] == 0.01);
  CHECK(overridden(base, "model.layer_norm=no")["model"]["layer_norm"] == false);
  CHECK(overridden(base, "model.layer_norm=TRUE")["model"]["layer_norm"] == true);
  CHECK(overridden(base, "name=run 2")["name"] == "run 2");
  CHECK(overridden(base, "model.attention=relu")["model"]["attention"] == "relu");
  CHECK(overridden(base, "optim.betas=[0.8, 0.9]")["optim"]["betas"] == json::array({0.8, 0.9}));
  CHECK(overridden(base, "optim.betas=0.8, 0.95")["optim"]["betas"] == json::array({0.8, 0.95}));
  CHECK(overridden(base, "optim.betas=0.8")["optim"]["betas"] == json::array({0.8}));
  CHECK(overridden(base, "train.eval_steps=10,20")["train"]["eval_steps"] == json::array({10, 20}));
  CHECK(overridden(base, "train.eval_steps=[]")["train"]["eval_steps"] == json::array());
  CHECK(overridden(base, "model.drop_mlp=true,false")["model"]["drop_mlp"] == json::array({true, false}));
  CHECK(overridden(base, "optim.lr=3e-3")["optim"]["lr"] == 3e-3);  // scalar_or_list keeps a scalar
  CHECK(overridden(base, "optim.lr=1e-3,3e-3")["optim"]["lr"] == json::array({1e-3, 3e-3}));
  CHECK(overridden(base, "model.d_model=128")["model"]["d_model"] == 128);
  // The overridden config then resolves.
  CHECK(sample().resolve(overridden(base, "optim.lr=[1e-3,3e-3]"))["optim"]["lr"] == json::array({1e-3, 3e-3}));
}

TEST_CASE("overrides create the sections they need") {
  json user = json::object();
  sample().apply_override(user, "model.d_model=64");
  sample().apply_override(user, "outputs.dir=/tmp/runs");
  CHECK(user == json::parse(R"({"model": {"d_model": 64}, "outputs": {"dir": "/tmp/runs"}})"));
  json null_user;
  sample().apply_override(null_user, "seed=3");
  CHECK(null_user == json::parse(R"({"seed": 3})"));
}

TEST_CASE("override mistakes are one line on the key") {
  const json base = minimal();
  CHECK(override_error(base, "model.n_layers=abc") == "model.n_layers: expects an integer, got 'abc'");
  CHECK(override_error(base, "model.n_layers=3.5") == "model.n_layers: expects an integer, got '3.5'");
  CHECK(override_error(base, "optim.weight_decay=nan") == "optim.weight_decay: expects a finite number, got 'nan'");
  CHECK(override_error(base, "optim.lr=inf") == "optim.lr: expects a finite number, got 'inf'");
  CHECK(override_error(base, "optim.weight_decay=0.1x") == "optim.weight_decay: expects a finite number, got '0.1x'");
  CHECK(override_error(base, "model.layer_norm=maybe") ==
        "model.layer_norm: expects true or false (or yes/no, 1/0), got 'maybe'");
  CHECK(override_error(base, "model.attention=sofmax") ==
        "model.attention: must be one of softmax, relu, linear, got 'sofmax'");
  CHECK(override_error(base, "model.n_layers=0") == "model.n_layers: must be >= 1, got 0");
  CHECK(override_error(base, "train.eval_steps=10,x") == "train.eval_steps[1]: expects an integer, got 'x'");
  CHECK(override_error(base, "optim.lr=1e-3,-1") == "optim.lr[1]: must be > 0, got -1.0");
  CHECK(override_error(base, "optim.betas=[0.9,") ==
        "optim.betas: expects a list like [1e-3, 3e-3] or 1e-3,3e-3, got '[0.9,'");
  CHECK(override_error(base, "model.d_modle=64") == "model.d_modle: unknown key; did you mean model.d_model?");
  CHECK(override_error(base, "modle.d_model=64") == "modle.d_model: unknown key; did you mean model.d_model?");
  CHECK(override_error(base, "wandb.project=x") ==
        "wandb.project: unknown key; valid top-level keys: name, seed, model, optim, train, outputs, task");
  CHECK(override_error(base, "model.d_model.x=1") ==
        "model.d_model.x: unknown key; model.d_model is a value, not a section");
  CHECK(override_error(base, "model=3") ==
        "model: a section cannot be set as a whole; set one of its keys (valid keys of model: d_model, n_layers, "
        "attention, layer_norm, drop_mlp)");
  CHECK(override_error(base, "model.d_model") == "model.d_model: missing '='; an override is key=value, e.g. name=...");
  CHECK(override_error(base, "=3") == "=3: missing key before '='; an override is key=value");
  CHECK(override_error(json::object({{"model", 3}}), "model.d_model=64") ==
        "model: must be an object (a section), got 3");
}

TEST_CASE("overrides inside a dynamic section use the selected schema") {
  CHECK(overridden(minimal(), "task.seq_len=16")["task"]["seq_len"] == 16);
  CHECK(overridden(minimal(), "task.name=sort")["task"]["name"] == "sort");
  json user = json::object();
  sample().apply_override(user, "task.name=sort");
  sample().apply_override(user, "task.noise=0.5");
  CHECK(user == json::parse(R"({"task": {"name": "sort", "noise": 0.5}})"));
  CHECK(override_error(minimal(), "task.seq_lne=16") == "task.seq_lne: unknown key; did you mean task.seq_len?");
  CHECK(override_error(minimal(), "task.seq_len=0") == "task.seq_len: must be >= 1, got 0");
  CHECK(override_error(json::object(), "task.seq_len=16") ==
        "task.name: must be set before task.seq_len; put it in the config or override task.name=... earlier on the "
        "command line");
  CHECK(override_error(minimal(), "task.name=reverse") == "task.name: unknown task 'reverse'; known tasks: copy, sort");
}

TEST_CASE("config files: syntax errors with line and column, missing files, repeated keys") {
  TemporaryDirectory directory;
  const fs::path good = directory.write("good.json", R"({"name": "r", "model": {"d_model": 64}})");
  CHECK(read_json_file(good) == json::parse(R"({"name": "r", "model": {"d_model": 64}})"));

  const fs::path broken = directory.write("broken.json", "{\n  \"name\": \"r\",\n  \"seed\": 1,\n}\n");
  CHECK(error_of([&] { (void)read_json_file(broken); }) ==
        broken.string() +
            ": invalid JSON at line 4, column 1: syntax error while parsing object key - unexpected '}'; expected "
            "string literal");

  const fs::path missing = directory / "missing.json";
  CHECK(error_of([&] { (void)read_json_file(missing); }) == missing.string() + ": file not found");
  CHECK(error_of([&] { (void)read_json_file(directory / "."); }) ==
        (directory / ".").string() + ": cannot read: Is a directory");

  const fs::path repeated = directory.write("repeated.json", R"({"optim": {"lr": 0.1, "betas": [1, 2], "lr": 0.2}})");
  CHECK(error_of([&] { (void)read_json_file(repeated); }) ==
        "optim.lr: written twice in " + repeated.string() + "; keep one");
}

TEST_CASE("markdown has one table per section with every key") {
  const std::string text = sample().markdown();
  auto has = [&text](const std::string& part) { CHECK_MESSAGE(text.find(part) != std::string::npos, part); };
  has("## Top level\n\n| key | type | default | meaning |\n|---|---|---|---|\n");
  has("| `name` | string | required | Run name, used for the output directory. |\n");
  has("| `seed` | integer | `0` | Seed of the counter-based random number generator. Must be >= 0. |\n");
  has("## `model`\n");
  has("| `model.d_model` | integer | required | Width of the residual stream. Must be >= 1 and <= 4096. |\n");
  has("| `model.attention` | choice | `\"softmax\"` | Kind of attention pattern. One of `softmax`, `relu`, `linear`. "
      "|\n");
  has("| `optim.lr` | number or list of numbers | `0.001` | Learning rate, or one per replica. Each element must be > "
      "0. "
      "A single value is also accepted. |\n");
  has("| `optim.betas` | list of numbers | `[0.9,0.999]` | Adam's moment decay rates. Each element must be >= 0 and <= "
      "1. |\n");
  has("### `task.name` = `copy`\n");
  has("| `task.vocab` | integer | required | Vocabulary size. Must be >= 2. |\n");
  has("### `task.name` = `sort`\n");
  has("| `task.noise` | number | `0.0` | Probability of a corrupted input token. Must be >= 0 and <= 1. |\n");
}

TEST_CASE("bad declarations are programming errors") {
  CHECK_THROWS_AS(Schema().integer("a", 0, "", 1), std::invalid_argument);
  CHECK_THROWS_AS(Schema().integer("a", 0, "").integer("a", 1, ""), std::invalid_argument);
  CHECK_THROWS_AS(Schema().integer("a", 0, "").integer("a.b", 1, ""), std::invalid_argument);
  CHECK_THROWS_AS(Schema().choice("a", "x", {"y"}, ""), std::invalid_argument);
}
