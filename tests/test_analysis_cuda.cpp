// The analysis toolkit on CUDA: every kind of `mechlab analyze` gives the CPU's arrays (to 1e-3 of the largest
// value in f32, where the two sum in different orders, and 1e-10 in f64), and a run with an analysis section
// trained on the GPU with CUDA graphs is bitwise the run without it, its step results bitwise those of
// `mechlab analyze --device cuda` on the checkpoint. Skipped, by name, without a GPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "io/npy.h"
#include "report.h"
#include "run_comparison.h"
#include "subprocess.h"

using namespace mechlab;
using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
bool gpu_available() {
  if (cuda_backend_or_null()) return true;
  skip_test("no CUDA device");
  return false;
}

const char* kConfig = R"({
  "name": "analysis_cuda", "seed": 2,
  "task": {"name": "bigram_backcopy", "seq_len": 16},
  "model": {"n_layers": 2, "n_heads": 2, "d_model": 16, "d_mlp": 32, "layernorm_bias": true},
  "optim": {"lr": 3e-3},
  "train": {"steps": 40, "batch_size": 8, "eval_every": 20, "eval_batch_size": 16, "checkpoint_every": 20},
  "outputs": {"dumps": "none"}})";

// Every kind once.
const char* kEveryKind = R"({"batch_size": 8, "chunk": 5, "analyses": [
  {"name": "ablation", "kind": "ablation", "components": "heads", "value": "mean"},
  {"name": "resample", "kind": "ablation", "components": ["L0.mlp", "L1H1"], "value": "resample"},
  {"name": "resid", "kind": "activation_patching", "family": "resid_pre"},
  {"name": "z", "kind": "activation_patching", "family": "z"},
  {"name": "pattern", "kind": "activation_patching", "family": "pattern", "by": "head"},
  {"name": "path", "kind": "path_patching", "senders": "heads"},
  {"name": "path_k", "kind": "path_patching", "senders": "heads", "receivers": [{"head": "L1H0", "input": "k"}]},
  {"name": "subspace", "kind": "subspace_patching", "hook": "blocks.0.attn.hook_z", "head": 1, "directions": "mean_difference"},
  {"name": "importance", "kind": "head_importance", "metric": "answer_loss"},
  {"name": "dla", "kind": "direct_attribution"},
  {"name": "circuits", "kind": "circuits"},
  {"name": "flow", "kind": "attention_flow", "examples": 2}]})";

// Largest |a - b| over the arrays of two analysis folders, relative to the largest |a|.
double largest_difference(const fs::path& a, const fs::path& b, int& arrays) {
  double worst = 0.0;
  for (const auto& entry : fs::recursive_directory_iterator(a)) {
    if (entry.path().extension() != ".npy") continue;
    const std::vector<double> x = load_npy(entry.path()).to(DType::f64).to_vector<double>();
    const std::vector<double> y = load_npy(b / fs::relative(entry.path(), a)).to(DType::f64).to_vector<double>();
    REQUIRE_MESSAGE(x.size() == y.size(), entry.path().string());
    double scale = 1e-30, difference = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i]) && std::isnan(y[i])) continue;
      scale = std::max(scale, std::abs(x[i]));
      difference = std::max(difference, std::abs(x[i] - y[i]));
    }
    INFO(entry.path().string() << ": " << difference << " of " << scale);
    CHECK(difference / scale < 1.0);  // sanity before the tolerance below: the arrays are the same quantity
    worst = std::max(worst, difference / scale);
    ++arrays;
  }
  return worst;
}
}  // namespace

TEST_CASE("analyze on CUDA gives the CPU's arrays for every kind, in f32 and in f64") {
  if (!gpu_available()) return;
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  write_text(dir / "spec.json", kEveryKind);
  const fs::path trained = dir / "trained";
  REQUIRE(run_mechlab({"run", (dir / "config.json").string(), "--out", trained.string()}).exit_code == 0);
  for (const bool f64 : {false, true}) {
    double worst = 0.0;
    int arrays = 0;
    for (const char* device : {"cpu", "cuda"}) {
      const fs::path copy = dir / fmt::format("{}_{}", device, f64 ? "f64" : "f32");
      fs::copy(trained, copy, fs::copy_options::recursive);
      std::vector<std::string> args{"analyze", copy.string(), (dir / "spec.json").string(), "--device", device};
      if (f64) args.push_back("--f64");
      const ProcessResult r = run_mechlab(args);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    }
    worst = largest_difference(dir / fmt::format("cpu_{}", f64 ? "f64" : "f32") / "analysis",
                               dir / fmt::format("cuda_{}", f64 ? "f64" : "f32") / "analysis", arrays);
    CHECK(arrays > 25);
    CHECK(worst < (f64 ? 1e-10 : 1e-3));  // f32: sums in other orders (gradients, near-cancelling differences)
    note(fmt::format("{} arrays: CUDA vs CPU largest scaled difference {:.1e} in {}", arrays, worst, f64 ? "f64" : "f32"));
  }
}

TEST_CASE("an analysis section on CUDA with graphs leaves training bitwise unchanged and equals analyze on the checkpoint") {
  if (!gpu_available()) return;
  TempDir dir;
  nlohmann::json config = nlohmann::json::parse(kConfig);
  config["train"]["device"] = "cuda";
  config["train"]["cuda_graph"] = true;
  write_text(dir / "without.json", config.dump());
  nlohmann::json spec = nlohmann::json::parse(kEveryKind);
  config["analysis"] = spec;
  config["analysis"]["steps"] = {0, 20, 40};
  write_text(dir / "with.json", config.dump());
  write_text(dir / "spec.json", spec.dump());
  const fs::path with = dir / "with", without = dir / "without";
  const ProcessResult trained = run_mechlab({"run", (dir / "with.json").string(), "--out", with.string()});
  REQUIRE_MESSAGE(trained.exit_code == 0, trained.err);
  REQUIRE(run_mechlab({"run", (dir / "without.json").string(), "--out", without.string()}).exit_code == 0);
  CHECK(read_text(with / "metrics.jsonl").size() > 0);
  for (const std::string& difference : run_differences(with, without)) {
    INFO(difference);
    CHECK((difference.rfind("analysis/", 0) == 0 || difference == "config.json" || difference.rfind("checkpoints/", 0) == 0));
  }
  // metrics.jsonl (losses, gradient norms, evaluations) is not among the differences above; the checkpoints
  // differ only by the config they record, which the CPU test checks tensor by tensor.
  const ProcessResult analyzed =
      run_mechlab({"analyze", with.string(), (dir / "spec.json").string(), "--step", "40", "--device", "cuda"});
  REQUIRE_MESSAGE(analyzed.exit_code == 0, analyzed.err);
  int arrays = 0;
  for (const auto& entry : fs::directory_iterator(with / "analysis" / "step_00000040")) {
    const fs::path name = entry.path().filename();
    for (const auto& file : fs::directory_iterator(entry.path())) {
      if (file.path().extension() != ".npy") continue;
      INFO(file.path().string());
      CHECK(load_npy(file.path()).to_vector<double>() == load_npy(with / "analysis" / name / file.path().filename()).to_vector<double>());
      ++arrays;
    }
  }
  CHECK(arrays > 25);
}
