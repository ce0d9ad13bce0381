// Acceptance run of the first study's quick config (about a minute on 2 cores): the trained 1-layer model
// copies after triggers, predicts bigrams at the oracle's level, and has formed the attention sink; the
// interventions show which part does what (every formation is checked against the untrained model's step-0
// value); the study's figure script, pointed at the run directory,
// draws every figure from it.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <sstream>
#include <string>

#include "report.h"
#include "subprocess.h"

using namespace mechlab::testing;

TEST_CASE("configs/bigram_backcopy/quick.json learns backcopy and forms the attention sink") {
  TempDir dir;
  const std::string config = source_dir() + "/configs/bigram_backcopy/quick.json";
  const std::filesystem::path run = dir / "bigram_backcopy_quick";
  ProcessResult result = run_mechlab({"run", config, "--out", run.string()});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  nlohmann::json summary = nlohmann::json::parse(read_text(run / "summary.json"));
  // The evaluation of step 0, the untrained model: every mechanism below must have formed since.
  const std::string metrics = read_text(run / "metrics.jsonl");
  const nlohmann::json start = nlohmann::json::parse(metrics.substr(0, metrics.find('\n')));
  REQUIRE(start["step"] == 0);
  INFO(summary.dump(2));
  INFO(start.dump(2));
  auto at_end = [&](const char* key) { return summary[key].get<double>(); };
  auto at_start = [&](const char* key) { return start[key].get<double>(); };
  CHECK(at_end("loss_backcopy") < 0.05);
  CHECK(at_start("loss_backcopy") > 3.0);
  CHECK(std::abs(at_end("loss_bigram") - at_end("oracle_bigram_entropy")) < 0.05);
  // The sink forms: non-trigger queries go from ~0.07 to most of their attention on BOS, trigger queries to
  // the previous token.
  CHECK(at_end("bos_attn_nontrigger.L0H0") > 0.6);
  CHECK(at_end("bos_attn_nontrigger.L0H0") > at_start("bos_attn_nontrigger.L0H0") + 0.5);
  CHECK(at_end("bos_attn_trigger.L0H0") < at_start("bos_attn_trigger.L0H0") / 10);
  CHECK(at_end("prev_attn_trigger.L0H0") > at_start("prev_attn_trigger.L0H0") + 0.5);
  // The value state of BOS drains: at step 0 it is about the median of the other positions (0.9x); it ends
  // below half of that ratio, and below its own starting norm.
  const double ratio_start = at_start("value_norm_bos.L0H0") / at_start("value_norm_median.L0H0");
  const double ratio_end = at_end("value_norm_bos.L0H0") / at_end("value_norm_median.L0H0");
  CHECK(ratio_end < 0.5 * ratio_start);
  CHECK(at_end("value_norm_bos.L0H0") < at_start("value_norm_bos.L0H0"));
  // BOS wins the attention logits of non-trigger queries and loses those of trigger queries; at step 0
  // both gaps are about 0.
  CHECK(at_end("bos_logit_gap_nontrigger.L0H0") > at_start("bos_logit_gap_nontrigger.L0H0") + 1.0);
  CHECK(at_end("bos_logit_gap_trigger.L0H0") < at_start("bos_logit_gap_trigger.L0H0") - 1.0);
  // Zeroing the head breaks backcopy and leaves bigrams within 2% (the reference run: 2.240 -> 2.257);
  // zeroing the MLP breaks bigrams.
  const double bigram = summary["loss_bigram"].get<double>();
  CHECK(summary["loss_backcopy.zero_head.L0H0"].get<double>() > 3.0);
  CHECK(std::abs(summary["loss_bigram.zero_head.L0H0"].get<double>() / bigram - 1.0) < 0.02);
  CHECK(summary["loss_bigram.zero_mlp.L0"].get<double>() > bigram + 0.5);

  // The active/dormant table of the last step: the head is active on the three triggers and dormant
  // (>= 0.89 on BOS) on most lowercase non-trigger letters, the frequent characters that follow bigrams.
  std::istringstream table(read_text(run / "dumps" / "step_00003000" / "active_dormant.csv"));
  std::string line;
  std::getline(table, line);
  CHECK(line == "layer,head,token,text,trigger,bos_attention,state");
  int rows = 0, active_triggers = 0, dormant_lowercase = 0, lowercase = 0;
  while (std::getline(table, line)) {
    ++rows;
    // Fields from the right (the text field may be a quoted comma): ...,text,trigger,bos_attention,state.
    const size_t state_at = line.rfind(','), attention_at = line.rfind(',', state_at - 1);
    const size_t trigger_at = line.rfind(',', attention_at - 1), text_at = line.rfind(',', trigger_at - 1);
    const bool trigger = line.substr(trigger_at + 1, attention_at - trigger_at - 1) == "1";
    const bool active = line.substr(state_at + 1) == "active";
    const std::string text = line.substr(text_at + 1, trigger_at - text_at - 1);
    if (trigger) active_triggers += active;
    if (!trigger && text.size() == 1 && text[0] >= 'a' && text[0] <= 'z') {
      ++lowercase;
      dormant_lowercase += !active;
    }
  }
  CHECK(rows == 65);
  CHECK(active_triggers == 3);
  CHECK(lowercase == 24);  // 26 letters but e and t
  CHECK(dormant_lowercase >= 15);

  // scripts/figures/bigram_backcopy.py draws every figure and table from the run directory alone.
  if (!python_imports("numpy, matplotlib")) {
    skip_test("the figures need python3-numpy and python3-matplotlib (scripts/setup --figures installs them)");
    return;
  }
  const std::string command = "/usr/bin/python3 " + source_dir() + "/scripts/figures/bigram_backcopy.py " +
                              run.string() + " --out " + (dir / "figures").string() + " > " +
                              (dir / "figures.log").string() + " 2>&1";
  const int status = std::system(command.c_str());
  INFO(read_text(dir / "figures.log"));
  REQUIRE(status == 0);
  CHECK(read_text(dir / "figures.log").find("skipped") == std::string::npos);
  for (const char* png : {"dynamics.png", "residual_peak.png", "attention_maps_bigram_backcopy_quick.png",
                          "ablations.png", "active_dormant_bigram_backcopy_quick.png"}) {
    const std::string bytes = read_text(dir / "figures" / png);
    CHECK_MESSAGE(bytes.size() > 20000, png);
    CHECK_MESSAGE(bytes.substr(1, 3) == "PNG", png);
  }
  const std::string numbers = read_text(dir / "figures" / "numbers.md");
  CHECK(numbers.find("Head zeroed at step 3000") != std::string::npos);
  CHECK(read_text(dir / "figures" / "ablations.csv").find("bigram_backcopy_quick,3000,zero_head.L0H0,") != std::string::npos);
}
