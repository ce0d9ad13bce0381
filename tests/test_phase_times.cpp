// The wall time a run's log.txt splits into phases: scopes add up, in first-use order, the rest is "other".
#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "train/phase_times.h"

using namespace mechlab;

namespace {
void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
// The seconds a summary gives a phase ("<name> 0.05 s (5%)").
double seconds_of(const std::string& summary, const std::string& name) {
  const size_t at = summary.find(" " + name + " ");
  REQUIRE(at != std::string::npos);
  return std::stod(summary.substr(at + name.size() + 2));
}
}  // namespace

TEST_CASE("phase times add each phase's scopes, keep first-use order, and give the rest of the wall time as other") {
  PhaseTimes times;
  CHECK(times.time("steps", [] {
    sleep_ms(30);
    return 7;
  }) == 7);
  { const PhaseTimes::Scope timed = times.scope("evaluation forward"); sleep_ms(20); }
  times.time("steps", [] { sleep_ms(30); });
  // A scope left by an exception still counts.
  CHECK_THROWS_AS(times.time("dumps", []() -> int {
    sleep_ms(10);
    throw std::runtime_error("disk full");
  }), std::runtime_error);

  const std::string summary = times.summary(1.0);
  CHECK(summary.rfind("1.0 s: steps ", 0) == 0);
  CHECK(summary.find("steps") < summary.find("evaluation forward"));
  CHECK(summary.find("evaluation forward") < summary.find("dumps"));
  const double steps = seconds_of(summary, "steps"), eval = seconds_of(summary, "evaluation forward"),
               dumps = seconds_of(summary, "dumps"), other = seconds_of(summary, "other");
  CHECK(steps >= 0.055);  // two scopes of 30 ms (rounded to 0.01 s)
  CHECK(steps < 0.5);
  CHECK(eval >= 0.015);
  CHECK(dumps >= 0.005);
  CHECK(other == doctest::Approx(1.0 - steps - eval - dumps).epsilon(0.05));
  // Never a negative rest when the phases overlap the given wall time.
  CHECK(seconds_of(times.summary(0.01), "other") == 0.0);
}
