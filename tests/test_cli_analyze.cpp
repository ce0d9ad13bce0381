// `mechlab analyze` end to end: on a Bigram-Backcopy run its ablations on the run's evaluation batch give the
// zero-head and zero-MLP split losses the run logged; on a trained two-head ICL run ablating either head
// raises the MSE and the heads' direct attributions nearly cancel; bad specs exit 2 naming the JSON path and
// write nothing.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "config/json_file.h"
#include "io/npy.h"
#include "report.h"
#include "run_comparison.h"
#include "subprocess.h"

using namespace mechlab;
using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
const char* kBigramConfig = R"({
  "name": "analyze", "seed": 3,
  "task": {"name": "bigram_backcopy", "seq_len": 16},
  "model": {"n_layers": 2, "n_heads": 2, "d_model": 16, "d_mlp": 32, "layernorm_bias": true},
  "train": {"steps": 40, "batch_size": 8, "eval_every": 40, "eval_batch_size": 16, "checkpoint_every": 20},
  "outputs": {"dumps": "none"}
})";

nlohmann::json last_metrics(const fs::path& run) {
  std::ifstream in(run / "metrics.jsonl");
  std::string line, last;
  while (std::getline(in, line))
    if (line.find("loss_bigram") != std::string::npos) last = line;
  return nlohmann::json::parse(last);
}

std::vector<double> array(const fs::path& file) { return load_npy(file).to(DType::f64).to_vector<double>(); }
}  // namespace

TEST_CASE("analyze: ablations on the eval batch reproduce the run's zero-head and zero-MLP split losses") {
  TempDir dir;
  write_text(dir / "config.json", kBigramConfig);
  const fs::path run = dir / "run";
  REQUIRE(run_mechlab({"run", (dir / "config.json").string(), "--out", run.string()}).exit_code == 0);
  write_text(dir / "spec.json", R"({"batch": "eval", "analyses": [
    {"name": "heads_bigram", "kind": "ablation", "components": "heads", "metric": "loss_bigram"},
    {"name": "heads_backcopy", "kind": "ablation", "components": "heads", "metric": "loss_backcopy"},
    {"name": "mlps_bigram", "kind": "ablation", "components": "mlps", "metric": "loss_bigram"}]})");
  const ProcessResult analyzed = run_mechlab({"analyze", run.string(), (dir / "spec.json").string()});
  REQUIRE_MESSAGE(analyzed.exit_code == 0, analyzed.err);
  const nlohmann::json logged = last_metrics(run);
  const std::vector<double> bigram = array(run / "analysis" / "heads_bigram" / "metric.npy");      // (L, H)
  const std::vector<double> backcopy = array(run / "analysis" / "heads_backcopy" / "metric.npy");  // (L, H)
  const std::vector<double> mlps = array(run / "analysis" / "mlps_bigram" / "metric.npy");         // (L)
  for (int l = 0; l < 2; ++l) {
    for (int h = 0; h < 2; ++h) {
      const std::string head = "zero_head.L" + std::to_string(l) + "H" + std::to_string(h);
      CHECK(bigram[l * 2 + h] == doctest::Approx(logged["loss_bigram." + head].get<double>()).epsilon(1e-5));
      CHECK(backcopy[l * 2 + h] == doctest::Approx(logged["loss_backcopy." + head].get<double>()).epsilon(1e-5));
    }
    CHECK(mlps[l] == doctest::Approx(logged["loss_bigram.zero_mlp.L" + std::to_string(l)].get<double>()).epsilon(1e-5));
  }
  const nlohmann::json table = read_json_file(run / "analysis" / "heads_bigram" / "table.json");
  CHECK(table["baseline"]["clean"].get<double>() == doctest::Approx(logged["loss_bigram"].get<double>()).epsilon(1e-5));
  CHECK(table["made"]["step"] == 40);
  // An earlier checkpoint is another model: its ablations differ.
  REQUIRE(run_mechlab({"analyze", run.string(), (dir / "spec.json").string(), "--step", "20"}).exit_code == 0);
  CHECK(array(run / "analysis" / "heads_bigram" / "metric.npy") != bigram);
}

