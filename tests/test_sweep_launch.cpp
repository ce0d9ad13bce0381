// Launching sweeps on this machine: packs train as replicas and each run's directory equals the run trained
// alone; status tells done, failed (with its exit code and last line) and interrupted packs apart; resume
// relaunches only those; collect writes one row per run. The Slurm launcher's test is test_sweep_slurm.cpp.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <map>

#include <fmt/format.h>

#include "run_comparison.h"
#include "subprocess.h"
#include "sweep/sweep_plan.h"

using namespace mechlab;
using namespace mechlab::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
// A tiny model that trains 8 runs in a few seconds on 2 cores.
void write_base(const fs::path& file) {
  write_text(file, R"({
    "name": "tiny", "seed": 0,
    "task": {"name": "bigram_backcopy", "seq_len": 16},
    "model": {"n_layers": 1, "n_heads": 1, "d_model": 16, "d_mlp": 32},
    "optim": {"lr": 1e-3},
    "train": {"steps": 60, "batch_size": 8, "eval_every": 30, "eval_batch_size": 16, "checkpoint_every": 20},
    "outputs": {"dumps": "every", "dump_every": 30, "probe_batch_size": 2}
  })");
}

json read_json(const fs::path& file) { return json::parse(read_text(file)); }
}  // namespace

TEST_CASE("sweep launch (local): seeds and learning rates packed as replicas, each run equal to the run alone; a "
          "failed pack listed by status and rerun alone by resume; collect") {
  TempDir dir;
  write_base(dir / "base.json");
  write_text(dir / "spec.json", json{{"name", "tiny_sweep"},
                                     {"base", {{"config", (dir / "base.json").string()}}},
                                     {"axes", {{"product", {{"model.n_heads", {1, 2}}, {"optim.lr", {1e-3, 3e-3}}}}}},
                                     {"seeds", {0, 1}},
                                     {"out", (dir / "sweep").string()}}.dump());
  const std::string spec = (dir / "spec.json").string(), sweep = (dir / "sweep").string();

  // Write the directory without training (the Slurm emitter does that), then put a stranger's file in pack 1's
  // run directory: mechlab refuses to write there, so that pack fails with exit 2.
  const ProcessResult emitted = run_mechlab({"sweep", "launch", spec, "--launcher", "slurm", "--emit-only"});
  INFO(emitted.out, emitted.err);
  REQUIRE(emitted.exit_code == 0);
  const json plan = read_json(dir / "sweep" / "sweep.json");
  REQUIRE(plan["runs"].size() == 8);
  REQUIRE(plan["packs"].size() == 2);  // per head count: 2 learning rates x 2 seeds as 4 replicas
  CHECK(fs::exists(dir / "sweep" / "sweep.sbatch"));
  fs::create_directories(dir / "sweep" / "packs" / "pack_0001");
  write_text(dir / "sweep" / "packs" / "pack_0001" / "notes.txt", "mine\n");

  const ProcessResult first = run_mechlab({"sweep", "resume", sweep, "--launcher", "local", "--workers", "2"});
  INFO(first.err);
  CHECK(first.exit_code == 1);
  const ProcessResult failed = run_mechlab({"sweep", "status", sweep});
  INFO(failed.out);
  CHECK(failed.out.find("8 runs in 2 packs: 4 done, 0 running, 4 failed") != std::string::npos);
  CHECK(failed.out.find("exit 2 (a mistake in the config or arguments): mechlab: config error: outputs.dir:") != std::string::npos);

  fs::remove(dir / "sweep" / "packs" / "pack_0001" / "notes.txt");
  const std::string pack0_log = read_text(dir / "sweep" / "packs" / "pack_0000" / "log.txt");
  const ProcessResult second = run_mechlab({"sweep", "resume", sweep});
  INFO(second.err);
  CHECK(second.exit_code == 0);
  CHECK(second.err.find("1 packs to train") != std::string::npos);
  CHECK(read_text(dir / "sweep" / "packs" / "pack_0000" / "log.txt") == pack0_log);  // the done pack untouched
  const ProcessResult done = run_mechlab({"sweep", "status", sweep, "--runs"});
  CHECK(done.out.find("8 runs in 2 packs: 8 done, 0 running, 0 failed, 0 interrupted, 0 queued, 0 missing") != std::string::npos);

  // Every run's directory (a link into its pack) holds what the run alone writes, and its config hashes to
  // the run's hash.
  for (const json& run : plan["runs"]) {
    const fs::path packed = dir / "sweep" / "runs" / run["hash"].get<std::string>();
    CHECK(config_hash(read_json(packed / "config.json")) == run["hash"].get<std::string>());
  }
  for (size_t i : {0, 7}) {  // n_heads 1, lr 1e-3, seed 0 and n_heads 2, lr 3e-3, seed 1
    const json& run = plan["runs"][i];
    const fs::path alone = dir / fmt::format("alone_{}", i);
    std::vector<std::string> args{"run", (dir / "base.json").string(), "--out", alone.string(),
                                  "seed=" + run["seed"].dump()};
    for (const auto& [key, value] : run["overrides"].items()) args.push_back(key + "=" + value.dump());
    REQUIRE(run_mechlab(args).exit_code == 0);
    INFO("run ", i);
    for (const char* file : {"config.json", "metrics.jsonl", "summary.json", "checkpoints/step_00000060.safetensors",
                             "dumps/step_00000060/blocks.0.attn.hook_pattern.npy"}) {
      INFO(file);
      CHECK(fs::exists(dir / "sweep" / "runs" / run["hash"].get<std::string>() / file));
    }
    CHECK(read_text(dir / "sweep" / "runs" / run["hash"].get<std::string>() / "checkpoints/step_00000060.safetensors") ==
          read_text(alone / "checkpoints/step_00000060.safetensors"));
    CHECK(read_text(dir / "sweep" / "runs" / run["hash"].get<std::string>() / "summary.json") == read_text(alone / "summary.json"));
  }

  const ProcessResult collected = run_mechlab({"sweep", "collect", sweep});
  CHECK(collected.exit_code == 0);
  const std::string csv = read_text(dir / "sweep" / "results.csv");
  INFO(csv.substr(0, csv.find('\n')));
  CHECK(csv.rfind("run,hash,seed,pack,state,model.n_heads,optim.lr,steps,final_train_loss,", 0) == 0);
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 9);
  const std::string jsonl = read_text(dir / "sweep" / "results.jsonl");
  const json last = json::parse(jsonl.substr(jsonl.rfind('\n', jsonl.size() - 2) + 1));
  CHECK(last["model.n_heads"] == 2);
  CHECK(last["optim.lr"] == 3e-3);
  CHECK(last["state"] == "done");
  CHECK(last["final_train_loss"].get<double>() > 0);
}

