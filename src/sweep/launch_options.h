// How a sweep is launched: by local workers or as a Slurm array, on which device, with what resources. The
// spec's `launch` block gives the defaults, the command line overrides them, and <dir>/launch.json keeps the
// last launch's, which `mechlab sweep resume` uses again.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mechlab {

struct SlurmOptions {
  std::string partition, account, time;  // empty: the cluster's default; time as sbatch takes it (minutes, H:MM:SS, ...)
  int cpus_per_task = 1;
  int gpus_per_task = 0;                 // --gres=gpu:N; 0 with device cuda means 1 (unless gpu_shards)
  int gpu_shards = 0;                    // --gres=shard:N instead: N shards of a GPU that several tasks share
  int max_concurrent = 0;                // the array's %K throttle; 0: no limit
  int signal_seconds = 120;              // USR1 this long before the time limit: checkpoint and requeue
  std::vector<std::string> sbatch_lines; // extra "#SBATCH ..." lines, as written
};

struct LaunchOptions {
  std::string launcher = "local";        // local | slurm
  std::string device = "cpu";
  int workers = 0;                       // local: packs trained at once; 0: one per GPU with cuda, else 1
  std::vector<std::string> gpus;         // local with cuda: the GPUs (CUDA_VISIBLE_DEVICES entries); empty: all visible
  int threads = 0;                       // per pack; 0: the cores it may run on (a local worker's share, a Slurm task's)
  SlurmOptions slurm;
};

// Reads a `launch` block (spec path `at`), starting from `base`; errors are ConfigErrors naming the key.
LaunchOptions launch_options_from_json(const nlohmann::json& block, const std::string& at, LaunchOptions base = {});
nlohmann::json launch_options_json(const LaunchOptions& options);

}  // namespace mechlab
