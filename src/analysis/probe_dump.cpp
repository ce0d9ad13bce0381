#include "analysis/probe_dump.h"

#include <fmt/format.h>

#include "analysis/norms.h"
#include "autograd/grad_mode.h"
#include "io/npy.h"
#include "io/run_layout.h"
#include "ops/ops.h"
#include "task/parallel_replicas.h"
#include "tensor/replica_slice.h"

namespace mechlab {

namespace fs = std::filesystem;

void write_probe_tokens(const Batch& probe, const std::vector<fs::path>& replica_dirs) {
  for (size_t r = 0; r < replica_dirs.size(); ++r)
    save_npy(replica_dirs[r] / run_layout::kDumps / run_layout::kProbeTokens, replica_slice(probe.inputs, r).to(Device::cpu));
}

void write_probe_dump(const Transformer& model, const Batch& probe, int64_t step, const std::vector<fs::path>& replica_dirs) {
  NoGradGuard no_grad;
  ActivationHooks hooks;
  const int L = model.config().n_layers;
  hooks.capture("blocks.0.hook_resid_pre");
  for (int l = 0; l < L; ++l) {
    const std::string block = "blocks." + std::to_string(l);
    hooks.capture(block + ".hook_resid_post");
    if (!model.config().layer(l).attention) continue;
    hooks.capture(block + ".attn.hook_pattern");
    hooks.capture(block + ".attn.hook_v");
  }
  Tensor logits = model.forward(probe.inputs, &hooks);

  std::vector<Tensor> resid_norms{last_axis_norms(hooks.get("blocks.0.hook_resid_pre"))};  // each (R, B, T)
  for (int l = 0; l < L; ++l) resid_norms.push_back(last_axis_norms(hooks.get("blocks." + std::to_string(l) + ".hook_resid_post")));
  std::vector<Tensor> stacked;
  for (const Tensor& n : resid_norms) stacked.push_back(reshape(n, {n.dim(0), 1, n.dim(1), n.dim(2)}));
  Tensor all_resid = concat(stacked, 1);  // (R, L + 1, B, T)

  // Each array to the host once, then every replica's files on every core.
  std::vector<std::pair<std::string, Tensor>> arrays{{"logits.npy", logits.to(Device::cpu)},
                                                     {"resid_norms.npy", all_resid.to(Device::cpu)}};
  for (int l = 0; l < L; ++l) {
    const std::string attn = "blocks." + std::to_string(l) + ".attn.";
    if (!model.config().layer(l).attention) continue;
    arrays.emplace_back(attn + "hook_pattern.npy", hooks.get(attn + "hook_pattern").to(Device::cpu));
    arrays.emplace_back(attn + "value_norms.npy",
                        head_value_norms(hooks.get(attn + "hook_v"), model.parameter(attn + "W_O")).to(Device::cpu));
  }
  for_each_replica(static_cast<int64_t>(replica_dirs.size()), [&](int64_t r) {
    const fs::path dir = run_layout::dump_dir(replica_dirs[r], step);
    fs::create_directories(dir);
    for (const auto& [name, host] : arrays) save_npy(dir / name, replica_slice(host, r));
  });
}

}  // namespace mechlab
