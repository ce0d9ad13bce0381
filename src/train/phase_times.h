// Wall time a run spends in each phase (training steps, evaluations, dumps, checkpoints, ...), written to
// log.txt when training ends, so a slow run shows where its time went without a profiler.
#pragma once
#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace mechlab {

class PhaseTimes {
  using Clock = std::chrono::steady_clock;

 public:
  // Adds the wall time from its construction to its destruction to a phase (also when unwinding).
  class Scope {
   public:
    Scope(PhaseTimes& times, const char* phase) : times_(times), phase_(phase), start_(Clock::now()) {}
    ~Scope() { times_.add(phase_, std::chrono::duration<double>(Clock::now() - start_).count()); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    PhaseTimes& times_;
    const char* phase_;
    Clock::time_point start_;
  };
  [[nodiscard]] Scope scope(const char* phase) { return Scope(*this, phase); }
  // Runs fn() within a scope of `phase` and returns what it returns.
  template <typename Fn> decltype(auto) time(const char* phase, Fn&& fn) {
    const Scope timed(*this, phase);
    return std::forward<Fn>(fn)();
  }

  // "12.9 s: steps 10.31 s (80%), evaluation forward 2.02 s (16%), ..., other 0.52 s (4%)", the phases in
  // the order they were first timed; "other" is the rest of `wall` seconds (setup, progress display).
  std::string summary(double wall) const {
    double timed = 0;
    for (const auto& [name, seconds] : phases_) timed += seconds;
    auto part = [&](const std::string& name, double seconds) {
      return fmt::format("{} {:.2f} s ({:.0f}%)", name, seconds, wall > 0 ? 100 * seconds / wall : 0.0);
    };
    std::string out = fmt::format("{:.1f} s:", wall);
    for (const auto& [name, seconds] : phases_) out += " " + part(name, seconds) + ",";
    return out + " " + part("other", std::max(0.0, wall - timed));
  }

 private:
  void add(const char* phase, double seconds) {
    for (auto& [name, total] : phases_)
      if (name == phase) {
        total += seconds;
        return;
      }
    phases_.emplace_back(phase, seconds);
  }
  std::vector<std::pair<std::string, double>> phases_;
};

}  // namespace mechlab
