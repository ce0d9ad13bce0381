#include "tasks/bigram_backcopy/bigram_backcopy_task.h"

#include <fmt/format.h>

#include <algorithm>

#include "analysis/norms.h"
#include "config/config_error.h"
#include "nn/memory_model.h"
#include "ops/ops.h"
#include "task/parallel_replicas.h"
#include "tasks/bigram_backcopy/active_dormant.h"
#include "tasks/bigram_backcopy/interventions.h"

namespace mechlab {

namespace {
double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const size_t middle = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + middle, values.end());
  return values[middle];
}

double mean(const std::vector<double>& values) {
  double total = 0.0;
  for (double v : values) total += v;
  return values.empty() ? 0.0 : total / static_cast<double>(values.size());
}
}  // namespace

BigramBackcopyTask::BigramBackcopyTask(const nlohmann::json& options)
    : seq_len_(options["seq_len"]),
      bos_(options["bos"]),
      interventions_(options["interventions"]),
      process_(options["n_triggers"].get<int>()) {}

Schema BigramBackcopyTask::options() {
  Schema s;
  s.integer("seq_len", 64, "Sequence length T (the model sees x[0:T] and predicts x[1:T+1]).", 2, 1 << 20);
  s.integer("n_triggers", 3, "The k most frequent characters are triggers (3: space, e, t).", 0, 64);
  s.boolean("bos", true,
            "Start every sequence with the BOS token <s>. false starts it with a character (x_0 from the unigram "
            "without triggers) and no BOS; the sink metrics (bos_*) keep measuring position 0.");
  s.boolean("interventions", true,
            "At each evaluation also report loss_bigram / loss_backcopy with each head, each MLP, each layer's BOS "
            "value state and each layer's BOS residual state zeroed (one extra forward pass each).");
  return s;
}

void BigramBackcopyTask::adapt_model(nlohmann::json& model) const {
  require_model_value(model, "d_vocab", process_.vocab_size(), "bigram_backcopy has 65 characters plus BOS");
  if (model["n_ctx"].get<int64_t>() == 0) model["n_ctx"] = seq_len_;
  if (model["input"] != "tokens") throw ConfigError("model.input", "bigram_backcopy feeds tokens; set it to tokens");
  if (model["output"] != "logits") throw ConfigError("model.output", "bigram_backcopy predicts tokens; set it to logits");
}

double BigramBackcopyTask::evaluation_bytes(const TransformerConfig& model, double sequences) const {
  const double T = static_cast<double>(seq_len_), H = model.n_heads, D = model.d_model;
  // Kept to the end: every layer's pattern, scores, values and residual, and each intervention's losses
  // (four per layer and one per head; the interventions' passes run one after another); for a moment, one
  // more pattern-sized product of the reductions (evaluation_tensors) and their per-query results.
  const double kept =
      model.n_layers * (2 * H * T * T + H * T * model.head_width() + T * D + (8 + H) * T) + H * T * T + T;
  return activation_bytes(model, sequences, T, false) + sequences * kept * 4.0;
}

std::vector<MemoryPart> BigramBackcopyTask::analysis_memory(const TransformerConfig& model, int64_t replicas) const {
  const double sequences = static_cast<double>(replicas) * active_dormant_sequences(process_);
  const double length = static_cast<double>(std::min(seq_len_, active_dormant_length()));
  return {{"the active/dormant probe beside each dump", "seeds",
           activation_bytes(model, sequences, length, false) +
               sequences * model.n_layers * model.n_heads * length * length * 4.0}};  // the patterns it keeps
}

Batch BigramBackcopyTask::sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
                                 uint32_t step) const {
  const int64_t R = static_cast<int64_t>(replicas.size()), T = seq_len_;
  // Without BOS, the process's sequence is drawn one token longer and its BOS dropped, so x_0 is its x_1.
  const int64_t skip = bos_ ? 0 : 1;
  std::vector<int32_t> inputs(R * batch_size * T), targets(R * batch_size * T);
  for_example_chunks(R * batch_size, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> sequence(T + 1 + skip);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t r = row / batch_size, b = row % batch_size;
      process_.sample(Philox(replicas[r], stream, step), static_cast<uint64_t>(b), T + 1 + skip, sequence.data());
      std::copy(sequence.begin() + skip, sequence.end() - 1, inputs.begin() + row * T);
      std::copy(sequence.begin() + skip + 1, sequence.end(), targets.begin() + row * T);
    }
  });
  return {Tensor::from_vector<int32_t>({R, batch_size, T}, inputs), Tensor::from_vector<int32_t>({R, batch_size, T}, targets),
          Tensor(), {}};
}

