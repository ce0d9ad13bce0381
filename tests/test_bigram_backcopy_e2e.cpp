// Acceptance run of the first study's quick config (about 40 s on 2 cores): the trained 1-layer model
// copies after triggers, predicts bigrams at the oracle's level, and has formed the attention sink.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "subprocess.h"

using namespace mechlab::testing;

TEST_CASE("configs/bigram_backcopy/quick.json learns backcopy and forms the attention sink") {
  TempDir dir;
  const std::string config = source_dir() + "/configs/bigram_backcopy/quick.json";
  ProcessResult result = run_mechlab({"run", config, "--out", (dir / "run").string()});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  nlohmann::json summary = nlohmann::json::parse(read_text(dir / "run" / "summary.json"));
  INFO(summary.dump(2));
  CHECK(summary["loss_backcopy"].get<double>() < 0.05);
  CHECK(std::abs(summary["loss_bigram"].get<double>() - summary["oracle_bigram_entropy"].get<double>()) < 0.05);
  CHECK(summary["bos_attn_nontrigger.L0H0"].get<double>() > 0.6);
  CHECK(summary["bos_attn_trigger.L0H0"].get<double>() < 0.1);
  // The value state of BOS has drained below the other positions'.
  CHECK(summary["value_norm_bos.L0H0"].get<double>() < summary["value_norm_median.L0H0"].get<double>());
}
