#include "tasks/retrieval/retrieval_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "config/config_error.h"
#include "nn/attention_patterns.h"
#include "ops/ops.h"
#include "task/parallel_replicas.h"

namespace mechlab {

namespace {
const nlohmann::json& checked(const nlohmann::json& o) {
  const int64_t needed = o["chains"].get<int64_t>() * o["steps"].get<int64_t>();
  if (o["variables"].get<int64_t>() < needed)
    throw ConfigError("task.variables", fmt::format("{} chains of {} steps need {} distinct variables, but there are {}; "
                                                    "raise task.variables or lower task.chains",
                                                    o["chains"].get<int64_t>(), o["steps"].get<int64_t>(), needed,
                                                    o["variables"].get<int64_t>()));
  if (o["target"] == "dense" && o["order"] != "interleaved")
    throw ConfigError("task.target", "a dense target scores every assignment, whose chain's value must come before "
                                     "it; set task.order to interleaved (or task.target to query_only)");
  if (o["data"] == "finite" && o["examples"].get<int64_t>() < 1)
    throw ConfigError("task.examples", "a finite training set needs at least one example");
  return o;
}
}  // namespace

RetrievalTask::RetrievalTask(const nlohmann::json& options)
    : shape_{checked(options)["steps"].get<int>(), options["chains"].get<int>(), options["variables"].get<int>(),
             options["values"].get<int>(), options["order"] == "interleaved"},
      pair_layout_(options["layout"] == "pair_token"),
      depth_stages_(depth_stages(options)),
      dense_(options["target"] == "dense"),
      examples_(options["data"] == "finite" ? options["examples"].get<int64_t>() : 0) {}

Schema RetrievalTask::options() {
  Schema s;
  s.choice("layout", "pair_token", {"pair_token", "triple_tokens"},
           "pair_token: each assignment one position, embedding E_lhs[lhs] + E_rhs[rhs]; triple_tokens: lhs, '=', rhs "
           "as three positions and the query as '?', v_k.");
  s.integer("steps", 4, "D: assignments per chain, the deepest query.", 1, 64);
  s.integer("chains", 4, "Chains per example (the others are distractors).", 1, 64);
  s.integer("variables", 64, "Variable names (at least chains * steps; each example uses chains * steps of them).", 1,
            4096);
  s.integer("values", 16, "Values a chain can start from (chance accuracy is 1 / values).", 2, 4096);
  s.choice("order", "shuffled", {"shuffled", "interleaved"},
           "shuffled: the assignments in random order; interleaved: each chain in step order (v_1 = value first), "
           "the chains randomly interleaved (Lutz's renaming chains; needed by target dense).");
  s.choice("query_depth", "uniform", {"uniform", "fixed", "schedule"},
           "uniform: each training query k hops deep, k uniform over 1 .. D (the implicit curriculum); fixed: always D; "
           "schedule: as task.depth_schedule says, stage by stage.");
  s.object_list("depth_schedule",
                "With query_depth schedule, the stages of an explicit curriculum: a list of {\"from_step\": S, "
                "\"max_depth\": k, \"min_depth\": j}, from step S on each training query's depth uniform over j .. k "
                "(min_depth 1 if left out); the first stage from step 0, each later one from a later step. E.g. "
                "[{\"from_step\": 0, \"max_depth\": 1}, {\"from_step\": 2000, \"max_depth\": 2}] adds depth 2 at "
                "step 2000. Evaluation measures every depth whatever the stage.");
  s.choice("target", "query_only", {"query_only", "dense"},
           "query_only: the answer at the query; dense: also, at every assignment (its rhs token in the triple layout), "
           "the value of its chain (needs order interleaved).");
  s.choice("data", "fresh", {"fresh", "finite"},
           "fresh: new examples every step; finite: task.examples fixed examples, batches drawn from them with "
           "replacement. Evaluation examples are always fresh.");
  s.integer("examples", 262144, "Training examples when data is finite (Musat: 2^18).", 1, 2147483647);
  return s;
}

void RetrievalTask::adapt_model(nlohmann::json& model) const {
  if (pairs()) {
    if (model["input"] != "tokens" && model["input"] != "token_pairs")  // tokens: the default, not a choice
      throw ConfigError("model.input", "retrieval's pair tokens feed two ids per position; set it to token_pairs or "
                                       "remove it");
    model["input"] = "token_pairs";  // W_in is [E_lhs; E_rhs]
    require_model_value(model, "d_input", pair_width(),
                        "pair tokens index [lhs (variables and '?'); rhs (variables and values)]");
  } else if (model["input"] != "tokens") {
    throw ConfigError("model.input", "retrieval's triple tokens feed token ids; set it to tokens or remove it");
  }
  require_model_value(model, "d_vocab", output_width(),
                      pairs() ? "the model predicts one of task.values" : "triple tokens: variables, values, '=' and '?'");
  if (model["n_ctx"].get<int64_t>() == 0) model["n_ctx"] = sequence_length();
}

int64_t RetrievalTask::sequence_length() const {
  const int64_t n = static_cast<int64_t>(shape_.chains) * shape_.steps;
  return pairs() ? n + 1 : 3 * n + 2;
}

Batch RetrievalTask::sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
                            uint32_t step) const {
  const int64_t R = static_cast<int64_t>(replicas.size()), B = batch_size, T = sequence_length();
  const int V = shape_.variables;
  const bool training = stream == RandomStream::data;
  // Training queries as the stage in force says; evaluation queries at every depth.
  const DepthStage depths = training ? stage_at(depth_stages_, step) : DepthStage{0, 1, shape_.steps};
  std::vector<int32_t> tokens(R * B * T * (pairs() ? 2 : 1), 0), targets(R * B * T, 0);  // scored where loss_mask_for says
  for_example_chunks(R * B, [&](int64_t begin, int64_t end) {
    for (int64_t example = begin; example < end; ++example) {
      const int64_t r = example / B, b = example % B;
      const Philox rng(replicas[r], stream, step);
      const Philox dataset(replicas[r], RandomStream::dataset, 0);
      const bool finite = training && examples_ > 0;
      const RetrievalExample e =
          finite ? sample_example(dataset, rng.below(static_cast<uint64_t>(b), static_cast<uint32_t>(examples_)), shape_,
                                  depths.lowest, depths.highest)
                 : sample_example(rng, static_cast<uint64_t>(b), shape_, depths.lowest, depths.highest);
      const int64_t row = (r * B + b) * T;
      auto target = [&](int64_t t, int chain) { targets[row + t] = value_token(e.values[chain]); };
      for (size_t i = 0; i < e.assignments.size(); ++i) {
        const Assignment& a = e.assignments[i];
        if (pairs()) {
          int32_t* pair = &tokens[(row + static_cast<int64_t>(i)) * 2];
          pair[0] = a.lhs;
          pair[1] = (V + 1) + a.rhs;  // rhs ids: variables, then values
          if (dense_) target(static_cast<int64_t>(i), a.chain);
        } else {
          const int64_t t = 3 * static_cast<int64_t>(i);
          tokens[row + t] = a.lhs;
          tokens[row + t + 1] = V + shape_.values;  // '='
          tokens[row + t + 2] = a.rhs;              // a variable, or V + value: the same ids as value_token
          if (dense_) target(t + 2, a.chain);
        }
      }
      if (pairs()) {
        int32_t* pair = &tokens[(row + T - 1) * 2];
        pair[0] = V;  // '?'
        pair[1] = (V + 1) + e.query_variable;
      } else {
        tokens[row + T - 2] = V + shape_.values + 1;  // '?'
        tokens[row + T - 1] = e.query_variable;
      }
      target(T - 1, e.query_chain);
    }
  });
  Tensor inputs = pairs() ? Tensor::from_vector<int32_t>({R, B, T, 2}, tokens) : Tensor::from_vector<int32_t>({R, B, T}, tokens);
  return {inputs, Tensor::from_vector<int32_t>({R, B, T}, targets), loss_mask_for(inputs), {}};
}

