#include "config/run_config.h"

#include "config/config_error.h"

namespace mechlab {

namespace {
template <typename Enum>
Enum enum_of(const nlohmann::json& value, std::initializer_list<std::pair<const char*, Enum>> names) {
  for (const auto& [name, e] : names)
    if (value.get<std::string>() == name) return e;
  throw std::logic_error("schema let through an unknown choice " + value.dump());
}

std::vector<double> numbers(const nlohmann::json& value) {
  return value.is_array() ? value.get<std::vector<double>>() : std::vector<double>{value.get<double>()};
}

// train.<prefix>_every, <prefix>_dense_every, <prefix>_dense_until and <prefix>_log_points.
StepSchedule schedule_from(const nlohmann::json& train, const std::string& prefix) {
  return {train[prefix + "_every"], train[prefix + "_dense_every"], train[prefix + "_dense_until"],
          train[prefix + "_log_points"]};
}

TransformerConfig model_from(const nlohmann::json& m) {
  TransformerConfig c;
  c.n_layers = m["n_layers"];
  c.n_heads = m["n_heads"];
  c.d_model = m["d_model"];
  c.d_head = m["d_head"];
  c.d_mlp = m["d_mlp"];
  c.n_ctx = m["n_ctx"];
  c.d_vocab = m["d_vocab"];
  c.d_input = m["d_input"];
  c.d_output = m["d_output"];
  c.attention = enum_of<AttentionKind>(m["attention"], {{"softmax", AttentionKind::softmax},
                                                        {"relu", AttentionKind::relu},
                                                        {"relu_by_length", AttentionKind::relu_by_length},
                                                        {"linear", AttentionKind::linear}});
  c.attention_excludes_self = m["attention_excludes_self"];
  c.attention_scale = m["attention_scale"];
  c.layernorm = enum_of<LayerNormPlacement>(m["layernorm"], {{"pre", LayerNormPlacement::pre},
                                                              {"none", LayerNormPlacement::none}});
  c.layernorm_weight = m["layernorm_weight"];
  c.layernorm_eps = m["layernorm_eps"];
  c.positions = enum_of<Positions>(m["positions"], {{"learned", Positions::learned},
                                                    {"sinusoidal", Positions::sinusoidal},
                                                    {"none", Positions::none}});
  c.biases = m["biases"];
  c.activation = enum_of<Activation>(m["activation"], {{"relu", Activation::relu}, {"gelu", Activation::gelu}});
  c.input = enum_of<InputKind>(m["input"], {{"tokens", InputKind::tokens}, {"vectors", InputKind::vectors}});
  c.input_projection = m["input_projection"];
  c.output = enum_of<OutputKind>(m["output"], {{"logits", OutputKind::logits}, {"readout", OutputKind::readout}});
  c.residual = m["residual"];
  const auto attention_layers = m["attention_layers"].get<std::vector<bool>>();
  const auto mlp_layers = m["mlp_layers"].get<std::vector<bool>>();
  for (const auto& [list, key] : {std::pair{&attention_layers, "attention_layers"}, {&mlp_layers, "mlp_layers"}})
    if (!list->empty() && static_cast<int>(list->size()) != c.n_layers)
      throw ConfigError(std::string("model.") + key, "needs one entry per layer (" + std::to_string(c.n_layers) +
                                                          ") or none, got " + std::to_string(list->size()));
  if (!attention_layers.empty() || !mlp_layers.empty()) {
    c.layers.resize(c.n_layers);
    for (int l = 0; l < c.n_layers; ++l) {
      if (!attention_layers.empty()) c.layers[l].attention = attention_layers[l];
      if (!mlp_layers.empty()) c.layers[l].mlp = mlp_layers[l];
    }
  }
  c.init.scheme = enum_of<InitScheme>(m["init"]["scheme"], {{"pytorch", InitScheme::pytorch},
                                                            {"normal", InitScheme::normal},
                                                            {"zeros", InitScheme::zeros}});
  c.init.std = m["init"]["std"];
  return c;
}

OptimizerConfig optim_from(const nlohmann::json& o, int64_t replicas) {
  OptimizerConfig c;
  c.kind = enum_of<OptimizerKind>(o["kind"], {{"sgd", OptimizerKind::sgd}, {"adam", OptimizerKind::adam},
                                              {"adamw", OptimizerKind::adamw}});
  c.lr = numbers(o["lr"]);
  if (c.lr.size() != 1 && static_cast<int64_t>(c.lr.size()) != replicas)
    throw ConfigError("optim.lr", "give one learning rate or one per seed (" + std::to_string(replicas) + "), got " +
                                      std::to_string(c.lr.size()));
  c.beta1 = o["beta1"];
  c.beta2 = o["beta2"];
  c.eps = o["eps"];
  c.weight_decay = o["weight_decay"];
  c.momentum = o["momentum"];
  c.clip_norm = o["clip_norm"];
  c.schedule.kind = enum_of<ScheduleKind>(o["schedule"], {{"constant", ScheduleKind::constant},
                                                          {"warmup_cosine", ScheduleKind::warmup_cosine}});
  c.schedule.warmup_steps = o["warmup_steps"];
  c.schedule.min_factor = o["min_lr_factor"];
  return c;
}
}  // namespace

RunConfig run_config_from_resolved(const nlohmann::json& resolved) {
  RunConfig run;
  run.resolved = resolved;
  run.name = resolved["name"];
  const auto seeds = resolved["seeds"].get<std::vector<uint64_t>>();
  run.seeds = seeds.empty() ? std::vector<uint64_t>{resolved["seed"].get<uint64_t>()} : seeds;
  run.task = resolved["task"];
  run.model = model_from(resolved["model"]);
  run.optim = optim_from(resolved["optim"], run.replicas());

  const nlohmann::json& t = resolved["train"];
  run.train.steps = t["steps"];
  run.train.batch_size = t["batch_size"];
  run.train.device = t["device"] == "cuda" ? Device::cuda : Device::cpu;
  run.train.cuda_graph = t["cuda_graph"];
  run.train.matmul_precision = t["matmul_precision"] == "tf32" ? MatmulPrecision::tf32 : MatmulPrecision::fp32;
  run.train.threads = t["threads"];
  run.train.evaluations = schedule_from(t, "eval");
  run.train.eval_batch_size = t["eval_batch_size"];
  run.train.log_every = t["log_every"];
  run.train.checkpoints = schedule_from(t, "checkpoint");
  run.optim.schedule.total_steps = run.train.steps;
  if (run.optim.schedule.kind == ScheduleKind::warmup_cosine && run.optim.schedule.warmup_steps > run.train.steps)
    throw ConfigError("optim.warmup_steps", "is longer than train.steps (" + std::to_string(run.train.steps) + ")");

  const nlohmann::json& o = resolved["outputs"];
  run.outputs.dir = o["dir"];
  run.outputs.dumps = enum_of<DumpSchedule>(o["dumps"], {{"log", DumpSchedule::log}, {"every", DumpSchedule::every},
                                                         {"none", DumpSchedule::none}});
  run.outputs.dump_every = o["dump_every"];
  run.outputs.dump_points = o["dump_points"];
  run.outputs.probe_batch_size = o["probe_batch_size"];
  return run;
}

nlohmann::json RunConfig::replica_config(int64_t r) const {
  nlohmann::json single = resolved;
  single["seed"] = seeds[r];
  single["seeds"] = nlohmann::json::array();
  single["optim"]["lr"] = optim.lr.size() == 1 ? optim.lr[0] : optim.lr[r];
  return single;
}

}  // namespace mechlab