Task::EvaluationTensors BigramBackcopyTask::evaluation_tensors(const Transformer& model, const Batch& batch) const {
  const TransformerConfig& c = model.config();
  ActivationHooks hooks;
  for (int l = 0; l < c.n_layers; ++l) {
    hooks.capture(fmt::format("blocks.{}.hook_resid_post", l));
    if (!c.layer(l).attention) continue;
    hooks.capture(fmt::format("blocks.{}.attn.hook_pattern", l));
    hooks.capture(fmt::format("blocks.{}.attn.hook_attn_scores", l));
    hooks.capture(fmt::format("blocks.{}.attn.hook_v", l));
  }
  const Tensor logits = model.forward(batch.inputs, &hooks);
  EvaluationTensors tensors{{"token_loss", token_cross_entropy(logits, batch.targets)}};  // (R, B, T)
  const int64_t T = batch.inputs.dim(2);
  if (!previous_position_mask_.defined() || previous_position_mask_.dim(0) != T ||
      previous_position_mask_.device() != batch.inputs.device()) {
    std::vector<float> mask(T * T, 0.0f);
    for (int64_t i = 1; i < T; ++i) mask[i * T + i - 1] = 1.0f;
    previous_position_mask_ = Tensor::from_vector<float>({T, T}, mask).to(batch.inputs.device());
  }
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string block = fmt::format("blocks.{}", l);
    tensors[fmt::format("resid_sq.L{}", l)] = last_axis_squared_norms(hooks.get(block + ".hook_resid_post"));  // (R, B, T)
    if (!c.layer(l).attention) continue;
    // Each query's row of the pattern and scores reduced on the device to what the metrics read, so a
    // T x T pattern per head never travels to the host. Picking one entry by a 0/1 mask is exact.
    const Tensor pattern = hooks.get(block + ".attn.hook_pattern"), scores = hooks.get(block + ".attn.hook_attn_scores");
    tensors[fmt::format("bos_attn.L{}", l)] = slice(pattern, 4, 0, 1);                              // (R, B, H, T, 1)
    tensors[fmt::format("prev_attn.L{}", l)] = sum(mul(pattern, previous_position_mask_), {4});    // (R, B, H, T)
    tensors[fmt::format("bos_score.L{}", l)] = slice(scores, 4, 0, 1);                               // (R, B, H, T, 1)
    // The sum of each query's visible scores (the linear kind masks causally).
    tensors[fmt::format("score_sum.L{}", l)] = sum(attention_pattern(scores, AttentionKind::linear), {4});  // (R, B, H, T)
    tensors[fmt::format("value_sq.L{}", l)] =
        head_value_squared_norms(hooks.get(block + ".attn.hook_v"), model.parameter(block + ".attn.W_O"));  // (R, B, H, T)
  }
  if (interventions_)
    for (const Intervention& intervention : bigram_backcopy_interventions(c)) {
      ActivationHooks patched;
      intervention.install(patched);
      tensors["token_loss." + intervention.label] =
          token_cross_entropy(model.forward(batch.inputs, &patched), batch.targets);  // (R, B, T)
    }
  return tensors;
}

nlohmann::json BigramBackcopyTask::vocabulary() const {
  nlohmann::json tokens = nlohmann::json::array();
  for (int token = 0; token < process_.vocab_size(); ++token) tokens.push_back(process_.token_text(token));
  return tokens;
}

void BigramBackcopyTask::write_dump_analyses(const Transformer& model,
                                             const std::vector<std::filesystem::path>& dump_dirs) const {
  write_active_dormant(model, process_, bos_, seq_len_, dump_dirs);
}

