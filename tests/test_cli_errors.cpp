// `mechlab validate`: the resolved config, or the first error. (Bad input to `mechlab run` is in
// test_bad_inputs.cpp, its corpus in tests/corpus/bad_runs.json.)
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "subprocess.h"

using namespace mechlab::testing;
using nlohmann::json;

namespace {
json valid_config() {
  return json::parse(R"({
    "name": "tiny", "seed": 1,
    "task": {"name": "bigram_backcopy", "seq_len": 16},
    "model": {"n_layers": 1, "n_heads": 2, "d_model": 16, "d_mlp": 32},
    "optim": {"lr": 1e-3},
    "train": {"steps": 5, "batch_size": 4}
  })");
}
}  // namespace

TEST_CASE("validate prints the resolved config with every default, or the error") {
  TempDir dir;
  write_text(dir / "config.json", valid_config().dump());
  ProcessResult ok = run_mechlab({"validate", (dir / "config.json").string(), "optim.lr=3e-4"});
  REQUIRE(ok.exit_code == 0);
  json resolved = json::parse(ok.out);
  CHECK(resolved["optim"]["lr"] == 3e-4);
  CHECK(resolved["model"]["d_vocab"] == 66);  // filled in by the task
  CHECK(resolved["model"]["n_ctx"] == 16);
  CHECK(resolved["model"]["activation"] == "gelu");  // a default
  ProcessResult bad = run_mechlab({"validate", (dir / "config.json").string(), "model.d_model=0"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("model.d_model: must be >= 1, got 0") != std::string::npos);
}
