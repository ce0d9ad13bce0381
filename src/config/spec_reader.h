// Reading one JSON object of a spec (an analysis entry, a sweep spec, its launch block) with every mistake
// reported as a ConfigError at its JSON path ("analyses[2].hook: ...", "launch.slurm.time: ..."), so a command
// refuses a bad spec in one line before it writes anything.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mechlab {

class SpecReader {
 public:
  // `what` names the object in messages ("is not a key of this analysis"), `example` shows one when `entry`
  // is not an object. An empty `path` reads a spec's top level (keys are named as they are).
  SpecReader(const nlohmann::json& entry, std::string path, std::string what = "this analysis",
             const std::string& example = R"({"name": ..., "kind": ...})");

  const std::string& path() const { return path_; }
  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  bool has(const std::string& key) const { return entry_.contains(key); }
  const nlohmann::json& raw(const std::string& key) const;

  std::string string(const std::string& key, const std::string& fallback) const;
  std::string required_string(const std::string& key) const;
  // One of `choices`, or `fallback` when absent.
  std::string choice(const std::string& key, const std::vector<std::string>& choices, const std::string& fallback) const;
  int64_t integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
  bool boolean(const std::string& key, bool fallback) const;
  // Throws for keys outside `known`, naming the closest one.
  void only(const std::vector<std::string>& known) const;

 private:
  const nlohmann::json& entry_;
  std::string path_, what_;
};

}  // namespace mechlab