std::vector<Metrics> BigramBackcopyTask::summarize(const EvaluationTensors& t, const Batch& batch) const {
  const int64_t R = batch.inputs.dim(0), B = batch.inputs.dim(1), T = batch.inputs.dim(2);
  const std::vector<float> ce = t.at("token_loss").to_vector<float>();
  const std::vector<int32_t> tokens = batch.inputs.to_vector<int32_t>();

  std::vector<Metrics> metrics(R);
  // Split losses of one per-position loss tensor, as metrics named <loss>[suffix].
  auto split_losses = [&](const std::vector<float>& ce, const std::string& suffix) {
    for_each_replica(R, [&](int64_t r) {
      std::vector<double> bigram, backcopy, oracle, first, all;
      for (int64_t i = r * B * T; i < (r + 1) * B * T; ++i) {
        all.push_back(ce[i]);
        if (i % T == 0) {
          first.push_back(ce[i]);  // position 0: after BOS a restricted unigram, without BOS a bigram with no context
        } else if (process_.is_trigger(tokens[i])) {
          backcopy.push_back(ce[i]);
        } else {
          bigram.push_back(ce[i]);
          oracle.push_back(process_.next_token_entropy(tokens[i]));
        }
      }
      metrics[r]["eval_loss" + suffix] = mean(all);
      metrics[r]["loss_bigram" + suffix] = mean(bigram);
      metrics[r]["loss_backcopy" + suffix] = mean(backcopy);
      metrics[r]["loss_first" + suffix] = mean(first);
      if (suffix.empty()) metrics[r]["oracle_bigram_entropy"] = mean(oracle);
    });
  };
  split_losses(ce, "");
  for (const auto& [name, tensor] : t)
    if (name.rfind("token_loss.", 0) == 0) split_losses(tensor.to_vector<float>(), name.substr(std::string("token_loss").size()));

  for (int l = 0; t.count(fmt::format("resid_sq.L{}", l)); ++l) {
    const std::vector<float> resid = sqrt_on_host(t.at(fmt::format("resid_sq.L{}", l))).to_vector<float>();  // (R, B, T)
    for_each_replica(R, [&](int64_t r) {
      std::vector<double> bos, others;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < T; ++i) (i == 0 ? bos : others).push_back(resid[(r * B + b) * T + i]);
      metrics[r][fmt::format("resid_norm_bos.L{}", l)] = mean(bos);
      metrics[r][fmt::format("resid_norm_median.L{}", l)] = median(others);
    });
    if (!t.count(fmt::format("bos_attn.L{}", l))) continue;
    const Tensor& bos_tensor = t.at(fmt::format("bos_attn.L{}", l));
    const int64_t H = bos_tensor.dim(2);
    const float* bos_attn = bos_tensor.data<float>();                                   // (R, B, H, T)
    const float* prev_attn = t.at(fmt::format("prev_attn.L{}", l)).data<float>();      // (R, B, H, T)
    const float* bos_score = t.at(fmt::format("bos_score.L{}", l)).data<float>();      // (R, B, H, T)
    const float* score_sum = t.at(fmt::format("score_sum.L{}", l)).data<float>();      // (R, B, H, T)
    const std::vector<float> value_norms = sqrt_on_host(t.at(fmt::format("value_sq.L{}", l))).to_vector<float>();  // (R, B, H, T)
    for_each_replica(R, [&](int64_t r) {
      for (int64_t h = 0; h < H; ++h) {
        std::vector<double> bos_nontrigger, bos_trigger, prev_trigger, value_bos, value_others, gap_nontrigger, gap_trigger;
        for (int64_t b = 0; b < B; ++b) {
          const int64_t row = ((r * B + b) * H + h) * T;  // the head's query rows
          const float* vn = &value_norms[row];
          value_bos.push_back(vn[0]);
          for (int64_t i = 1; i < T; ++i) {
            value_others.push_back(vn[i]);
            // The BOS logit against the mean logit of the other visible keys.
            const double s0 = bos_score[row + i];
            const double gap = s0 - (score_sum[row + i] - s0) / static_cast<double>(i);
            const bool trigger = process_.is_trigger(tokens[(r * B + b) * T + i]);
            (trigger ? gap_trigger : gap_nontrigger).push_back(gap);
            if (trigger) {
              bos_trigger.push_back(bos_attn[row + i]);
              prev_trigger.push_back(prev_attn[row + i]);
            } else {
              bos_nontrigger.push_back(bos_attn[row + i]);
            }
          }
        }
        const std::string head = fmt::format("L{}H{}", l, h);
        metrics[r]["bos_attn_nontrigger." + head] = mean(bos_nontrigger);
        metrics[r]["bos_attn_trigger." + head] = mean(bos_trigger);
        metrics[r]["prev_attn_trigger." + head] = mean(prev_trigger);
        metrics[r]["bos_logit_gap_nontrigger." + head] = mean(gap_nontrigger);
        metrics[r]["bos_logit_gap_trigger." + head] = mean(gap_trigger);
        metrics[r]["value_norm_bos." + head] = mean(value_bos);
        metrics[r]["value_norm_median." + head] = median(value_others);
      }
    });
  }
  return metrics;
}

}  // namespace mechlab
