#include "sweep/launch_options.h"

#include <fmt/format.h>

#include "config/closest.h"
#include "config/config_error.h"
#include "config/value_check.h"

namespace mechlab {

using json = nlohmann::json;

namespace {
const std::vector<std::string> kLaunchKeys{"launcher", "device", "workers", "gpus", "threads", "slurm"};
const std::vector<std::string> kSlurmKeys{"partition", "account", "time", "cpus_per_task", "gpus_per_task", "gpu_shards",
                                          "max_concurrent", "signal_seconds", "sbatch_lines"};

void check_keys(const json& object, const std::string& at, const std::vector<std::string>& known) {
  if (!object.is_object()) throw ConfigError(at, "must be an object");
  for (const auto& [key, value] : object.items())
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      const std::string near = closest_match(key, known);
      throw ConfigError(at + "." + key, fmt::format("is not a key here{}; the keys: {}",
                                                    near.empty() ? "" : "; did you mean " + near + "?",
                                                    config_detail::joined(known)));
    }
}

std::string text(const json& v, const std::string& at, const std::vector<std::string>& choices = {}) {
  if (!v.is_string()) throw ConfigError(at, "must be a string");
  const std::string s = v.get<std::string>();
  if (!choices.empty() && std::find(choices.begin(), choices.end(), s) == choices.end())
    throw ConfigError(at, fmt::format("is '{}'; choose {}", s, config_detail::joined(choices)));
  return s;
}

int integer(const json& v, const std::string& at, int min, int max) {
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max)
    throw ConfigError(at, fmt::format("must be an integer from {} to {}", min, max));
  return v.get<int>();
}
}  // namespace

LaunchOptions launch_options_from_json(const json& block, const std::string& at, LaunchOptions o) {
  check_keys(block, at, kLaunchKeys);
  if (block.contains("launcher")) o.launcher = text(block["launcher"], at + ".launcher", {"local", "slurm"});
  if (block.contains("device")) o.device = text(block["device"], at + ".device", {"cpu", "cuda"});
  if (block.contains("workers")) o.workers = integer(block["workers"], at + ".workers", 0, 4096);
  if (block.contains("gpus")) {
    const json& g = block["gpus"];
    if (!g.is_array()) throw ConfigError(at + ".gpus", "must be a list of GPUs as CUDA_VISIBLE_DEVICES names them, e.g. [0, 1]");
    o.gpus.clear();
    for (size_t i = 0; i < g.size(); ++i) {
      if (g[i].is_number_integer() && g[i].get<int64_t>() >= 0) o.gpus.push_back(std::to_string(g[i].get<int64_t>()));
      else if (g[i].is_string() && !g[i].get<std::string>().empty()) o.gpus.push_back(g[i].get<std::string>());
      else throw ConfigError(fmt::format("{}.gpus[{}]", at, i), "must be a GPU ordinal (0, 1, ...) or a UUID string");
    }
  }
  if (block.contains("threads")) o.threads = integer(block["threads"], at + ".threads", 0, 4096);
  if (!block.contains("slurm")) return o;
  const json& s = block["slurm"];
  const std::string in = at + ".slurm";
  check_keys(s, in, kSlurmKeys);
  SlurmOptions& slurm = o.slurm;
  if (s.contains("partition")) slurm.partition = text(s["partition"], in + ".partition");
  if (s.contains("account")) slurm.account = text(s["account"], in + ".account");
  if (s.contains("time")) slurm.time = text(s["time"], in + ".time");
  if (s.contains("cpus_per_task")) slurm.cpus_per_task = integer(s["cpus_per_task"], in + ".cpus_per_task", 1, 4096);
  if (s.contains("gpus_per_task")) slurm.gpus_per_task = integer(s["gpus_per_task"], in + ".gpus_per_task", 0, 64);
  if (s.contains("gpu_shards")) slurm.gpu_shards = integer(s["gpu_shards"], in + ".gpu_shards", 0, 4096);
  if (s.contains("max_concurrent")) slurm.max_concurrent = integer(s["max_concurrent"], in + ".max_concurrent", 0, 100000);
  if (s.contains("signal_seconds")) slurm.signal_seconds = integer(s["signal_seconds"], in + ".signal_seconds", 0, 65535);
  if (s.contains("sbatch_lines")) {
    const json& lines = s["sbatch_lines"];
    if (!lines.is_array()) throw ConfigError(in + ".sbatch_lines", "must be a list of strings such as \"--mem=8G\"");
    slurm.sbatch_lines.clear();
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string line = text(lines[i], fmt::format("{}.sbatch_lines[{}]", in, i));
      if (line.find('\n') != std::string::npos) throw ConfigError(fmt::format("{}.sbatch_lines[{}]", in, i), "must be one line");
      slurm.sbatch_lines.push_back(line);
    }
  }
  return o;
}

json launch_options_json(const LaunchOptions& o) {
  const SlurmOptions& s = o.slurm;
  return {{"launcher", o.launcher}, {"device", o.device}, {"workers", o.workers}, {"gpus", o.gpus}, {"threads", o.threads},
          {"slurm", {{"partition", s.partition}, {"account", s.account}, {"time", s.time},
                     {"cpus_per_task", s.cpus_per_task}, {"gpus_per_task", s.gpus_per_task}, {"gpu_shards", s.gpu_shards},
                     {"max_concurrent", s.max_concurrent}, {"signal_seconds", s.signal_seconds},
                     {"sbatch_lines", s.sbatch_lines}}}};
}

}  // namespace mechlab
