// The command line as given: recorded once by main, quoted back for provenance.json, log.txt and the
// commands that messages tell the user to run.
#include <cstdlib>

#include "cli/commands.h"

namespace mechlab::cli {

namespace {
std::vector<std::string>& argv_storage() {
  static std::vector<std::string> words;
  return words;
}

std::string shell_word(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                              "_-.,/:=+@%") == std::string::npos)
    return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}
}  // namespace

void set_command_line(int argc, char** argv) {
  argv_storage().assign(argv, argv + argc);
}

const std::vector<std::string>& command_argv() { return argv_storage(); }

std::string program_name() {
  if (const char* invoked = std::getenv("MECHLAB_INVOKED_AS"); invoked && *invoked) return invoked;
  const std::vector<std::string>& words = argv_storage();
  if (!words.empty() && words[0].find('/') != std::string::npos) return words[0];
  return "mechlab";
}

std::string shell_line(const std::vector<std::string>& words) {
  std::string line;
  for (const std::string& word : words) line += (line.empty() ? "" : " ") + shell_word(word);
  return line;
}

}  // namespace mechlab::cli
