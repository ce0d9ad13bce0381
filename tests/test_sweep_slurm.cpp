// The sweep launcher on a real single-node Slurm cluster (tests/slurm/sweep_on_slurm.sh does the cluster
// work): 12 runs in 3 array tasks, one stopped by the pre-timeout signal and requeued, one failed and rerun by
// `sweep resume` alone, the table collected. Here, in addition: the requeued pack ends bitwise equal to the
// same pack trained without interruption. And with two fake GPUs (tests/slurm/gpus_on_slurm.sh): two array tasks
// at once, each with its own CUDA_VISIBLE_DEVICES. Skipped, saying why, where Slurm cannot run (not root, not
// installed, no mknod).
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <sys/wait.h>

#include "report.h"
#include "run_comparison.h"
#include "subprocess.h"

using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
// Runs `command` through the shell; its exit code and its output (stdout and stderr together).
ProcessResult shell(const std::string& command) {
  ProcessResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), static_cast<int>(buffer.size()), pipe)) result.out += buffer.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}
// Runs tests/slurm/<script> WORK with this build's mechlab; false when it reported it cannot run here (skipped).
bool run_script(const std::string& script, const fs::path& work, ProcessResult& result) {
  result = shell("MECHLAB_BINARY='" + mechlab_binary() + "' '" + source_dir() + "/tests/slurm/" + script + "' '" +
                 work.string() + "'");
  if (result.exit_code != 77) return true;
  std::string reason = result.out;
  while (!reason.empty() && reason.back() == '\n') reason.pop_back();
  skip_test(reason.substr(reason.rfind('\n') + 1));
  return false;
}
}  // namespace

TEST_CASE("sweep on Slurm: a 12-run sweep in 3 array tasks survives a pre-timeout requeue and a failure") {
  TempDir dir;
  ProcessResult test;
  if (!run_script("sweep_on_slurm.sh", dir.path(), test)) return;
  INFO(test.out);
  REQUIRE(test.exit_code == 0);
  const fs::path sweep = dir / "sweep";
  const ProcessResult straight = run_mechlab({"run", (sweep / "packs" / "pack_0001.json").string(), "--out",
                                              (dir / "straight").string()});
  REQUIRE(straight.exit_code == 0);
  std::string differences;
  for (const std::string& file : run_differences(sweep / "packs" / "pack_0001", dir / "straight")) differences += file + " ";
  CHECK(differences == "");
}

TEST_CASE("sweep on Slurm with two (fake) GPUs: two array tasks at once, each on its own CUDA_VISIBLE_DEVICES") {
  TempDir dir;
  ProcessResult test;
  if (!run_script("gpus_on_slurm.sh", dir.path(), test)) return;
  INFO(test.out);
  CHECK(test.exit_code == 0);
}
