#include "config/run_schema.h"

#include <limits>

#include "task/registry.h"

namespace mechlab {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// The field a key fills, written once as the member path: FIELD(model.d_model).
#define FIELD(member) [](RunConfig& c) -> auto& { return c.member; }

// The dense-early and log-spaced additions to train.<prefix>_every (see StepSchedule).
template <typename Access>
void schedule_keys(ConfigBinding<RunConfig>& b, const std::string& prefix, const std::string& what, Access schedule) {
  const std::string key = "train." + prefix;
  b.bind(key + "_dense_every", [schedule](RunConfig& c) -> auto& { return schedule(c).dense_every; },
         "Steps between " + what + " below " + prefix + "_dense_until (where mechanisms form).", {.min = 1, .max = 1e12});
  b.bind(key + "_dense_until", [schedule](RunConfig& c) -> auto& { return schedule(c).dense_until; },
         "Below this step, also " + what + " every " + prefix + "_dense_every steps; 0 turns it off.",
         {.min = 0, .max = 1e12});
  b.bind(key + "_log_points", [schedule](RunConfig& c) -> auto& { return schedule(c).log_points; },
         "Also this many " + what + " spaced evenly in log(step) (dense early, sparse late); 0 turns it off.",
         {.min = 0, .max = 1000000});
}

ConfigBinding<RunConfig> build_run_binding() {
  ConfigBinding<RunConfig> b;
  b.bind("name", FIELD(name),
         "Run name; the run directory defaults to results/<name>. Letters, digits, '.', '_' and '-' only.",
         {.required = true});
  b.bind("seed", FIELD(seed), "Seed of the single replica (ignored when seeds is given).", {.min = 0, .max = 9.2e18});
  b.bind("seeds", FIELD(seeds), "One replica per seed, trained together in one process; each writes its own outputs.",
         {.min = 0, .max = 9.2e18});

  b.schema().section_by("task", "task.name", task_schema, task_names);

  b.bind("model.n_layers", FIELD(model.n_layers), "Transformer blocks.", {.min = 1, .max = 64});
  b.bind("model.n_heads", FIELD(model.n_heads), "Attention heads per block.", {.min = 1, .max = 256});
  b.bind("model.d_model", FIELD(model.d_model), "Residual stream width D.", {.min = 1, .max = 65536});
  b.bind("model.d_head", FIELD(model.d_head), "Head width E; 0 means d_model / n_heads.", {.min = 0, .max = 65536});
  b.bind("model.d_mlp", FIELD(model.d_mlp), "MLP hidden width; 0 makes the model attention-only.",
         {.min = 0, .max = 1 << 20});
  b.bind("model.n_ctx", FIELD(model.n_ctx), "Longest sequence (learned positions); 0 takes the task's length.",
         {.min = 0, .max = 1 << 20});
  b.bind("model.d_vocab", FIELD(model.d_vocab), "Vocabulary size; 0 takes the task's.", {.min = 0, .max = 1 << 24});
  b.bind("model.d_input", FIELD(model.d_input), "Input vector width for vector input; 0 takes the task's.",
         {.min = 0, .max = 1 << 20});
  b.bind("model.d_output", FIELD(model.d_output), "Readout width for readout output; 0 takes the task's.",
         {.min = 0, .max = 1 << 20});
  b.bind("model.attention", FIELD(model.attention),
         "Attention pattern: causal softmax, ReLU(scores) / number of visible keys (i + 1 at query i), "
         "ReLU(scores) / sequence length T (the same for every query), linear (scores, masked), or linear_by_length "
         "(scores / number of visible keys: linear attention scaled 1/L at whatever length L it is evaluated).");
  b.bind("model.attention_excludes_self", FIELD(model.attention_excludes_self),
         "Query i attends to keys j < i instead of j <= i (query 0 to nothing, giving a zero output): a query "
         "token that must read only the context before it, as in in-context regression.");
  b.bind("model.attention_scale", FIELD(model.attention_scale), "Scores are scale * q.k; 0 means 1 / sqrt(d_head).",
         {.min = 0.0});
  b.bind("model.layernorm", FIELD(model.layernorm), "LayerNorm before each sublayer and the unembedding, or none.");
  b.bind("model.layernorm_weight", FIELD(model.layernorm_weight), "LayerNorms have a weight (and a bias, see layernorm_bias).");
  b.bind("model.layernorm_bias", FIELD(model.layernorm_bias),
         "LayerNorms have a bias, whatever biases says of the linear maps (PyTorch's nn.LayerNorm has one); null: "
         "exactly when biases is true.");
  b.bind("model.layernorm_eps", FIELD(model.layernorm_eps), "LayerNorm epsilon.", {.min = 0.0, .min_exclusive = true});
  b.bind("model.positions", FIELD(model.positions),
         "Position information: learned or sinusoidal vectors added to the input (sinusoidal: feature i at position t "
         "is sin for even i, cos for odd i, of t / 10000^(2 floor(i/2) / d_model)), rotary (queries and keys rotated "
         "by their position, GPT-NeoX's half-split form), or none.");
  b.bind("model.rotary_base", FIELD(model.rotary_base),
         "Rotary positions: features i and i + E/2 of a head turn by t * base^(-2i/E) at position t (Lutz 2025: 2000).",
         {.min = 1.0, .min_exclusive = true});
  b.bind("model.biases", FIELD(model.biases), "Biases in every linear map (and LayerNorm, unless layernorm_bias says otherwise).");
  b.bind("model.activation", FIELD(model.activation), "MLP activation (gelu is the exact erf form).");
  b.bind("model.input", FIELD(model.input), "Token ids through W_E, vectors through W_in, or token_pairs: two ids per position whose rows of W_in add (set by "
         "the task).");
  b.bind("model.input_projection", FIELD(model.input_projection),
         "Vector input goes through W_in; false feeds it to the blocks as it is.");
  b.bind("model.output", FIELD(model.output),
         "Unembedding to the vocabulary (logits), a linear readout W_U after the last layer (readout), or the last "
         "block's heads writing the output themselves through W_O of shape (H, E, d_output), with no W_U (heads: "
         "needs residual false, no MLP or LayerNorm, as in He et al.'s in-context regression model); a readout task "
         "takes readout unless heads is asked for.");
  b.bind("model.residual", FIELD(model.residual), "Sublayers add to a residual stream; false makes each replace it.");
  b.bind("model.attention_layers", FIELD(model.attention_layers),
         "Per layer, false drops the attention sublayer; empty keeps all.");
  b.bind("model.mlp_layers", FIELD(model.mlp_layers), "Per layer, false drops the MLP sublayer; empty keeps all.");
  b.bind("model.init.scheme", FIELD(model.init.scheme),
         "pytorch: nn.Linear uniform and nn.Embedding N(0,1); normal: N(0, std), biases 0; zeros. LayerNorm w=1, b=0.");
  b.bind("model.init.std", FIELD(model.init.std), "Standard deviation of the normal scheme.",
         {.min = 0.0, .min_exclusive = true});

  b.bind("optim.kind", FIELD(optim.kind), "Optimizer (Adam adds weight decay to the gradient, AdamW decays the weights).");
  b.bind("optim.lr", FIELD(optim.lr), "Learning rate, or one per seed.",
         {.min = 0.0, .min_exclusive = true, .scalar_or_list = true});
  b.bind("optim.beta1", FIELD(optim.beta1), "Adam beta1.", {.min = 0.0, .max = 1.0, .max_exclusive = true});
  b.bind("optim.beta2", FIELD(optim.beta2), "Adam beta2 (1 would divide by a zero bias correction).",
         {.min = 0.0, .max = 1.0, .max_exclusive = true});
  b.bind("optim.eps", FIELD(optim.eps), "Adam epsilon.", {.min = 0.0, .min_exclusive = true});
  b.bind("optim.weight_decay", FIELD(optim.weight_decay),
         "Weight decay: SGD and Adam add weight_decay * w to the gradient; AdamW scales the weights by "
         "1 - lr * weight_decay each step, so lr * weight_decay must stay below 1.", {.min = 0.0});
  b.bind("optim.momentum", FIELD(optim.momentum), "SGD momentum.", {.min = 0.0, .max = 1.0, .max_exclusive = true});
  b.bind("optim.clip_norm", FIELD(optim.clip_norm),
         "Clip each replica's global gradient norm to this; 0 turns clipping off.", {.min = 0.0});
  b.bind("optim.schedule", FIELD(optim.schedule.kind), "Learning-rate schedule.");
  b.bind("optim.warmup_steps", FIELD(optim.schedule.warmup_steps), "Linear warmup steps of warmup_cosine.",
         {.min = 0, .max = 1e15});
  b.bind("optim.min_lr_factor", FIELD(optim.schedule.min_factor), "warmup_cosine decays to this fraction of lr.",
         {.min = 0.0, .max = 1.0});

  b.bind("train.steps", FIELD(train.steps), "Optimizer steps.", {.min = 1, .max = 1e12});
  b.bind("train.batch_size", FIELD(train.batch_size), "Sequences per step and replica.", {.min = 1, .max = 1 << 24});
  b.bind("train.device", FIELD(train.device), "Where to train (--device overrides).");
  b.bind("train.matmul_precision", FIELD(train.matmul_precision),
         "On CUDA, tf32 lets cuBLAS use TF32 tensor cores for matrix products (inputs rounded to a 10-bit "
         "mantissa, fp32 sums): several times faster from d_model 128 up and still bitwise repeatable on one GPU, "
         "but no longer within 1e-5 of the CPU. The CPU always multiplies in fp32.");
  b.bind("train.fused_attention", FIELD(train.fused_attention),
         "On CUDA, attention by fused kernels that never write the T x T scores and pattern to memory (unless a "
         "hook, dump or analysis asks for them): less GPU memory, and on an H200 2-5% faster with 64 or more "
         "replicas of heads up to 16 wide, 5-15% slower otherwise (25-30% less memory, measured before the autograd "
         "tape stopped keeping op inputs; docs/gpu.md). Results agree with the CPU to about 1e-6 and stay bitwise "
         "repeatable. The CPU always computes the products.");
  b.bind("train.cuda_graph", FIELD(train.cuda_graph),
         "On CUDA, record the training step and the evaluation once as CUDA graphs and replay them.");
  b.bind("train.threads", FIELD(train.threads),
         "CPU threads; 0 uses every core this process may run on (its CPU affinity: a Slurm allocation, taskset, a sweep worker's cores; --threads overrides). Results do not depend on it.", {.min = 0, .max = 4096});
  b.bind("train.eval_every", FIELD(train.evaluations.every),
         "Steps between evaluations (task metrics on a fixed evaluation batch).", {.min = 1, .max = 1e12});
  schedule_keys(b, "eval", "evaluations", FIELD(train.evaluations));
  b.bind("train.eval_batch_size", FIELD(train.eval_batch_size), "Sequences in the evaluation batch.",
         {.min = 1, .max = 1 << 24});
  b.bind("train.log_every", FIELD(train.log_every),
         "Steps between lines in metrics.jsonl (and progress lines off a terminal).", {.min = 1, .max = 1e12});
  b.bind("train.checkpoint_every", FIELD(train.checkpoints.every),
         "Steps between checkpoints; the last step always gets one.", {.min = 1, .max = 1e12});
  schedule_keys(b, "checkpoint", "checkpoints", FIELD(train.checkpoints));

  b.bind("outputs.dir", FIELD(outputs.dir), "Run directory; empty means results/<name>.");
  b.bind("outputs.dumps", FIELD(outputs.dumps),
         "When to dump attention patterns and norms of the probe batch: log-spaced (dense early), every dump_every "
         "steps, or never.");
  b.bind("outputs.dump_every", FIELD(outputs.dump_every), "Steps between dumps when dumps is every.",
         {.min = 1, .max = 1e12});
  b.bind("outputs.dump_points", FIELD(outputs.dump_points),
         "Number of log-spaced dump steps when dumps is log (plus step 0 and the last).", {.min = 1, .max = 100000});
  b.bind("outputs.probe_batch_size", FIELD(outputs.probe_batch_size),
         "Sequences in the fixed probe batch that dumps record.", {.min = 1, .max = 4096});

  b.bind("analysis.analyses", FIELD(analysis.analyses),
         "Analyses to run on the live model during training, the entries of a mechlab analyze spec (docs/analysis.md), "
         "checked against the model and the task before training starts; results in analysis/step_<N>/<name>/.");
  b.bind("analysis.steps", FIELD(analysis.steps), "Steps after which to run them (0: before the first step).",
         {.min = 0, .max = 1e12});
  b.bind("analysis.every", FIELD(analysis.every), "Also every this many steps; 0 turns it off.", {.min = 0, .max = 1e12});
  b.bind("analysis.batch", FIELD(analysis.batch),
         "The task's clean/corrupted pairs (contrast) or the run's evaluation batch (eval), as in a spec.");
  b.bind("analysis.batch_size", FIELD(analysis.batch_size), "Examples of the contrast batch.", {.min = 1, .max = 1 << 20});
  b.bind("analysis.chunk", FIELD(analysis.chunk), "Patched runs per forward pass (bounds memory).", {.min = 1, .max = 1 << 16});
  return b;
}
#undef FIELD
}  // namespace

const ConfigBinding<RunConfig>& run_binding() {
  static const ConfigBinding<RunConfig> binding = build_run_binding();
  return binding;
}

const Schema& run_schema() { return run_binding().schema(); }

}  // namespace mechlab