Tensor RetrievalTask::loss_mask_for(const Tensor& inputs) const {
  const int64_t R = inputs.dim(0), B = inputs.dim(1), T = inputs.dim(2);
  std::vector<float> mask(R * B * T, 0.0f);
  for (int64_t row = 0; row < R * B; ++row)
    for (int64_t t = 0; t < T; ++t) {
      const bool assignment_target = dense_ && t < T - 1 && (pairs() || t % 3 == 2);
      if (t == T - 1 || assignment_target) mask[row * T + t] = 1.0f;
    }
  return Tensor::from_vector<float>({R, B, T}, mask);
}

ChainPointers RetrievalTask::chain_pointers(const Tensor& inputs) const {
  const int64_t R = inputs.dim(0), B = inputs.dim(1), n = static_cast<int64_t>(shape_.chains) * shape_.steps;
  const int V = shape_.variables;
  const int64_t K = pairs() ? pair_width() : output_width();
  if (!one_hot_table_.defined() || one_hot_table_.dim(0) != R || one_hot_table_.device() != inputs.device())
    one_hot_table_ = identity_tables(R, K, DType::f32, inputs.device());
  const Tensor rows = embedding(one_hot_table_, inputs);  // (R, B, T, K), or (R, B, T, 2, K) for pairs
  if (pairs()) {  // lhs ids: the variable (V is '?'); rhs ids: V + 1 + the variable (or V + 1 + V + value)
    const int64_t T = inputs.dim(2);
    auto side = [&](int64_t which, int64_t first_id) {  // (R, B, T, V): the side's variable as a one-hot row
      return slice(reshape(slice(rows, 3, which, which + 1), {R, B, T, K}), 3, first_id, first_id + V);
    };
    const Tensor lhs = side(0, 0), rhs = side(1, V + 1);
    return {slice(lhs, 2, 0, n), slice(rhs, 2, 0, n), slice(rhs, 2, n, n + 1)};
  }
  const Tensor triples = reshape(slice(rows, 2, 0, 3 * n), {R, B, n, 3, K});
  auto part = [&](int64_t at) { return slice(reshape(slice(triples, 3, at, at + 1), {R, B, n, K}), 3, 0, V); };
  const int64_t T = inputs.dim(2);
  return {part(0), part(2), slice(slice(rows, 2, T - 1, T), 3, 0, V)};
}

