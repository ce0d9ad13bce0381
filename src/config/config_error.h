// The one exception a user's config mistake becomes: what() is the single line "<path>: <message>", so
// the CLI can print it as it is and exit with code 2, and a researcher sees where to look and what to fix.
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace mechlab {

// `path` names the JSON value at fault ("model.d_model", "optim.lr[2]", "(top level)") or, when a file
// cannot be read or parsed, the file name as given.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string path, const std::string& message)
      : std::runtime_error(path + ": " + message), path_(std::move(path)) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mechlab
