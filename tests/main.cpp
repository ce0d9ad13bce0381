// The test runner: doctest's own main, plus a listener that counts the test cases that skipped themselves
// (report.h) and prints the summary scripts/test shows: "tests: 86 passed, 0 failed, 5 skipped".
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdio>
#include <mutex>
#include <set>
#include <string>

#include "report.h"

namespace mechlab::testing {

namespace {
struct SkipRecord {
  std::mutex mutex;
  std::string current;         // the running test case
  std::set<std::string> skipped, failed;
};

SkipRecord& record() {
  static SkipRecord r;
  return r;
}

class SkipListener : public doctest::IReporter {
 public:
  explicit SkipListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    SkipRecord& r = record();
    if (stats.numTestCasesPassingFilters == 0) return;
    const unsigned skipped = static_cast<unsigned>(r.skipped.size());
    const unsigned failed = stats.numTestCasesFailed;
    unsigned skipped_and_failed = 0;
    for (const std::string& name : r.skipped) skipped_and_failed += r.failed.count(name) ? 1 : 0;
    const unsigned passed = stats.numTestCasesPassingFilters - failed - (skipped - skipped_and_failed);
    std::printf("tests: %u passed, %u failed, %u skipped\n", passed, failed, skipped - skipped_and_failed);
    for (const std::string& name : r.skipped)
      if (!r.failed.count(name)) std::printf("  skipped: %s\n", name.c_str());
    std::fflush(stdout);
  }
  void test_case_start(const doctest::TestCaseData& test) override {
    std::lock_guard lock(record().mutex);
    record().current = test.m_name;
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
    std::lock_guard lock(record().mutex);
    if (stats.failure_flags != 0) record().failed.insert(record().current);
  }
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
}  // namespace

void skip_test(const std::string& reason) {
  std::lock_guard lock(record().mutex);
  record().skipped.insert(record().current);
  std::printf("skipped: %s: %s\n", record().current.c_str(), reason.c_str());
  std::fflush(stdout);
}

void note(const std::string& text) {
  std::lock_guard lock(record().mutex);
  std::printf("note: %s: %s\n", record().current.c_str(), text.c_str());
  std::fflush(stdout);
}

}  // namespace mechlab::testing

DOCTEST_REGISTER_LISTENER("skips", 1, mechlab::testing::SkipListener);
