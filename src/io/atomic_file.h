// Whole-file reads and all-or-nothing writes: every file mechlab produces (checkpoints, dumps, summaries)
// goes through write_file_atomically, so a crash or a concurrent reader never sees half a file.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace mechlab {

// Writes `bytes` to a temporary file next to `path`, fsyncs it and renames it over `path`: readers see
// either the old content or the new, never a mix. The directory must exist. Throws std::runtime_error
// naming the path and the system's reason.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// A new, empty directory beside `path` with the name of a temporary (.<name>.tmp.<pid>.<serial>, which
// run_layout::is_temporary recognises and a resumed run removes): for results assembled as a folder and
// renamed into place. Throws std::runtime_error naming the path and the system's reason.
std::filesystem::path create_temporary_directory_beside(const std::filesystem::path& path);

// Appends `bytes` to the open descriptor `fd` of `path` (named in errors), retrying short writes. Throws
// std::runtime_error naming the path and the system's reason (a full disk, a quota).
void append_all(int fd, std::string_view bytes, const std::filesystem::path& path);
// Appends `bytes` to `path`, creating it, with checked writes.
void append_to_file(const std::filesystem::path& path, std::string_view bytes);

// The whole content of `path`. Throws std::runtime_error naming the path and the system's reason.
std::string read_file(const std::filesystem::path& path);

}  // namespace mechlab
