// The life of a run directory: kill -9 and resume, Ctrl-C and resume, rerun when finished, refusal of
// another config, --overwrite, and a diverging run.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "subprocess.h"

using namespace mechlab::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
const char* kConfig = R"({
  "name": "lifecycle", "seed": 3,
  "task": {"name": "bigram_backcopy", "seq_len": 16},
  "model": {"n_layers": 1, "n_heads": 2, "d_model": 16, "d_mlp": 32},
  "optim": {"lr": 3e-3},
  "train": {"steps": 400, "batch_size": 8, "eval_every": 100, "eval_batch_size": 16, "log_every": 10,
            "checkpoint_every": 20},
  "outputs": {"dumps": "none"}
})";

bool wait_for_file(const fs::path& path, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return false;
}

// The training losses of metrics.jsonl, step by step.
std::vector<double> losses(const fs::path& run) {
  std::vector<double> values;
  std::istringstream lines(read_text(run / "metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) {
    json record = json::parse(line);
    if (record.contains("loss")) values.push_back(record["loss"]);
  }
  return values;
}

const fs::path kFinal = fs::path("checkpoints") / "step_00000400.safetensors";

// Every tensor of two checkpoints (parameters and optimizer moments) has the same name, shape and bits.
bool same_tensors(const fs::path& a, const fs::path& b) {
  auto x = mechlab::load_safetensors(a), y = mechlab::load_safetensors(b);
  if (x.tensors.size() != y.tensors.size()) return false;
  for (size_t i = 0; i < x.tensors.size(); ++i) {
    const mechlab::Tensor &p = x.tensors[i].value, &q = y.tensors[i].value;
    if (x.tensors[i].name != y.tensors[i].name || p.shape() != q.shape() ||
        std::memcmp(p.raw(), q.raw(), p.bytes()) != 0)
      return false;
  }
  return x.metadata.at("step") == y.metadata.at("step");
}
}  // namespace

TEST_CASE("a run killed with SIGKILL and resumed ends bitwise equal to an uninterrupted run") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string config = (dir / "config.json").string();
  REQUIRE(run_mechlab({"run", config, "--out", (dir / "straight").string()}).exit_code == 0);

  const fs::path killed = dir / "killed";
  const int pid = start_mechlab({"run", config, "--out", killed.string()});
  REQUIRE(wait_for_file(killed / "checkpoints" / "step_00000040.safetensors", 60));
  kill(pid, SIGKILL);
  CHECK(wait_for(pid) == 128 + SIGKILL);
  REQUIRE_FALSE(fs::exists(killed / "summary.json"));  // it really was stopped mid-training

  ProcessResult refused = run_mechlab({"run", config, "--out", killed.string()});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("holds an unfinished run of this config; pass --resume") != std::string::npos);

  ProcessResult resumed = run_mechlab({"run", config, "--out", killed.string(), "--resume"});
  REQUIRE(resumed.exit_code == 0);
  const std::string log = read_text(killed / "log.txt");
  CHECK(log.find("resuming from step ") != std::string::npos);
  CHECK(log.find("resuming from step 0\n") == std::string::npos);  // from a real checkpoint
  CHECK(read_text(killed / kFinal) == read_text(dir / "straight" / kFinal));
  CHECK(losses(killed) == losses(dir / "straight"));
  CHECK(losses(killed).size() == 40);  // steps 10, 20, ..., 400 (the evaluation line of step 0 has no loss)
}

TEST_CASE("SIGINT writes a checkpoint and exits; --resume finishes the same run") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string config = (dir / "config.json").string();
  REQUIRE(run_mechlab({"run", config, "--out", (dir / "straight").string()}).exit_code == 0);
  const fs::path run = dir / "interrupted";
  const int pid = start_mechlab({"run", config, "--out", run.string(), "--threads", "1"});
  REQUIRE(wait_for_file(run / "checkpoints" / "step_00000020.safetensors", 60));
  kill(pid, SIGINT);
  CHECK(wait_for(pid) == 130);
  REQUIRE_FALSE(fs::exists(run / "summary.json"));
  ProcessResult resumed = run_mechlab({"run", config, "--out", run.string(), "--resume", "--threads", "2"});
  REQUIRE(resumed.exit_code == 0);
  // Interrupted on 1 thread, finished on 2: the tensors still match bit for bit.
  CHECK(same_tensors(run / kFinal, dir / "straight" / kFinal));
}

TEST_CASE("a stop request delivered twice at once still writes its checkpoint") {
  // GNU timeout signals the child and then its whole process group, so one request can arrive twice.
  // Steps of ~100 ms make the difference visible: an immediate exit would leave no checkpoint.
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::vector<std::string> heavy{"model.d_model=128", "model.d_mlp=512", "train.batch_size=512",
                                       "task.seq_len=64", "train.checkpoint_every=1000000", "--threads", "1"};
  auto start = [&](const fs::path& run) {
    std::vector<std::string> args{"run", (dir / "config.json").string(), "--out", run.string()};
    args.insert(args.end(), heavy.begin(), heavy.end());
    const int pid = start_mechlab(args);
    REQUIRE(wait_for_file(run / "metrics.jsonl", 60));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into the training loop
    return pid;
  };
  const fs::path twice = dir / "twice";
  int pid = start(twice);
  kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGINT);
  CHECK(wait_for(pid) == 130);
  CHECK(read_text(twice / "log.txt").find("checkpoint written") != std::string::npos);

}

