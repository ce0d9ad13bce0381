#include "io/fault_injection.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace mechlab {

namespace {
struct Fault {
  std::string point;
  long count = 0;
  int signal = 0;
};

Fault parse_fault(const char* text) {
  Fault fault;
  if (!text) return fault;
  const std::string spec = text;
  const size_t first = spec.find(':'), second = spec.find(':', first + 1);
  if (first == std::string::npos || second == std::string::npos) return fault;
  const std::string name = spec.substr(second + 1);
  const struct {
    const char* name;
    int signal;
  } signals[] = {{"SIGKILL", SIGKILL}, {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT}, {"SIGHUP", SIGHUP}};
  for (const auto& s : signals)
    if (name == s.name) fault.signal = s.signal;
  if (fault.signal == 0) fault.signal = std::atoi(name.c_str());
  fault.point = spec.substr(0, first);
  fault.count = std::atol(spec.substr(first + 1, second - first - 1).c_str());
  return fault;
}
}  // namespace

void fault_point(const char* point) {
  static Fault fault = parse_fault(std::getenv("MECHLAB_FAULT"));
  if (fault.signal == 0 || fault.point != point) return;
  if (--fault.count == 0) std::raise(fault.signal);
}

}  // namespace mechlab
