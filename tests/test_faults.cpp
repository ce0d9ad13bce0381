// Faults at every phase of a run: SIGKILL, SIGTERM, SIGINT and SIGHUP delivered during start-up, a training
// step, an evaluation, a dump, an analysis, a checkpoint, an atomic file write and the summaries (MECHLAB_FAULT makes
// the run raise the signal itself at that point, io/fault_injection.h), then --resume; every file of the
// result must equal an uninterrupted run's. Also a flipped bit in a checkpoint and a full disk.
#include <doctest/doctest.h>
#include <sys/mount.h>

#include <algorithm>
#include <fstream>

#include "run_comparison.h"
#include "report.h"
#include "subprocess.h"

using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
// Two replicas, so a kill can fall between their checkpoints or their summaries.
const char* kConfig = R"({
  "name": "faults", "seeds": [7, 8],
  "task": {"name": "bigram_backcopy", "seq_len": 16},
  "model": {"n_layers": 1, "n_heads": 2, "d_model": 16, "d_mlp": 32},
  "optim": {"lr": 3e-3},
  "train": {"steps": 60, "batch_size": 4, "eval_every": 20, "eval_batch_size": 8, "log_every": 10,
            "checkpoint_every": 20},
  "outputs": {"dumps": "every", "dump_every": 20, "probe_batch_size": 2},
  "analysis": {"steps": [0], "every": 20, "batch_size": 4,
               "analyses": [{"name": "heads", "kind": "ablation", "components": "heads", "metric": "loss"}]}
})";

struct Fault {
  const char* point;
  int count;  // the n-th time the run passes the point
};

const Fault kFaults[] = {
    {"startup", 3},       // creating the second replica's directory
    {"step", 33},         // after the optimizer step of step 33
    {"step", 60},         // in the last step, before its checkpoint and the summaries
    {"eval", 3},          // the evaluation of step 40
    {"dump", 2},          // the dump of step 20
    {"analysis", 3},      // the analyses of step 40
    {"checkpoint", 3},    // between the two replicas' checkpoints of step 40
    {"atomic_write", 25}, // a file written, not yet renamed into place
    {"summary", 2},       // between the two replicas' summaries
};

struct Signal {
  const char* name;
  int exit_code;
};
const Signal kSignals[] = {{"SIGKILL", 137}, {"SIGTERM", 130}, {"SIGINT", 130}, {"SIGHUP", 129}};

// The differences as one line, for the check's message ("" when there are none).
std::string differences(const fs::path& a, const fs::path& b) {
  std::string text;
  for (const std::string& file : run_differences(a, b)) text += (text.empty() ? "" : ", ") + file;
  return text;
}

std::vector<std::string> temporary_files(const fs::path& root) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) found.push_back(entry.path().string());
  return found;
}
}  // namespace

TEST_CASE("a run interrupted in any phase by any stop signal resumes to the uninterrupted run's files") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string config = (dir / "config.json").string();
  const fs::path straight = dir / "straight";
  REQUIRE(run_mechlab({"run", config, "--out", straight.string()}).exit_code == 0);
  int runs = 0;
  for (const Fault& fault : kFaults)
    for (const Signal& signal : kSignals) {
      const std::string spec = std::string(fault.point) + ":" + std::to_string(fault.count) + ":" + signal.name;
      const fs::path run = dir / ("faulted_" + std::to_string(runs++));
      INFO(spec);
      ProcessResult stopped = run_mechlab({"run", config, "--out", run.string()}, ".", {"MECHLAB_FAULT=" + spec});
      CHECK(stopped.exit_code == signal.exit_code);
      const bool finished_anyway = std::string(fault.point) == "summary" && signal.exit_code != 137;
      if (!finished_anyway) CHECK_FALSE(fs::exists(run / "replica_1" / "summary.json"));
      if (signal.exit_code != 137) {
        if (!finished_anyway) CHECK(stopped.err.find("--resume") != std::string::npos);  // the command that continues it
        CHECK(temporary_files(run).empty());
      }
      ProcessResult resumed = run_mechlab({"run", config, "--out", run.string(), "--resume"});
      INFO(resumed.err);
      REQUIRE(resumed.exit_code == 0);
      CHECK(differences(straight, run) == "");
      CHECK(temporary_files(run).empty());
    }
  note(std::to_string(runs) + " interrupted runs resumed to the uninterrupted run's files");
}

TEST_CASE("a flipped bit in the newest checkpoint is caught by its checksum; the resume falls back a checkpoint") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string config = (dir / "config.json").string();
  REQUIRE(run_mechlab({"run", config, "--out", (dir / "straight").string()}).exit_code == 0);
  const fs::path run = dir / "flipped";
  REQUIRE(run_mechlab({"run", config, "--out", run.string()}, ".", {"MECHLAB_FAULT=step:45:SIGTERM"}).exit_code == 130);
  const fs::path newest = run / "replica_1" / "checkpoints" / "step_00000045.safetensors";
  REQUIRE(fs::exists(newest));
  {
    std::fstream file(newest, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(-100, std::ios::end);  // inside the tensor data, far from the header
    char byte = 0;
    file.read(&byte, 1);
    byte ^= 0x08;
    file.seekp(-100, std::ios::end);
    file.write(&byte, 1);
  }
  ProcessResult resumed = run_mechlab({"run", config, "--out", run.string(), "--resume"});
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("step_00000045.safetensors cannot be resumed: ") != std::string::npos);
  CHECK(resumed.err.find("fails its checksum") != std::string::npos);
  CHECK(resumed.err.find("falling back to step 40") != std::string::npos);
  CHECK(read_text(run / "log.txt").find("falling back to step 40") != std::string::npos);
  // The damaged file is kept aside for inspection; everything else is the uninterrupted run's.
  CHECK(fs::exists(newest.string() + ".corrupt"));
  fs::remove(newest.string() + ".corrupt");
  CHECK(differences(dir / "straight", run) == "");
}

TEST_CASE("a full disk stops the run with exit 1 and the file named; with space again it resumes exactly") {
  TempDir dir;
  write_text(dir / "config.json", kConfig);
  const std::string config = (dir / "config.json").string();
  REQUIRE(run_mechlab({"run", config, "--out", (dir / "straight").string()}).exit_code == 0);
  const fs::path disk = dir / "disk";
  fs::create_directories(disk);
  // The run's files take about 600 KB; a 300 KB tmpfs fills up half-way.
  if (mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=300k") != 0) {
    skip_test("cannot mount a tmpfs here (needs root)");
    return;
  }
  struct Unmount {
    fs::path at;
    ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
  } unmount{disk};
  const fs::path run = disk / "run";
  ProcessResult full = run_mechlab({"run", config, "--out", run.string()});
  CHECK(full.exit_code == 1);
  CHECK(full.err.find("No space left on device") != std::string::npos);
  CHECK(full.err.find("continue with: ") != std::string::npos);
  CHECK(std::count(full.err.begin(), full.err.end(), '\n') >= 1);
  CHECK_FALSE(fs::exists(run / "replica_1" / "summary.json"));
  REQUIRE(mount("tmpfs", disk.c_str(), "tmpfs", MS_REMOUNT, "size=4m") == 0);
  ProcessResult resumed = run_mechlab({"run", config, "--out", run.string(), "--resume"});
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(differences(dir / "straight", run) == "");
}
