// Comparing two run directories file by file, as the fault tests need: an interrupted and resumed run must
// hold exactly what an uninterrupted one holds.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mechlab::testing {

// The relative paths where `a` and `b` differ: a file in one and not the other, or other bytes. log.txt,
// provenance.json and the lock file are left out (they record times and commands), and metrics.jsonl is
// compared without its timings (elapsed_s, tokens_per_s), config.json without outputs.dir, an analysis's
// table.json without its seconds. Empty when the runs are the same.
std::vector<std::string> run_differences(const std::filesystem::path& a, const std::filesystem::path& b);

// Every entry under `dir` with its content ("directory", or "link to <target>": links are not followed),
// the lock file aside (taking the lock rewrites who holds it): to show that a refused command changed nothing.
std::map<std::string, std::string> snapshot(const std::filesystem::path& dir);

}  // namespace mechlab::testing
