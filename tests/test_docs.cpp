// docs/config.md is generated from the schema; this keeps the committed copy current.
#include <doctest/doctest.h>

#include "subprocess.h"

using namespace mechlab::testing;

TEST_CASE("docs/config.md matches `mechlab validate --reference`") {
  ProcessResult reference = run_mechlab({"validate", "--reference"});
  REQUIRE(reference.exit_code == 0);
  INFO("regenerate with: build/mechlab validate --reference > docs/config.md");
  CHECK(reference.out == read_text(source_dir() + "/docs/config.md"));
}
