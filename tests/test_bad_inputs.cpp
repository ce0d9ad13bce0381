// Hostile input to `mechlab run`: every case of tests/corpus/bad_runs.json (malformed configs, overrides,
// arguments and output paths) and a few that a JSON file cannot hold (raw bytes, 200 KB of nesting) must
// exit with code 2, print one line that names the JSON path or argument, and leave the directory exactly
// as it was: no run directory, nothing removed, nothing changed.
#include <doctest/doctest.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>

#include "report.h"
#include "run_comparison.h"
#include "subprocess.h"

using namespace mechlab::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
const char* kValidConfig = R"({
  "name": "tiny", "seed": 1,
  "task": {"name": "bigram_backcopy", "seq_len": 16},
  "model": {"n_layers": 1, "n_heads": 2, "d_model": 16, "d_mlp": 32},
  "optim": {"lr": 1e-3},
  "train": {"steps": 5, "batch_size": 4}
})";

struct BadRun {
  std::string what;
  std::string config_text;             // the config file's content
  std::vector<std::string> arguments;  // after the config path; {dir} stands for the test's directory
  std::string expected;                // must appear in the one-line message
  std::string config_path = "{dir}/config.json";
  std::string setup;  // file, symlink_loop, dangling_symlink, foreign_dir
  bool add_out = true;
};

std::string substituted(std::string text, const std::string& dir) {
  for (size_t at; (at = text.find("{dir}")) != std::string::npos;) text.replace(at, 5, dir);
  return text;
}

// A corpus entry: "set" (JSON pointer -> value) and "remove" (pointers) edit the valid config, or "text"
// replaces it.
BadRun from_corpus(const json& entry) {
  BadRun run;
  run.what = entry["what"];
  run.expected = entry["expect"];
  if (entry.contains("text")) {
    run.config_text = entry["text"];
  } else {
    json config = json::parse(kValidConfig);
    if (entry.contains("set"))
      for (const auto& [pointer, value] : entry["set"].items()) config[json::json_pointer(pointer)] = value;
    if (entry.contains("remove"))
      for (const json& pointer : entry["remove"]) {
        const json::json_pointer at(pointer.get<std::string>());
        config[at.parent_pointer()].erase(at.back());
      }
    run.config_text = config.dump();
  }
  if (entry.contains("args")) run.arguments = entry["args"].get<std::vector<std::string>>();
  if (entry.contains("config_path")) run.config_path = entry["config_path"];
  if (entry.contains("setup")) run.setup = entry["setup"];
  run.add_out = !entry.contains("no_out");
  return run;
}

// Cases a JSON corpus file cannot hold.
std::vector<BadRun> raw_cases() {
  const json valid = json::parse(kValidConfig);
  std::string deep = valid.dump();
  deep.pop_back();
  deep += ", \"model\": {\"attention_layers\": " + std::string(100000, '[') + std::string(100000, ']') + "}}";
  std::string seeds = "[";
  for (int i = 0; i < 20000; ++i) seeds += (i ? "," : "") + std::to_string(i);
  json many = valid;  // 250 TiB: beyond any machine
  many["seeds"] = json::parse(seeds + "]");
  many["train"]["eval_batch_size"] = 4096;
  many["task"]["seq_len"] = 256;
  return {
      {"200 KB of nested lists", deep, {}, "nested more than 64 levels deep"},
      {"a non-UTF-8 byte in a string", R"({"name": "a)" "\xff" R"(", "task": {"name": "bigram_backcopy"}})", {}, "invalid JSON"},
      {"a non-UTF-8 byte in an override", valid.dump(), {"name=a\xff"}, "name: must be UTF-8 text, but byte 2 (0xff)"},
      {"a non-UTF-8 byte in --out", valid.dump(), {"--out", "{dir}/run\xfe"}, "--out: must be a UTF-8 path"},
      {"an override list nested 60000 deep", valid.dump(), {"optim.lr=" + std::string(60000, '[') + std::string(60000, ']')},
       "optim.lr: expects a list like"},
      {"twenty thousand seeds", many.dump(), {}, "seeds: the run needs about"},
  };
}

std::vector<BadRun> all_cases() {
  std::vector<BadRun> cases;
  for (const json& entry : json::parse(read_text(source_dir() + "/tests/corpus/bad_runs.json")))
    cases.push_back(from_corpus(entry));
  for (BadRun& run : raw_cases()) cases.push_back(std::move(run));
  return cases;
}

void set_up(const std::string& setup, const fs::path& dir) {
  if (setup == "file") write_text(dir / "afile", "not a directory\n");
  if (setup == "symlink_loop") fs::create_symlink(dir / "loop", dir / "loop");
  if (setup == "dangling_symlink") fs::create_symlink(dir / "nowhere", dir / "dangling");
  if (setup == "foreign_dir") {  // a user's project that happens to hold a config.json
    fs::create_directories(dir / "project" / "src");
    write_text(dir / "project" / "config.json", R"({"name": "thesis"})");
    write_text(dir / "project" / "src" / "thesis.tex", "\\chapter{Results}\n");
  }
}

}  // namespace

TEST_CASE("hostile configs, overrides and arguments exit with 2, name the path in one line, and change nothing") {
  const std::vector<BadRun> cases = all_cases();
  CHECK(cases.size() >= 150);
  for (const BadRun& bad : cases) {
    TempDir dir;
    write_text(dir / "config.json", substituted(bad.config_text, dir.path().string()));
    set_up(bad.setup, dir.path());
    std::vector<std::string> args{"run", substituted(bad.config_path, dir.path().string())};
    bool out_given = false;
    for (const std::string& a : bad.arguments) {
      args.push_back(substituted(a, dir.path().string()));
      out_given = out_given || a == "--out";
    }
    if (!out_given && bad.add_out) args.insert(args.end(), {"--out", (dir / "run").string()});
    const auto before = snapshot(dir.path());
    ProcessResult result = run_mechlab(args, dir.path());
    INFO(bad.what << ": " << result.err);
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(bad.expected) != std::string::npos);
    CHECK(std::count(result.err.begin(), result.err.end(), '\n') == 1);
    CHECK(result.err.find("json.exception") == std::string::npos);  // our words, not a library's
    CHECK(snapshot(dir.path()) == before);
  }
  note(std::to_string(cases.size()) + " hostile run inputs refused");
}