TEST_CASE("a finished run is left alone, another config is refused, --overwrite replaces") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string config = (dir / "config.json").string(), out = (dir / "run").string();
  REQUIRE(run_mechlab({"run", config, "--out", out, "train.steps=40"}).exit_code == 0);
  const auto written = fs::last_write_time(dir / "run" / "summary.json");

  ProcessResult again = run_mechlab({"run", config, "--out", out, "train.steps=40", "--threads", "1"});
  CHECK(again.exit_code == 0);
  CHECK(again.err.find("already holds a finished run of this config; nothing to do") != std::string::npos);
  CHECK(fs::last_write_time(dir / "run" / "summary.json") == written);

  // A run directory written before a key existed (here: train.eval_log_points) is still this config.
  json older = json::parse(read_text(dir / "run" / "config.json"));
  older["train"].erase("eval_log_points");
  write_text(dir / "run" / "config.json", older.dump(2));
  ProcessResult upgraded = run_mechlab({"run", config, "--out", out, "train.steps=40"});
  CHECK(upgraded.exit_code == 0);
  CHECK(upgraded.err.find("nothing to do") != std::string::npos);

  ProcessResult other = run_mechlab({"run", config, "--out", out, "train.steps=40", "optim.lr=1e-3"});
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("outputs.dir: ") != std::string::npos);
  CHECK(other.err.find("holds a run of a different config (optim.lr") != std::string::npos);

  ProcessResult replaced = run_mechlab({"run", config, "--out", out, "train.steps=40", "optim.lr=1e-3", "--overwrite"});
  CHECK(replaced.exit_code == 0);
  CHECK(json::parse(read_text(dir / "run" / "config.json"))["optim"]["lr"] == 1e-3);
}

TEST_CASE("a diverging run stops with exit code 3 naming the step") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  ProcessResult result = run_mechlab({"run", (dir / "config.json").string(), "--out", (dir / "run").string(),
                                      "optim.kind=sgd", "optim.lr=1e38"});
  CHECK(result.exit_code == 3);
  CHECK(result.err.find("training loss is") != std::string::npos);
  CHECK(result.err.find("at step") != std::string::npos);
}

TEST_CASE("a finished run extended with --resume train.steps=N equals a run of N steps") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string config = (dir / "config.json").string(), out = (dir / "run").string();
  REQUIRE(run_mechlab({"run", config, "--out", (dir / "straight").string(), "train.steps=100"}).exit_code == 0);
  REQUIRE(run_mechlab({"run", config, "--out", out, "train.steps=60"}).exit_code == 0);
  ProcessResult extended = run_mechlab({"run", config, "--out", out, "train.steps=100", "--resume"});
  REQUIRE(extended.exit_code == 0);
  const std::string log = read_text(dir / "run" / "log.txt");
  CHECK(log.find("extending from 60 to 100 steps") != std::string::npos);
  // Each training ends its log with where the time went, the extension too.
  CHECK(log.find("finished 100 steps") < log.rfind(" time "));
  const std::string time_line = log.substr(log.rfind(" time "));
  for (const char* phase : {" s: ", " steps ", " sampling ", " evaluation forward ", " checkpoints ", " other "})
    CHECK_MESSAGE(time_line.find(phase) != std::string::npos, time_line);
  CHECK(json::parse(read_text(dir / "run" / "config.json"))["train"]["steps"] == 100);
  const fs::path last = fs::path("checkpoints") / "step_00000100.safetensors";
  CHECK(read_text(dir / "run" / last) == read_text(dir / "straight" / last));
  CHECK(read_text(dir / "run" / "summary.json") == read_text(dir / "straight" / "summary.json"));
  CHECK(losses(dir / "run") == losses(dir / "straight"));
  // Now finished at 100 steps: the same command has nothing to do.
  ProcessResult again = run_mechlab({"run", config, "--out", out, "train.steps=100", "--resume"});
  CHECK(again.exit_code == 0);
  CHECK(again.err.find("nothing to do") != std::string::npos);
}

TEST_CASE("the command an interrupted run prints continues it, overrides and flags included") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string out = (dir / "my run").string();  // a space, to be quoted
  ProcessResult stopped = run_mechlab({"run", (dir / "config.json").string(), "optim.lr=2e-3", "train.steps=60",
                                       "--out", out, "--threads", "1"},
                                      ".", {"MECHLAB_FAULT=step:30:SIGTERM", "MECHLAB_INVOKED_AS=" + mechlab_binary()});
  REQUIRE(stopped.exit_code == 130);
  const std::string marker = "Continue with: ";
  const size_t at = stopped.err.find(marker);
  REQUIRE(at != std::string::npos);
  const std::string command = stopped.err.substr(at + marker.size(), stopped.err.find('\n', at) - at - marker.size());
  INFO(command);
  CHECK(command.find("optim.lr=2e-3") != std::string::npos);
  CHECK(command.find("--threads 1") != std::string::npos);
  CHECK(std::system((command + " 2>/dev/null").c_str()) == 0);
  CHECK(fs::exists(fs::path(out) / "summary.json"));
  CHECK(read_text(fs::path(out) / "log.txt").find("resuming from step 30: ") != std::string::npos);
}
