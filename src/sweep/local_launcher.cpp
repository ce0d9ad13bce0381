// The local launcher: a pool of `mechlab sweep pack` processes over this machine's cores (launchers.h).
#include <fcntl.h>
#include <sched.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <map>

#include "backend/backend.h"
#include "config/config_error.h"
#include "config/value_check.h"
#include "io/usable_cores.h"
#include "sweep/child_process.h"
#include "sweep/launchers.h"
#include "sweep/pack_supervisor.h"
#include "sweep/sweep_layout.h"
#include "sweep/sweep_status.h"
#include "sweep/visible_gpus.h"
#include "train/memory_estimate.h"

namespace mechlab {

namespace {
std::atomic<bool> stopping{false};
std::atomic<int> running_pids[4096];  // read by the signal handler; 0 = free slot

void on_stop(int) {
  stopping = true;
  for (std::atomic<int>& pid : running_pids)
    if (const int p = pid.load(); p > 0) kill(p, SIGTERM);
}

struct Running {
  size_t pack = 0;
  size_t slot = 0;
  std::chrono::steady_clock::time_point started;
};

// Worker `slot` of `workers` gets its share of `cores`, so packs training at once do not compete for cores
// (each run's default thread count is the cores it may use). With more workers than cores they share.
cpu_set_t worker_cores(const std::vector<int>& cores, size_t slot, size_t workers) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (workers >= cores.size()) {
    CPU_SET(cores[slot % cores.size()], &mask);
    return mask;
  }
  for (size_t c = slot * cores.size() / workers; c < (slot + 1) * cores.size() / workers; ++c) CPU_SET(cores[c], &mask);
  return mask;
}

int open_log(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  return fd;
}

// What worker `slot` runs on: its share of the cores and, with cuda, its GPU.
struct Slot {
  cpu_set_t cores;
  std::string gpu;  // a CUDA_VISIBLE_DEVICES entry; empty on the CPU
};

std::vector<Slot> plan_slots(const LaunchOptions& options, const std::vector<int>& cores) {
  std::vector<std::string> gpus;
  if (options.device == "cuda") {
    gpus = options.gpus.empty() ? visible_gpus() : options.gpus;
    if (gpus.empty())
      throw ConfigError("--gpus", "no GPU is visible (CUDA_VISIBLE_DEVICES is empty or unset and there is no /dev/nvidia<N>); "
                                  "name them (--gpus 0,1) or use --device cpu");
  }
  const size_t workers = options.workers > 0 ? static_cast<size_t>(options.workers) : std::max<size_t>(1, gpus.size());
  std::vector<Slot> slots(std::min(workers, std::size(running_pids)));
  for (size_t s = 0; s < slots.size(); ++s) {
    slots[s].cores = worker_cores(cores, s, slots.size());
    if (!gpus.empty()) slots[s].gpu = gpus[s % gpus.size()];
  }
  return slots;
}

std::string slots_text(const std::vector<Slot>& slots, const LaunchOptions& options, size_t cores) {
  std::string text = options.threads > 0 ? fmt::format("{} threads each", options.threads)
                     : slots.size() == 1 ? fmt::format("{} cores", cores)
                                         : fmt::format("{} of {} cores each", std::max<size_t>(1, cores / slots.size()), cores);
  if (slots[0].gpu.empty()) return text;
  std::vector<std::string> gpus;
  for (const Slot& slot : slots)
    if (std::find(gpus.begin(), gpus.end(), slot.gpu) == gpus.end()) gpus.push_back(slot.gpu);
  return fmt::format("GPUs {}, {} per GPU; {}", config_detail::joined(gpus, ","),
                     (slots.size() + gpus.size() - 1) / gpus.size(), text);
}
// Starts `mechlab sweep pack` for `pack` on `slot`'s cores and GPU, its output appended to the pack's log.
pid_t start_pack(const SweepManifest& sweep, size_t pack, const Slot& slot, bool pin, const LaunchOptions& options) {
  std::vector<std::string> argv{mechlab_executable().string(), "sweep", "pack", sweep.dir.string(),
                                std::to_string(pack), "--device", options.device};
  if (options.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(options.threads)});
  std::vector<std::string> environment;
  if (!slot.gpu.empty()) environment.push_back("CUDA_VISIBLE_DEVICES=" + slot.gpu);
  // The child inherits this thread's affinity at its start: set the worker's cores, spawn, restore.
  cpu_set_t all_cores;
  sched_getaffinity(0, sizeof all_cores, &all_cores);
  if (pin) sched_setaffinity(0, sizeof slot.cores, &slot.cores);
  const int log = open_log(sweep_layout::pack_log(sweep.dir, pack));
  const pid_t pid = spawn_process(argv, log, environment);
  ::close(log);
  if (pin) sched_setaffinity(0, sizeof all_cores, &all_cores);
  return pid;
}

