#include "sweep/sweep_layout.h"

#include <fmt/format.h>

#include "io/run_layout.h"

namespace mechlab::sweep_layout {

namespace fs = std::filesystem;

std::string pack_name(size_t pack) { return fmt::format("pack_{:04d}", pack); }

fs::path pack_config(const fs::path& dir, size_t pack) { return dir / "packs" / (pack_name(pack) + ".json"); }
fs::path pack_dir(const fs::path& dir, size_t pack) { return dir / "packs" / pack_name(pack); }
fs::path pack_record(const fs::path& dir, size_t pack) { return dir / "packs" / (pack_name(pack) + ".state.json"); }
fs::path pack_log(const fs::path& dir, size_t pack) { return dir / "logs" / (pack_name(pack) + ".log"); }
fs::path run_link(const fs::path& dir, const std::string& hash) { return dir / "runs" / hash; }

fs::path run_target(size_t pack, int64_t replica, int64_t replicas) {
  return run_layout::replica_dir(fs::path("..") / "packs" / pack_name(pack), replica, replicas);
}

}  // namespace mechlab::sweep_layout
