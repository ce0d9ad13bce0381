#include "config/run_schema.h"

#include <limits>

#include "task/registry.h"

namespace mechlab {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

Schema build_run_schema() {
  Schema s;
  auto integer = [&](const char* path, int64_t value, double min, double max, const char* meaning) {
    s.integer(path, value, meaning, min, max);
  };
  auto number = [&](const char* path, double value, double min, double max, bool min_exclusive, const char* meaning) {
    s.number(path, value, meaning, min, max, min_exclusive);
  };
  auto boolean = [&](const char* path, bool value, const char* meaning) { s.boolean(path, value, meaning); };
  auto choice = [&](const char* path, const char* value, std::vector<std::string> choices, const char* meaning) {
    s.choice(path, value, std::move(choices), meaning);
  };

  s.string("name", nullptr, "Run name; the run directory defaults to results/<name>.");
  integer("seed", 0, 0, 9.2e18, "Seed of the single replica (ignored when seeds is given).");
  s.integer_list("seeds", nlohmann::json::array(),
                 "One replica per seed, trained together in one process; each writes its own outputs.", 0, 9.2e18);

  s.section_by("task", "task.name", task_schema, task_names);

  integer("model.n_layers", 2, 1, 64, "Transformer blocks.");
  integer("model.n_heads", 4, 1, 256, "Attention heads per block.");
  integer("model.d_model", 64, 1, 65536, "Residual stream width D.");
  integer("model.d_head", 0, 0, 65536, "Head width E; 0 means d_model / n_heads.");
  integer("model.d_mlp", 256, 0, 1 << 20, "MLP hidden width; 0 makes the model attention-only.");
  integer("model.n_ctx", 0, 0, 1 << 20, "Longest sequence (learned positions); 0 takes the task's length.");
  integer("model.d_vocab", 0, 0, 1 << 24, "Vocabulary size; 0 takes the task's.");
  integer("model.d_input", 0, 0, 1 << 20, "Input vector width for vector input; 0 takes the task's.");
  integer("model.d_output", 0, 0, 1 << 20, "Readout width for readout output; 0 takes the task's.");
  choice("model.attention", "softmax", {"softmax", "relu", "linear"},
         "Attention pattern: causal softmax, ReLU(scores) / number of visible keys, or linear (scores, masked).");
  number("model.attention_scale", 0.0, 0.0, kInf, false, "Scores are scale * q.k; 0 means 1 / sqrt(d_head).");
  choice("model.layernorm", "pre", {"pre", "none"}, "LayerNorm before each sublayer and the unembedding, or none.");
  boolean("model.layernorm_weight", true, "LayerNorms have a weight (and a bias when biases is true).");
  number("model.layernorm_eps", 1e-5, 0.0, kInf, true, "LayerNorm epsilon.");
  choice("model.positions", "learned", {"learned", "sinusoidal", "none"}, "Position information added to the input.");
  boolean("model.biases", true, "Biases in every linear map and LayerNorm.");
  choice("model.activation", "gelu", {"relu", "gelu"}, "MLP activation (gelu is the exact erf form).");
  choice("model.input", "tokens", {"tokens", "vectors"}, "Token ids through W_E, or vectors through W_in (set by the task).");
  boolean("model.input_projection", true, "Vector input goes through W_in; false feeds it to the blocks as it is.");
  choice("model.output", "logits", {"logits", "readout"}, "Unembedding to the vocabulary, or a linear readout (set by the task).");
  boolean("model.residual", true, "Sublayers add to a residual stream; false makes each replace it.");
  s.boolean_list("model.attention_layers", nlohmann::json::array(),
                 "Per layer, false drops the attention sublayer; empty keeps all.");
  s.boolean_list("model.mlp_layers", nlohmann::json::array(), "Per layer, false drops the MLP sublayer; empty keeps all.");
  choice("model.init.scheme", "pytorch", {"pytorch", "normal", "zeros"},
         "pytorch: nn.Linear uniform and nn.Embedding N(0,1); normal: N(0, std), biases 0; zeros. LayerNorm w=1, b=0.");
  number("model.init.std", 0.02, 0.0, kInf, true, "Standard deviation of the normal scheme.");

  choice("optim.kind", "adamw", {"sgd", "adam", "adamw"}, "Optimizer (Adam adds weight decay to the gradient, AdamW decays the weights).");
  s.number_list("optim.lr", 1e-3, "Learning rate, or one per seed.", 0.0, kInf, true, /*scalar_or_list=*/true);
  number("optim.beta1", 0.9, 0.0, 1.0, false, "Adam beta1 (below 1).");
  number("optim.beta2", 0.999, 0.0, 1.0, false, "Adam beta2 (below 1).");
  number("optim.eps", 1e-8, 0.0, kInf, true, "Adam epsilon.");
  number("optim.weight_decay", 0.0, 0.0, kInf, false, "Weight decay.");
  number("optim.momentum", 0.0, 0.0, 1.0, false, "SGD momentum (below 1).");
  number("optim.clip_norm", 0.0, 0.0, kInf, false, "Clip each replica's global gradient norm to this; 0 turns clipping off.");
  choice("optim.schedule", "constant", {"constant", "warmup_cosine"}, "Learning-rate schedule.");
  integer("optim.warmup_steps", 0, 0, 1e15, "Linear warmup steps of warmup_cosine.");
  number("optim.min_lr_factor", 0.0, 0.0, 1.0, false, "warmup_cosine decays to this fraction of lr.");

  integer("train.steps", 1000, 1, 1e12, "Optimizer steps.");
  integer("train.batch_size", 64, 1, 1 << 24, "Sequences per step and replica.");
  choice("train.device", "cpu", {"cpu", "cuda"}, "Where to train (--device overrides).");
  boolean("train.cuda_graph", true, "On CUDA, capture the whole training step once as a CUDA graph and replay it.");
  integer("train.threads", 0, 0, 4096, "CPU threads; 0 uses every core (--threads overrides). Results do not depend on it.");
  integer("train.eval_every", 100, 1, 1e12, "Steps between evaluations (task metrics on a fixed evaluation batch).");
  integer("train.eval_batch_size", 256, 1, 1 << 24, "Sequences in the evaluation batch.");
  integer("train.log_every", 50, 1, 1e12, "Steps between lines in metrics.jsonl (and progress lines off a terminal).");
  integer("train.checkpoint_every", 500, 1, 1e12, "Steps between checkpoints; the last step always gets one.");

  s.string("outputs.dir", "", "Run directory; empty means results/<name>.");
  choice("outputs.dumps", "log", {"log", "every", "none"},
         "When to dump attention patterns and norms of the probe batch: log-spaced (dense early), every dump_every steps, or never.");
  integer("outputs.dump_every", 500, 1, 1e12, "Steps between dumps when dumps is every.");
  integer("outputs.dump_points", 16, 1, 100000, "Number of log-spaced dump steps when dumps is log (plus step 0 and the last).");
  integer("outputs.probe_batch_size", 8, 1, 4096, "Sequences in the fixed probe batch that dumps record.");
  return s;
}
}  // namespace

const Schema& run_schema() {
  static const Schema schema = build_run_schema();
  return schema;
}

}  // namespace mechlab