Task::EvaluationTensors RetrievalTask::evaluation_tensors(const Transformer& model, const Batch& batch) const {
  const auto [logits, patterns] = forward_with_patterns(model, batch.inputs);
  ChainPointers pointers = chain_pointers(batch.inputs);
  const DType dtype = logits.dtype();
  pointers = {pointers.lhs.to(dtype), pointers.rhs.to(dtype), pointers.query.to(dtype)};
  EvaluationTensors out = hop_tensors(patterns, pointers, pairs() ? 1 : 3, shape_.steps);
  const int64_t T = logits.dim(2), R = logits.dim(0), B = logits.dim(1), K = logits.dim(3);
  out["query_logits"] = slice(logits, 2, T - 1, T);  // (R, B, 1, output width)
  if (dense_) {  // the logits at every assignment's scored position (its rhs token in the triple layout)
    const int64_t n = static_cast<int64_t>(shape_.chains) * shape_.steps;
    out["assignment_logits"] = pairs() ? slice(logits, 2, 0, n)
                                       : reshape(slice(reshape(slice(logits, 2, 0, 3 * n), {R, B, n, 3, K}), 3, 2, 3),
                                                 {R, B, n, K});
  }
  return out;
}

std::vector<ReadExample> RetrievalTask::read_examples(const Tensor& inputs) const {
  const int V = shape_.variables;
  const int64_t n = static_cast<int64_t>(shape_.chains) * shape_.steps, examples = inputs.dim(0) * inputs.dim(1);
  const int64_t per_example = inputs.numel() / examples;
  const std::vector<int32_t> all = inputs.to_vector<int32_t>();
  std::vector<ReadExample> read(examples);
  for (int64_t e = 0; e < examples; ++e) {
    const int32_t* ids = &all[e * per_example];
    for (int64_t i = 0; i < n; ++i) {
      if (pairs()) read[e].assignments.push_back({ids[2 * i], ids[2 * i + 1] - (V + 1), 0, 0});
      else read[e].assignments.push_back({ids[3 * i], ids[3 * i + 2], 0, 0});
    }
    const int query = pairs() ? ids[2 * n + 1] - (V + 1) : ids[3 * n + 1];
    read[e].depth = hops_to_value(read[e].assignments, query, V);
  }
  return read;
}

std::vector<Metrics> RetrievalTask::summarize(const EvaluationTensors& t, const Batch& batch) const {
  const int64_t R = batch.inputs.dim(0), B = batch.inputs.dim(1), T = batch.inputs.dim(2), K = output_width();
  const std::vector<float> logits = t.at("query_logits").to_vector<float>();  // (R, B, 1, K)
  const std::vector<int32_t> targets = batch.targets.to_vector<int32_t>();
  const std::vector<ReadExample> examples = read_examples(batch.inputs);
  std::vector<Metrics> metrics(R);
  for (int64_t r = 0; r < R; ++r) {
    std::vector<double> correct(shape_.steps + 1, 0.0), count(shape_.steps + 1, 0.0);
    double loss = 0.0, right = 0.0;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = r * B + b;
      const float* z = &logits[row * K];
      const int answer = targets[row * T + T - 1];
      const float top = *std::max_element(z, z + K);
      double total = 0.0;
      for (int64_t k = 0; k < K; ++k) total += std::exp(static_cast<double>(z[k] - top));
      loss += std::log(total) - (z[answer] - top);
      const bool hit = std::max_element(z, z + K) - z == answer;
      right += hit;
      const int depth = examples[row].depth;
      correct[depth] += hit;
      count[depth] += 1.0;
    }
    if (dense_) add_assignment_accuracy(t.at("assignment_logits"), targets, examples, r, metrics[r]);
    metrics[r]["eval_loss"] = loss / static_cast<double>(B);
    metrics[r]["accuracy"] = right / static_cast<double>(B);
    for (int k = 1; k <= shape_.steps; ++k)
      if (count[k] > 0) metrics[r][fmt::format("accuracy.depth{}", k)] = correct[k] / count[k];
  }
  add_hop_scores(t, examples, shape_.variables, shape_.steps, metrics);
  return metrics;
}

