// A run config's `analysis` section: the analyses run on the live model at the chosen steps, into
// analysis/step_<N>/<name>/; each step's arrays are bitwise those of `mechlab analyze --step N` on that step's
// checkpoint, the training itself is unchanged (every other file equals a run without the section), and a
// bad entry stops the run before it starts, naming the config path; the heatmap script draws the results.
// (Kills during an analysis are in test_faults.cpp.)
#include <doctest/doctest.h>

#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/json_file.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "report.h"
#include "run_comparison.h"
#include "subprocess.h"

using namespace mechlab;
using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
const char* kAnalyses = R"({"batch_size": 8, "analyses": [
  {"name": "heads", "kind": "ablation", "components": "heads", "value": "mean"},
  {"name": "z", "kind": "activation_patching", "family": "z"},
  {"name": "importance", "kind": "head_importance", "metric": "answer_loss"}]})";

nlohmann::json config_with(const nlohmann::json& analysis) {
  nlohmann::json config = nlohmann::json::parse(R"({
    "name": "analysis_in_training", "seed": 5,
    "task": {"name": "bigram_backcopy", "seq_len": 16},
    "model": {"n_layers": 2, "n_heads": 2, "d_model": 16, "d_mlp": 32, "layernorm_bias": true},
    "optim": {"lr": 3e-3},
    "train": {"steps": 40, "batch_size": 8, "eval_every": 20, "eval_batch_size": 16, "checkpoint_every": 20},
    "outputs": {"dumps": "none"}})");
  if (!analysis.is_null()) config["analysis"] = analysis;
  return config;
}

std::vector<double> array(const fs::path& file) { return load_npy(file).to(DType::f64).to_vector<double>(); }
}  // namespace

TEST_CASE("analysis section: each step's results equal mechlab analyze on that step's checkpoint; training is unchanged") {
  TempDir dir;
  nlohmann::json analysis = nlohmann::json::parse(kAnalyses);
  analysis["steps"] = {0};
  analysis["every"] = 20;
  write_text(dir / "with.json", config_with(analysis).dump());
  write_text(dir / "without.json", config_with(nullptr).dump());
  const fs::path with = dir / "with", without = dir / "without";
  const ProcessResult trained = run_mechlab({"run", (dir / "with.json").string(), "--out", with.string()});
  REQUIRE_MESSAGE(trained.exit_code == 0, trained.err);
  REQUIRE(run_mechlab({"run", (dir / "without.json").string(), "--out", without.string()}).exit_code == 0);
  // Only the analyses and the recorded config differ; the checkpoints' tensors (weights and optimizer
  // moments) are bitwise the same.
  for (const std::string& difference : run_differences(with, without)) {
    INFO(difference);
    if (difference.rfind("checkpoints/", 0) == 0) {
      const SafetensorsFile a = load_safetensors(with / difference), b = load_safetensors(without / difference);
      REQUIRE(a.tensors.size() == b.tensors.size());
      for (size_t i = 0; i < a.tensors.size(); ++i)
        CHECK(a.tensors[i].value.to_vector<double>() == b.tensors[i].value.to_vector<double>());
    } else {
      CHECK((difference.rfind("analysis/", 0) == 0 || difference == "config.json"));
    }
  }
  write_text(dir / "spec.json", kAnalyses);
  for (int step : {20, 40}) {
    const ProcessResult analyzed =
        run_mechlab({"analyze", with.string(), (dir / "spec.json").string(), "--step", std::to_string(step)});
    REQUIRE_MESSAGE(analyzed.exit_code == 0, analyzed.err);
    const fs::path during = with / "analysis" / fmt::format("step_{:08d}", step);
    for (const char* file : {"heads/metric.npy", "z/metric.npy", "z/normalised.npy", "importance/gate_gradient.npy",
                             "importance/leave_one_out.npy"}) {
      INFO(step << " " << file);
      CHECK(array(during / file) == array(with / "analysis" / file));
    }
    CHECK(read_json_file(during / "z" / "table.json")["made"]["step"] == step);
  }
  // The model learns between step 0 and 40: what the heads do has changed.
  CHECK(array(with / "analysis" / "step_00000000" / "z" / "metric.npy") !=
        array(with / "analysis" / "step_00000040" / "z" / "metric.npy"));
  CHECK(fs::exists(with / "analysis" / "step_00000000" / "heads" / "table.json"));
  CHECK_FALSE(fs::exists(with / "analysis" / "step_00000010"));
}

TEST_CASE("analysis section: a bad entry stops the run before it starts, naming the config path") {
  TempDir dir;
  struct Case {
    nlohmann::json analysis;
    std::string path;
  };
  const std::vector<Case> cases = {
      {{{"steps", {10}}, {"analyses", {{{"name", "a"}, {"kind", "ablation"}, {"components", {"L0H5"}}}}}},
       "analysis.analyses[0].components[0]"},
      {{{"steps", {10}}, {"analyses", {{{"name", "a"}, {"kind", "ablation"}, {"metric", "mse"}}}}}, "analysis.analyses[0].metric"},
      {{{"steps", {99}}, {"analyses", {{{"name", "a"}, {"kind", "ablation"}}}}}, "analysis.steps[0]"},
      {{{"analyses", {{{"name", "a"}, {"kind", "ablation"}}}}}, "analysis.steps"},
      {{{"steps", {10}}, {"analyses", {1}}}, "analysis.analyses[0]"},
      {{{"steps", {10}}}, "analysis.analyses"},
      {{{"steps", {10}}, {"analyses", {{{"name", "step_1"}, {"kind", "ablation"}}}}}, "analysis.analyses[0].name"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path config = dir / ("config" + std::to_string(i) + ".json");
    write_text(config, config_with(cases[i].analysis).dump());
    const ProcessResult r = run_mechlab({"run", config.string(), "--out", (dir / "run").string()});
    INFO("case " << i << ": " << cases[i].analysis.dump() << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(cases[i].path + ":") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "run"));
  }
}

TEST_CASE("scripts/figures/analysis.py draws every array of every step of an analysis section") {
  if (!python_imports("numpy, matplotlib")) {
    skip_test("the heatmaps need python3-numpy and python3-matplotlib (scripts/setup --figures installs them)");
    return;
  }
  TempDir dir;
  nlohmann::json analysis = nlohmann::json::parse(kAnalyses);
  analysis["steps"] = {0, 40};
  write_text(dir / "config.json", config_with(analysis).dump());
  const fs::path with = dir / "with";
  REQUIRE(run_mechlab({"run", (dir / "config.json").string(), "--out", with.string()}).exit_code == 0);
  const std::string command = "/usr/bin/python3 " + source_dir() + "/scripts/figures/analysis.py " +
                              (with / "analysis").string() + " --out " + (dir / "figures").string() + " > " +
                              (dir / "figures.log").string() + " 2>&1";
  const int status = std::system(command.c_str());
  INFO(read_text(dir / "figures.log"));
  REQUIRE(status == 0);
  for (const char* png : {"z.step_00000040.normalised.png", "heads.step_00000000.metric.png",
                          "importance.step_00000040.gate_gradient.png"}) {
    const std::string bytes = read_text(dir / "figures" / png);
    CHECK_MESSAGE(bytes.size() > 10000, png);
    CHECK_MESSAGE(bytes.substr(1, 3) == "PNG", png);
  }
}