TEST_CASE("sweep launch (local): an interrupted sweep resumes to the same runs; launching another sweep into the "
          "directory is refused") {
  TempDir dir;
  write_base(dir / "base.json");
  const json spec = {{"name", "tiny_interrupted"},
                     {"base", {{"config", (dir / "base.json").string()}}},
                     {"seeds", {0, 1, 2}},
                     {"out", (dir / "sweep").string()}};
  write_text(dir / "spec.json", spec.dump());
  // Every pack's process gets SIGTERM at its 25th step: it checkpoints and exits 130.
  const ProcessResult stopped = run_mechlab({"sweep", "launch", (dir / "spec.json").string(), "--pack", "2"}, ".",
                                            {"MECHLAB_FAULT=step:25:SIGTERM"});
  INFO(stopped.err);
  CHECK(stopped.exit_code == 130);
  const ProcessResult interrupted = run_mechlab({"sweep", "status", (dir / "sweep").string()});
  CHECK(interrupted.out.find("3 runs in 2 packs: 0 done, 0 running, 0 failed, 3 interrupted") != std::string::npos);
  CHECK(run_mechlab({"sweep", "resume", (dir / "sweep").string()}).exit_code == 0);

  // The pack of seed 2 alone, against the same pack trained without a stop.
  REQUIRE(run_mechlab({"run", (dir / "sweep" / "packs" / "pack_0001.json").string(), "--out", (dir / "straight").string()})
              .exit_code == 0);
  std::string differences;
  for (const std::string& file : run_differences(dir / "sweep" / "packs" / "pack_0001", dir / "straight")) differences += file + " ";
  CHECK(differences == "");

  // A pack too large for the host's memory is refused before the directory is written, naming what to lower.
  json huge = spec;
  huge["base"]["overrides"] = {{"train.eval_batch_size", 16000000}};
  huge["out"] = (dir / "huge").string();
  write_text(dir / "huge.json", huge.dump());
  const ProcessResult too_large = run_mechlab({"sweep", "launch", (dir / "huge.json").string()});
  CHECK(too_large.exit_code == 2);
  CHECK(too_large.err.find("pack: 1 pack(s) at once need about") != std::string::npos);
  CHECK(too_large.err.find("lower the pack size (--pack K") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "huge"));

  json other = spec;
  other["seeds"] = {0, 1};
  write_text(dir / "other.json", other.dump());
  const ProcessResult refused = run_mechlab({"sweep", "launch", (dir / "other.json").string()});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("out: '" + (dir / "sweep").string() + "' holds another sweep") != std::string::npos);
}

TEST_CASE("sweep launch (local) with --device cuda: one worker per GPU by default, --workers 4 puts two on each, each "
          "pinned with CUDA_VISIBLE_DEVICES") {
  // GPUs named so that no CUDA sees them: every pack starts on its GPU, records it, and fails (no usable GPU),
  // on a machine with GPUs as on one without.
  TempDir dir;
  write_base(dir / "base.json");
  write_text(dir / "spec.json", json{{"name", "tiny_gpus"},
                                     {"base", {{"config", (dir / "base.json").string()}}},
                                     {"axes", {{"product", {{"model.d_model", {8, 16, 24, 32}}}}}},
                                     {"out", (dir / "sweep").string()}}.dump());
  const ProcessResult launched = run_mechlab({"sweep", "launch", (dir / "spec.json").string(), "--device", "cuda",
                                              "--gpus", "GPU-none-a,GPU-none-b", "--workers", "4"});
  INFO(launched.err);
  CHECK(launched.exit_code == 1);
  CHECK(launched.err.find("4 packs to train, 4 at once (GPUs GPU-none-a,GPU-none-b, 2 per GPU;") != std::string::npos);
  std::map<std::string, int> packs_on;  // GPU -> packs whose attempt ran with it as CUDA_VISIBLE_DEVICES
  for (int p = 0; p < 4; ++p) {
    const json record = read_json(dir / "sweep" / "packs" / fmt::format("pack_{:04d}.state.json", p));
    CHECK(record["state"] == "ended");
    CHECK(record["exit_code"] == 2);
    CHECK(record["last_line"].get<std::string>().find("train.device: no usable CUDA GPU") != std::string::npos);
    ++packs_on[record["gpu"].get<std::string>()];
  }
  CHECK(packs_on == std::map<std::string, int>{{"GPU-none-a", 2}, {"GPU-none-b", 2}});
  const ProcessResult none = run_mechlab({"sweep", "resume", (dir / "sweep").string(), "--gpus", ","});
  CHECK(none.exit_code == 2);
  CHECK(none.err.find("--gpus: names no GPU") != std::string::npos);
}