void RetrievalTask::add_assignment_accuracy(const Tensor& assignment_logits, const std::vector<int32_t>& targets,
                                            const std::vector<ReadExample>& examples, int64_t replica,
                                            Metrics& metrics) const {
  const int64_t B = assignment_logits.dim(1), n = assignment_logits.dim(2), K = assignment_logits.dim(3);
  const int64_t T = static_cast<int64_t>(targets.size()) / (assignment_logits.dim(0) * B);
  const std::vector<float> logits = slice(assignment_logits, 0, replica, replica + 1).to_vector<float>();
  std::vector<double> correct(shape_.steps + 1, 0.0), count(shape_.steps + 1, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t row = replica * B + b;
    const std::vector<Assignment>& assignments = examples[row].assignments;
    for (int64_t i = 0; i < n; ++i) {
      const int depth = hops_to_value(assignments, assignments[i].lhs, shape_.variables);  // 0: a broken chain
      if (depth == 0) continue;
      const float* z = &logits[(b * n + i) * K];
      const int64_t position = pairs() ? i : 3 * i + 2;
      correct[depth] += std::max_element(z, z + K) - z == targets[row * T + position];
      count[depth] += 1.0;
    }
  }
  for (int k = 1; k <= shape_.steps; ++k)
    if (count[k] > 0) metrics[fmt::format("assignment_accuracy.depth{}", k)] = correct[k] / count[k];
}

std::vector<AnalysisMetric> RetrievalTask::analysis_metrics() const {
  std::vector<AnalysisMetric> metrics = {
      {"answer_loss", MetricKind::answer_loss, "query", "answer", "", 0, "cross-entropy of the answer at the query", ""},
      {"accuracy", MetricKind::accuracy, "query", "answer", "", 0, "the answer is the top prediction at the query", ""},
      {"loss", MetricKind::loss, "", "", "", 0, "the training loss", ""}};
  for (int k = 1; k <= shape_.steps; ++k) {
    const std::string depth = fmt::format("depth{}", k);
    metrics.push_back({"accuracy." + depth, MetricKind::accuracy, "query", "answer", "", 0,
                       fmt::format("accuracy over the queries {} hop(s) from their answer", k), depth});
    metrics.push_back({"answer_loss." + depth, MetricKind::answer_loss, "query", "answer", "", 0,
                       fmt::format("answer cross-entropy over the queries {} hop(s) from their answer", k), depth});
  }
  return metrics;
}

void RetrievalTask::annotate(Batch& batch) const {
  const int64_t R = batch.targets.dim(0), B = batch.targets.dim(1), T = batch.targets.dim(2);
  const std::vector<int32_t> targets = batch.targets.to_vector<int32_t>();
  std::vector<int32_t> query(R * B, static_cast<int32_t>(T - 1)), answer(R * B);
  for (int64_t e = 0; e < R * B; ++e) answer[e] = targets[e * T + T - 1];
  batch.annotations.positions["query"] = Tensor::from_vector<int32_t>({R, B}, query);
  batch.annotations.tokens["answer"] = Tensor::from_vector<int32_t>({R, B}, answer);
  // depth<k>: the query of each example k hops from its answer.
  const std::vector<ReadExample> examples = read_examples(batch.inputs);
  std::vector<std::vector<float>> by_depth(shape_.steps + 1, std::vector<float>(R * B * T, 0.0f));
  for (int64_t e = 0; e < R * B; ++e) by_depth[examples[e].depth][e * T + T - 1] = 1.0f;
  for (int k = 1; k <= shape_.steps; ++k)
    batch.annotations.masks[fmt::format("depth{}", k)] = Tensor::from_vector<float>({R, B, T}, by_depth[k]);
}

nlohmann::json RetrievalTask::vocabulary() const {
  if (pairs()) return nullptr;
  nlohmann::json names = nlohmann::json::array();
  for (int v = 0; v < shape_.variables; ++v) names.push_back(fmt::format("v{}", v));
  for (int c = 0; c < shape_.values; ++c) names.push_back(std::to_string(c));
  names.push_back("=");
  names.push_back("?");
  return names;
}

}  // namespace mechlab
