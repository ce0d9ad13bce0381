#include "config/run_schema.h"

#include <limits>

#include "task/registry.h"

namespace mechlab {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// The dense-early and log-spaced additions to train.<prefix>_every (see StepSchedule).
void schedule_keys(Schema& s, const std::string& prefix, const std::string& what, int64_t dense_every) {
  s.integer("train." + prefix + "_dense_every", dense_every,
            "Steps between " + what + " below " + prefix + "_dense_until (where mechanisms form).", 1, 1e12);
  s.integer("train." + prefix + "_dense_until", 0,
            "Below this step, also " + what + " every " + prefix + "_dense_every steps; 0 turns it off.", 0, 1e12);
  s.integer("train." + prefix + "_log_points", 0,
            "Also this many " + what + " spaced evenly in log(step) (dense early, sparse late); 0 turns it off.", 0,
            1000000);
}

Schema build_run_schema() {
  Schema s;
  s.string("name", nullptr, "Run name; the run directory defaults to results/<name>.");
  s.integer("seed", 0, "Seed of the single replica (ignored when seeds is given).", 0, 9.2e18);
  s.integer_list("seeds", nlohmann::json::array(),
                 "One replica per seed, trained together in one process; each writes its own outputs.", 0, 9.2e18);

  s.section_by("task", "task.name", task_schema, task_names);

  s.integer("model.n_layers", 2, "Transformer blocks.", 1, 64);
  s.integer("model.n_heads", 4, "Attention heads per block.", 1, 256);
  s.integer("model.d_model", 64, "Residual stream width D.", 1, 65536);
  s.integer("model.d_head", 0, "Head width E; 0 means d_model / n_heads.", 0, 65536);
  s.integer("model.d_mlp", 256, "MLP hidden width; 0 makes the model attention-only.", 0, 1 << 20);
  s.integer("model.n_ctx", 0, "Longest sequence (learned positions); 0 takes the task's length.", 0, 1 << 20);
  s.integer("model.d_vocab", 0, "Vocabulary size; 0 takes the task's.", 0, 1 << 24);
  s.integer("model.d_input", 0, "Input vector width for vector input; 0 takes the task's.", 0, 1 << 20);
  s.integer("model.d_output", 0, "Readout width for readout output; 0 takes the task's.", 0, 1 << 20);
  s.choice("model.attention", "softmax", {"softmax", "relu", "relu_by_length", "linear"},
           "Attention pattern: causal softmax, ReLU(scores) / number of visible keys (i + 1 at query i), "
           "ReLU(scores) / sequence length T (the same for every query), or linear (scores, masked).");
  s.boolean("model.attention_excludes_self", false,
            "Query i attends to keys j < i instead of j <= i (query 0 to nothing, giving a zero output): a query "
            "token that must read only the context before it, as in in-context regression.");
  s.number("model.attention_scale", 0.0, "Scores are scale * q.k; 0 means 1 / sqrt(d_head).", 0.0, kInf, false);
  s.choice("model.layernorm", "pre", {"pre", "none"}, "LayerNorm before each sublayer and the unembedding, or none.");
  s.boolean("model.layernorm_weight", true, "LayerNorms have a weight (and a bias when biases is true).");
  s.number("model.layernorm_eps", 1e-5, "LayerNorm epsilon.", 0.0, kInf, true);
  s.choice("model.positions", "learned", {"learned", "sinusoidal", "none"}, "Position information added to the input.");
  s.boolean("model.biases", true, "Biases in every linear map and LayerNorm.");
  s.choice("model.activation", "gelu", {"relu", "gelu"}, "MLP activation (gelu is the exact erf form).");
  s.choice("model.input", "tokens", {"tokens", "vectors"},
           "Token ids through W_E, or vectors through W_in (set by the task).");
  s.boolean("model.input_projection", true, "Vector input goes through W_in; false feeds it to the blocks as it is.");
  s.choice("model.output", "logits", {"logits", "readout"},
           "Unembedding to the vocabulary, or a linear readout (set by the task).");
  s.boolean("model.residual", true, "Sublayers add to a residual stream; false makes each replace it.");
  s.boolean_list("model.attention_layers", nlohmann::json::array(),
                 "Per layer, false drops the attention sublayer; empty keeps all.");
  s.boolean_list("model.mlp_layers", nlohmann::json::array(),
                 "Per layer, false drops the MLP sublayer; empty keeps all.");
  s.choice(
      "model.init.scheme", "pytorch", {"pytorch", "normal", "zeros"},
      "pytorch: nn.Linear uniform and nn.Embedding N(0,1); normal: N(0, std), biases 0; zeros. LayerNorm w=1, b=0.");
  s.number("model.init.std", 0.02, "Standard deviation of the normal scheme.", 0.0, kInf, true);

  s.choice("optim.kind", "adamw", {"sgd", "adam", "adamw"},
           "Optimizer (Adam adds weight decay to the gradient, AdamW decays the weights).");
  s.number_list("optim.lr", 1e-3, "Learning rate, or one per seed.", 0.0, kInf, true, /*scalar_or_list=*/true);
  s.number("optim.beta1", 0.9, "Adam beta1 (below 1).", 0.0, 1.0, false);
  s.number("optim.beta2", 0.999, "Adam beta2 (below 1).", 0.0, 1.0, false);
  s.number("optim.eps", 1e-8, "Adam epsilon.", 0.0, kInf, true);
  s.number("optim.weight_decay", 0.0, "Weight decay.", 0.0, kInf, false);
  s.number("optim.momentum", 0.0, "SGD momentum (below 1).", 0.0, 1.0, false);
  s.number("optim.clip_norm", 0.0, "Clip each replica's global gradient norm to this; 0 turns clipping off.", 0.0, kInf,
           false);
  s.choice("optim.schedule", "constant", {"constant", "warmup_cosine"}, "Learning-rate schedule.");
  s.integer("optim.warmup_steps", 0, "Linear warmup steps of warmup_cosine.", 0, 1e15);
  s.number("optim.min_lr_factor", 0.0, "warmup_cosine decays to this fraction of lr.", 0.0, 1.0, false);

  s.integer("train.steps", 1000, "Optimizer steps.", 1, 1e12);
  s.integer("train.batch_size", 64, "Sequences per step and replica.", 1, 1 << 24);
  s.choice("train.device", "cpu", {"cpu", "cuda"}, "Where to train (--device overrides).");
  s.choice("train.matmul_precision", "fp32", {"fp32", "tf32"},
           "On CUDA, tf32 lets cuBLAS use TF32 tensor cores for matrix products (inputs rounded to a 10-bit "
           "mantissa, fp32 sums): several times faster from d_model 128 up and still bitwise repeatable on one GPU, "
           "but no longer within 1e-5 of the CPU. The CPU always multiplies in fp32.");
  s.boolean("train.cuda_graph", true, "On CUDA, record the training step and the evaluation once as CUDA graphs and replay them.");
  s.integer("train.threads", 0, "CPU threads; 0 uses every core (--threads overrides). Results do not depend on it.", 0,
            4096);
  s.integer("train.eval_every", 100, "Steps between evaluations (task metrics on a fixed evaluation batch).", 1, 1e12);
  schedule_keys(s, "eval", "evaluations", 20);
  s.integer("train.eval_batch_size", 256, "Sequences in the evaluation batch.", 1, 1 << 24);
  s.integer("train.log_every", 50, "Steps between lines in metrics.jsonl (and progress lines off a terminal).", 1,
            1e12);
  s.integer("train.checkpoint_every", 500, "Steps between checkpoints; the last step always gets one.", 1, 1e12);
  schedule_keys(s, "checkpoint", "checkpoints", 100);

  s.string("outputs.dir", "", "Run directory; empty means results/<name>.");
  s.choice("outputs.dumps", "log", {"log", "every", "none"},
           "When to dump attention patterns and norms of the probe batch: log-spaced (dense early), every dump_every "
           "steps, or never.");
  s.integer("outputs.dump_every", 500, "Steps between dumps when dumps is every.", 1, 1e12);
  s.integer("outputs.dump_points", 16, "Number of log-spaced dump steps when dumps is log (plus step 0 and the last).",
            1, 100000);
  s.integer("outputs.probe_batch_size", 8, "Sequences in the fixed probe batch that dumps record.", 1, 4096);
  return s;
}
}  // namespace

const Schema& run_schema() {
  static const Schema schema = build_run_schema();
  return schema;
}

}  // namespace mechlab