// The launcher's last line, and its exit code: 1 if a pack failed, 130 if one stopped, else 0.
int finish(const SweepManifest& sweep, size_t failed, bool stopped) {
  const std::string dir = sweep.dir.string();
  if (failed > 0) {
    fmt::print(stderr, "sweep {}: {} packs failed; `mechlab sweep status {}` shows why, `mechlab sweep resume {}` "
                       "reruns them\n", sweep.name, failed, dir, dir);
    return 1;
  }
  if (stopped) {
    fmt::print(stderr, "sweep {}: stopped; the packs checkpointed. `mechlab sweep resume {}` continues them\n", sweep.name, dir);
    return 130;
  }
  size_t done = 0, runs = 0;
  for (const PackStatus& s : sweep_status(sweep)) done += s.runs_done;
  for (const ManifestPack& p : sweep.packs) runs += p.runs.size();
  fmt::print(stderr, "sweep {}: {} of {} runs done; `mechlab sweep collect {}` makes the table\n", sweep.name, done, runs, dir);
  return 0;
}
}  // namespace

void check_host_memory(const std::vector<double>& pack_bytes, const LaunchOptions& options) {
  if (options.launcher != "local" || options.device != "cpu" || pack_bytes.empty()) return;
  std::vector<double> needs = pack_bytes;
  std::sort(needs.rbegin(), needs.rend());
  const size_t together = std::min(static_cast<size_t>(std::max(1, options.workers)), needs.size());
  double total = 0;
  for (size_t i = 0; i < together; ++i) total += needs[i];
  const double available = backend_for(Device::cpu).available_bytes();
  if (total <= available) return;
  throw ConfigError(together > 1 ? "--workers" : "pack",
                    fmt::format("{} pack(s) at once need about {} of host memory (the largest {}), but {} is available; "
                                "lower the pack size (--pack K, or the spec's pack) or --workers",
                                together, bytes_text(total), bytes_text(needs[0]), bytes_text(available)));
}

int launch_local(const SweepManifest& sweep, const std::vector<size_t>& packs, const LaunchOptions& options) {
  const std::vector<int> cores = usable_cores();
  const std::vector<Slot> slots = plan_slots(options, cores);
  const size_t workers = slots.size();
  struct sigaction action {};
  action.sa_handler = on_stop;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);

  // The costliest packs first, so the workers end together (longest processing time first).
  std::vector<size_t> order = packs;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sweep.packs[a].flops > sweep.packs[b].flops; });
  std::deque<size_t> queue(order.begin(), order.end());
  std::map<pid_t, Running> running;
  std::vector<size_t> free_slots;
  for (size_t s = workers; s-- > 0;) free_slots.push_back(s);
  size_t finished = 0, failed = 0, interrupted = 0;
  fmt::print(stderr, "sweep {}: {} packs to train, {} at once ({}, device {}); logs in {}\n", sweep.name, packs.size(),
             workers, slots_text(slots, options, cores.size()), options.device, (sweep.dir / "logs").string());
  while (!queue.empty() || !running.empty()) {
    while (!queue.empty() && !free_slots.empty() && !stopping) {
      const size_t pack = queue.front();
      queue.pop_front();
      const size_t slot = free_slots.back();
      free_slots.pop_back();
      const pid_t pid = start_pack(sweep, pack, slots[slot], workers > 1, options);
      running_pids[slot] = pid;
      running[pid] = {pack, slot, std::chrono::steady_clock::now()};
      if (stopping) kill(pid, SIGTERM);
    }
    if (running.empty()) break;  // stopping, nothing left running
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const Running r = it->second;
    running.erase(it);
    running_pids[r.slot] = 0;
    free_slots.push_back(r.slot);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.started).count();
    ++finished;
    const std::string name = sweep_layout::pack_name(r.pack);
    if (code == 0) {
      fmt::print(stderr, "[{}/{}] {} done ({} runs, {:.1f} s)\n", finished, packs.size(), name,
                 sweep.packs[r.pack].runs.size(), seconds);
    } else {
      ++(code == 129 || code == 130 ? interrupted : failed);
      fmt::print(stderr, "[{}/{}] {} {} after {:.1f} s; see {}\n", finished, packs.size(), name, exit_text(code),
                 seconds, sweep_layout::pack_log(sweep.dir, r.pack).string());
    }
  }
  return finish(sweep, failed, stopping || interrupted > 0);
}

}  // namespace mechlab
