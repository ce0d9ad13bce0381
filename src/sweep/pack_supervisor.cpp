// Training one pack under supervision (pack_supervisor.h).
#include "sweep/pack_supervisor.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "config/config_error.h"
#include "sweep/child_process.h"
#include "sweep/sweep_layout.h"
#include "sweep/sweep_status.h"

namespace mechlab {

namespace fs = std::filesystem;

namespace {
std::atomic<pid_t> child{0};
std::atomic<int> received{0};          // the first stop signal, 0 if none
std::atomic<bool> requeue_asked{false};

void on_signal(int signal) {
  if (signal == SIGUSR1) requeue_asked = true;
  int none = 0;
  received.compare_exchange_strong(none, signal);
  if (const pid_t pid = child.load(); pid > 0) kill(pid, SIGTERM);
}

void install_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked read returns, and the loop looks again
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaction(signal, &action, nullptr);
}

std::string host_name() {
  char host[256] = "unknown";
  gethostname(host, sizeof host);
  return host;
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// Writes all of `data` to fd 1, ignoring a closed or full terminal (the record keeps what matters).
void pass_through(const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(STDOUT_FILENO, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Starts `argv` with its stdout and stderr on a pipe; returns the read end.
int start_child(const std::vector<std::string>& argv) {
  const PipedChild started = spawn_piped(argv);
  child = started.pid;
  if (received.load() != 0) kill(started.pid, SIGTERM);  // a signal that came before the child existed
  return started.output;
}

// Copies the child's output through until it closes; returns the last non-empty line.
std::string relay(int fd) {
  std::string last, current;
  read_until_closed(fd, [&](const char* data, size_t size) {
    pass_through(data, size);
    for (size_t i = 0; i < size; ++i) {
      if (data[i] == '\n' || data[i] == '\r') {
        if (!current.empty()) last = current;
        current.clear();
      } else if (current.size() < 1000) {
        current += data[i];
      }
    }
  });
  return current.empty() ? last : current;
}

int wait_child() {
  const int code = wait_process(child.load());
  child = 0;
  return code;
}

// scontrol requeue of this array task (or job): Slurm stops this process at once and starts the task again.
void requeue_this_task() {
  const std::string array = env("SLURM_ARRAY_JOB_ID"), task = env("SLURM_ARRAY_TASK_ID");
  const std::string job = !array.empty() && !task.empty() ? array + "_" + task : env("SLURM_JOB_ID");
  fmt::print(stderr, "mechlab sweep pack: checkpointed before the time limit; requeuing Slurm job {}\n", job);
  std::fflush(stderr);
  // A busy controller refuses or times out now and then: try for about 30 s, well inside the signal's lead.
  std::string why;
  for (int attempt = 0, pause_s = 2; attempt < 5; ++attempt) {
    if (attempt > 0) {  // pauses of 2, 4, 8 and 16 s
      fmt::print(stderr, "mechlab sweep pack: scontrol requeue failed ({}); trying again in {} s\n", why, pause_s);
      std::fflush(stderr);
      std::this_thread::sleep_for(std::chrono::seconds(pause_s));
      pause_s *= 2;
    }
    try {
      const CapturedRun run = run_captured({"scontrol", "requeue", job});
      if (run.exit_code == 0) return;
      why = run.output.empty() ? "exit " + std::to_string(run.exit_code) : run.output;
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  fmt::print(stderr, "mechlab sweep pack: scontrol requeue failed ({}); `mechlab sweep resume` continues the pack\n", why);
}
}  // namespace

fs::path mechlab_executable() { return fs::read_symlink("/proc/self/exe"); }

int run_pack(const fs::path& dir, size_t pack, const PackOptions& options) {
  const SweepManifest sweep = read_sweep_directory(dir);
  if (pack >= sweep.packs.size())
    throw ConfigError("PACK", fmt::format("is {}, but the sweep has packs 0 to {}", pack, sweep.packs.size() - 1));
  const std::string name = sweep_layout::pack_name(pack);
  const PackStatus status = sweep_status(sweep)[pack];
  if (status.state == PackState::done) {
    fmt::print("{}: its {} runs are done; nothing to do\n", name, status.runs_done);
    return 0;
  }
  if (status.state == PackState::running) {  // a duplicate submission: the other copy carries on
    fmt::print("{}: trained by another process ({}); nothing to do\n", name, status.detail);
    return 0;
  }
  install_handlers();
  write_pack_record(dir, pack, {{"state", "started"}, {"host", host_name()}, {"pid", ::getpid()},
                                {"gpu", env("CUDA_VISIBLE_DEVICES")}, {"job", env("SLURM_JOB_ID")},
                                {"restarts", env("SLURM_RESTART_COUNT")}});
  std::vector<std::string> argv{mechlab_executable().string(), "run", sweep_layout::pack_config(dir, pack).string(),
                                "--out", sweep_layout::pack_dir(dir, pack).string(), "--resume", "--device", options.device};
  if (options.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(options.threads)});
  std::string last_line;
  int code = 1;
  try {
    last_line = relay(start_child(argv));
    code = wait_child();
  } catch (const std::exception& e) {
    last_line = e.what();
  }
  const bool requeue = requeue_asked && code == 130 && !env("SLURM_JOB_ID").empty();
  write_pack_record(dir, pack, {{"state", "ended"}, {"exit_code", code}, {"last_line", last_line},
                                {"host", host_name()}, {"gpu", env("CUDA_VISIBLE_DEVICES")}, {"requeued", requeue}});
  if (requeue) requeue_this_task();
  return code;
}

}  // namespace mechlab
