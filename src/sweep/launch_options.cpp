#include "sweep/launch_options.h"

#include <fmt/format.h>

#include "config/config_error.h"
#include "config/spec_reader.h"

namespace mechlab {

using json = nlohmann::json;

namespace {
const std::vector<std::string> kLaunchKeys{"launcher", "device", "workers", "gpus", "threads", "slurm"};
const std::vector<std::string> kSlurmKeys{"partition", "account", "time", "cpus_per_task", "gpus_per_task", "gpu_shards",
                                          "max_concurrent", "signal_seconds", "sbatch_lines"};

int integer(const SpecReader& r, const std::string& key, int fallback, int min, int max) {
  return static_cast<int>(r.integer(key, fallback, min, max));
}

std::vector<std::string> gpu_list(const SpecReader& r, std::vector<std::string> fallback) {
  if (!r.has("gpus")) return fallback;
  const json& g = r.raw("gpus");
  if (!g.is_array()) throw ConfigError(r.at("gpus"), "must be a list of GPUs as CUDA_VISIBLE_DEVICES names them, e.g. [0, 1]");
  std::vector<std::string> gpus;
  for (size_t i = 0; i < g.size(); ++i) {
    if (g[i].is_number_integer() && g[i].get<int64_t>() >= 0) gpus.push_back(std::to_string(g[i].get<int64_t>()));
    else if (g[i].is_string() && !g[i].get<std::string>().empty()) gpus.push_back(g[i].get<std::string>());
    else throw ConfigError(fmt::format("{}[{}]", r.at("gpus"), i), "must be a GPU ordinal (0, 1, ...) or a UUID string");
  }
  return gpus;
}

std::vector<std::string> sbatch_lines(const SpecReader& r, std::vector<std::string> fallback) {
  if (!r.has("sbatch_lines")) return fallback;
  const json& lines = r.raw("sbatch_lines");
  if (!lines.is_array()) throw ConfigError(r.at("sbatch_lines"), "must be a list of strings such as \"--mem=8G\"");
  std::vector<std::string> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", r.at("sbatch_lines"), i);
    if (!lines[i].is_string()) throw ConfigError(at, "must be a string");
    if (lines[i].get<std::string>().find('\n') != std::string::npos) throw ConfigError(at, "must be one line");
    out.push_back(lines[i].get<std::string>());
  }
  return out;
}
}  // namespace

LaunchOptions launch_options_from_json(const json& block, const std::string& at, LaunchOptions o) {
  const SpecReader r(block, at, "a launch block", R"({"launcher": "slurm", "device": "cuda"})");
  r.only(kLaunchKeys);
  o.launcher = r.choice("launcher", {"local", "slurm"}, o.launcher);
  o.device = r.choice("device", {"cpu", "cuda"}, o.device);
  o.workers = integer(r, "workers", o.workers, 0, 4096);
  o.gpus = gpu_list(r, o.gpus);
  o.threads = integer(r, "threads", o.threads, 0, 4096);
  if (!r.has("slurm")) return o;
  const SpecReader s(r.raw("slurm"), r.at("slurm"), "a launch block's slurm settings", R"({"time": "2:00:00"})");
  s.only(kSlurmKeys);
  SlurmOptions& slurm = o.slurm;
  slurm.partition = s.string("partition", slurm.partition);
  slurm.account = s.string("account", slurm.account);
  slurm.time = s.string("time", slurm.time);
  slurm.cpus_per_task = integer(s, "cpus_per_task", slurm.cpus_per_task, 1, 4096);
  slurm.gpus_per_task = integer(s, "gpus_per_task", slurm.gpus_per_task, 0, 64);
  slurm.gpu_shards = integer(s, "gpu_shards", slurm.gpu_shards, 0, 4096);
  slurm.max_concurrent = integer(s, "max_concurrent", slurm.max_concurrent, 0, 100000);
  slurm.signal_seconds = integer(s, "signal_seconds", slurm.signal_seconds, 0, 65535);
  slurm.sbatch_lines = sbatch_lines(s, slurm.sbatch_lines);
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
