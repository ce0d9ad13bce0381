#include "io/checkpoint.h"

#include <fmt/format.h>

#include <stdexcept>

#include "io/safetensors.h"
#include "tensor/replica_slice.h"

namespace mechlab {

void save_checkpoint(const std::filesystem::path& path, const Transformer& model, const Optimizer* optimizer,
                     int64_t replica, int64_t step, const nlohmann::json& replica_config) {
  std::vector<NamedTensor> tensors;
  for (const NamedParameter& p : model.parameters()) tensors.push_back({p.name, replica_slice(p.value, replica)});
  if (optimizer)
    for (const NamedTensor& s : optimizer->state()) tensors.push_back({"optim." + s.name, replica_slice(s.value, replica)});
  // Where the run lives is not part of its state: the same training writes the same bytes anywhere.
  nlohmann::json config = replica_config;
  config["outputs"]["dir"] = "";
  save_safetensors(path, tensors, {{"format", kCheckpointFormat}, {"step", std::to_string(step)}, {"config", config.dump()}});
}

namespace {
CheckpointInfo info_of(const SafetensorsFile& file) {
  auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != kCheckpointFormat)
    throw std::runtime_error(file.source.string() + ": not a mechlab checkpoint (metadata 'format' is not " +
                             kCheckpointFormat + ")");
  CheckpointInfo info;
  info.step = std::stoll(file.metadata.at("step"));
  info.config = nlohmann::json::parse(file.metadata.at("config"));
  return info;
}
}  // namespace

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) { return info_of(load_safetensors(path)); }

CheckpointInfo load_checkpoint(const std::filesystem::path& path, Transformer& model, Optimizer* optimizer,
                               int64_t replica) {
  SafetensorsFile file = load_safetensors(path);
  CheckpointInfo info = info_of(file);
  for (const NamedParameter& p : model.parameters()) {
    Tensor target = p.value;
    set_replica_slice(target, replica, file.at(p.name));
  }
  if (optimizer) {
    for (const NamedTensor& s : optimizer->state()) {
      Tensor target = s.value;
      set_replica_slice(target, replica, file.at("optim." + s.name));
    }
    optimizer->set_steps_taken(info.step);
  }
  return info;
}

std::filesystem::path checkpoint_path(const std::filesystem::path& dir, int64_t step) {
  return dir / "checkpoints" / fmt::format("step_{:08d}.safetensors", step);
}

std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& dir) {
  std::optional<std::filesystem::path> latest;
  if (!std::filesystem::is_directory(dir / "checkpoints")) return latest;
  for (const auto& entry : std::filesystem::directory_iterator(dir / "checkpoints")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step_", 0) != 0 || entry.path().extension() != ".safetensors") continue;
    if (!latest || name > latest->filename().string()) latest = entry.path();
  }
  return latest;
}

}  // namespace mechlab