TEST_CASE("analyze: bad specs exit 2 with one line naming the JSON path, and write nothing") {
  TempDir dir;
  write_text(dir / "config.json", kBigramConfig);
  const fs::path run = dir / "run";
  REQUIRE(run_mechlab({"run", (dir / "config.json").string(), "--out", run.string()}).exit_code == 0);
  const auto before = snapshot(run);
  struct Case {
    std::string spec, path;
    std::vector<std::string> extra;
  };
  const std::vector<Case> cases = {
      {R"({"analyses": [{"name": "a", "kind": "ablation", "components": ["L0H7"]}]})", "analyses[0].components[0]"},
      {R"({"analyses": [{"name": "a", "kind": "ablation", "components": ["L5"]}]})", "analyses[0].components[0]"},
      {R"({"analyses": [{"name": "a", "kind": "ablation", "components": "heds"}]})", "analyses[0].components"},
      {R"({"analyses": [{"name": "a", "kind": "ablaton"}]})", "analyses[0].kind"},
      {R"({"analyses": [{"name": "a", "kind": "ablation", "metric": "mse"}]})", "analyses[0].metric"},
      {R"({"analyses": [{"name": "a", "kind": "activation_patching", "family": "resid_prex"}]})", "analyses[0].family"},
      {R"({"analyses": [{"name": "a", "kind": "subspace_patching", "hook": "blocks.0.attn.hook_zz", "head": 0}]})", "analyses[0].hook"},
      {R"({"analyses": [{"name": "a", "kind": "subspace_patching", "hook": "blocks.0.attn.hook_z", "head": 2}]})", "analyses[0].head"},
      {R"({"analyses": [{"name": "a", "kind": "subspace_patching", "hook": {"component": "block_outpt", "layer": 0}}]})", "analyses[0].hook.component"},
      {R"({"analyses": [{"name": "a", "kind": "path_patching", "senders": ["L0H0"], "receivers": [{"head": "L3H0"}]}]})", "analyses[0].receivers[0].head"},
      {R"({"analyses": [{"name": "a", "kind": "ablation", "positions": [99]}]})", "analyses[0].positions[0]"},
      {R"({"analyses": [{"name": "a", "kind": "ablation", "positions": "trigerr"}]})", "analyses[0].positions"},
      {R"({"analyses": [{"name": "a", "kind": "ablation", "colour": 1}]})", "analyses[0].colour"},
      {R"({"analyses": [{"name": "a", "kind": "ablation"}, {"name": "a", "kind": "circuits"}]})", "analyses[1].name"},
      {R"({"analyses": [{"name": "../x", "kind": "ablation"}]})", "analyses[0].name"},
      {R"({"analyses": []})", "analyses"},
      {R"({"batch": "eval", "analyses": [{"name": "a", "kind": "activation_patching"}]})", "analyses[0].kind"},
      {R"({"analyses": [{"name": "a", "kind": "head_importance", "metric": "accuracy"}]})", "analyses[0].metric"},
      {R"({"analyses": [{"name": "a", "kind": "ablation"}]})", "--step", {"--step", "7"}},
      {R"({"analyses": [{"name": "a", "kind": "ablation"}]})", "analyses.3", {"analyses.3.metric=loss"}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path spec = dir / ("spec" + std::to_string(i) + ".json");
    write_text(spec, cases[i].spec);
    std::vector<std::string> args{"analyze", run.string(), spec.string()};
    args.insert(args.end(), cases[i].extra.begin(), cases[i].extra.end());
    const ProcessResult r = run_mechlab(args);
    INFO("case " << i << ": " << cases[i].spec << " -> " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(cases[i].path + ":") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(snapshot(run) == before);
  note(std::to_string(cases.size()) + " bad analysis specs refused");
}

TEST_CASE("analyze: on a two-head ICL run either head's ablation raises the MSE and the heads' attributions oppose") {
  TempDir dir;
  const fs::path run = dir / "run";
  REQUIRE(run_mechlab({"run", source_dir() + "/configs/icl_linreg/quick_h2.json", "train.steps=1000", "--out", run.string()})
              .exit_code == 0);
  write_text(dir / "spec.json", R"({"batch_size": 1, "analyses": [
    {"name": "heads", "kind": "ablation", "components": "heads", "metric": "loss"},
    {"name": "dla", "kind": "direct_attribution", "metric": "prediction"}]})");
  REQUIRE(run_mechlab({"analyze", run.string(), (dir / "spec.json").string(), "batch_size=256"}).exit_code == 0);
  const double clean = read_json_file(run / "analysis" / "heads" / "table.json")["baseline"]["clean"].get<double>();
  const std::vector<double> ablated = array(run / "analysis" / "heads" / "metric.npy");  // (1, 2)
  CHECK(ablated[0] > 1.5 * clean);
  CHECK(ablated[1] > 1.5 * clean);
  // One prompt: per source position the two heads write opposite amounts (opposite mu), so their sum is well
  // below the sum of their sizes; together they are the prediction.
  REQUIRE(run_mechlab({"analyze", run.string(), (dir / "spec.json").string()}).exit_code == 0);
  const std::vector<double> source = array(run / "analysis" / "dla" / "per_head_source.npy");  // (1, 2, T)
  const size_t T = source.size() / 2;
  double together = 0, apart = 0, opposite = 0;
  for (size_t s = 0; s + 1 < T; ++s) {
    together += std::abs(source[s] + source[T + s]);
    apart += std::abs(source[s]) + std::abs(source[T + s]);
    opposite += (source[s] > 0) != (source[T + s] > 0);
  }
  CHECK(opposite / static_cast<double>(T - 1) > 0.9);
  CHECK(together < 0.8 * apart);
  const nlohmann::json dla = read_json_file(run / "analysis" / "dla" / "table.json");
  CHECK(dla["baseline"]["heads_sum"].get<double>() == doctest::Approx(dla["baseline"]["clean"].get<double>()).epsilon(1e-4));
}

TEST_CASE("analyze: every kind gives the same numbers whatever the chunk size (each slot pass computes less or more)") {
  // Chunks of 1 let each slot pass compute only the layers and positions its one patch reaches; one chunk of
  // every patch computes nearly everything. In f64 the two agree to rounding.
  TempDir dir;
  write_text(dir / "config.json", kBigramConfig);
  const fs::path trained = dir / "trained";
  REQUIRE(run_mechlab({"run", (dir / "config.json").string(), "--out", trained.string()}).exit_code == 0);
  write_text(dir / "spec.json", R"({"batch_size": 6, "analyses": [
    {"name": "ablation", "kind": "ablation", "components": "heads", "value": "mean"},
    {"name": "positions", "kind": "ablation", "components": ["L1H0", "L0.mlp"], "positions": "trigger"},
    {"name": "resid", "kind": "activation_patching", "family": "resid_pre"},
    {"name": "mid", "kind": "activation_patching", "family": "resid_mid", "metric": "answer_loss"},
    {"name": "z", "kind": "activation_patching", "family": "z"},
    {"name": "k", "kind": "activation_patching", "family": "k"},
    {"name": "pattern", "kind": "activation_patching", "family": "pattern"},
    {"name": "loss", "kind": "activation_patching", "family": "mlp_out", "metric": "loss"},
    {"name": "path", "kind": "path_patching", "senders": "heads"},
    {"name": "path_q", "kind": "path_patching", "senders": "heads", "receivers": [{"head": "L1H1", "input": "q"}]},
    {"name": "subspace", "kind": "subspace_patching", "hook": "blocks.0.attn.hook_z", "head": 0}]})");
  for (const char* chunk : {"1", "1000"}) {
    const fs::path copy = dir / (std::string("chunk_") + chunk);
    fs::copy(trained, copy, fs::copy_options::recursive);
    const ProcessResult r = run_mechlab({"analyze", copy.string(), (dir / "spec.json").string(), "--f64",
                                         std::string("chunk=") + chunk});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }
  int arrays = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir / "chunk_1" / "analysis")) {
    if (entry.path().extension() != ".npy") continue;
    const fs::path relative = fs::relative(entry.path(), dir / "chunk_1");
    const std::vector<double> a = array(entry.path()), b = array(dir / "chunk_1000" / relative);
    REQUIRE(a.size() == b.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
      if (!(std::isnan(a[i]) && std::isnan(b[i]))) worst = std::max(worst, std::abs(a[i] - b[i]));
    INFO(relative.string());
    CHECK(worst < 1e-10);
    ++arrays;
  }
  CHECK(arrays > 20);
}
