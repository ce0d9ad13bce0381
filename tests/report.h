// What tests print beside doctest's own output. Checks that cannot run on this machine (no GPU, no numpy)
// report themselves here: the test case is counted as skipped, not passed, and named in the summary line
// that scripts/test prints. Notes are counts worth seeing in the log ("197 hostile run inputs refused").
#pragma once
#include <string>

namespace mechlab::testing {

// Marks the running test case skipped and prints "skipped: <test case>: <reason>". Return right after.
void skip_test(const std::string& reason);
// Prints "note: <test case>: <text>".
void note(const std::string& text);

}  // namespace mechlab::testing
