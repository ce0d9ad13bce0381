#include "io/checkpoint.h"

#include <fmt/format.h>

#include <stdexcept>

#include "config/config_error.h"
#include "config/json_file.h"
#include "io/crc32.h"
#include "tensor/replica_slice.h"

namespace mechlab {

namespace {
// The CRC-32 of the tensors' bytes in the order safetensors stores them: the file's data buffer.
uint32_t data_crc32(const std::vector<NamedTensor>& tensors) {
  uint32_t crc = 0;
  for (const NamedTensor& t : tensors) {
    const Tensor host = t.value.to(Device::cpu);
    crc = crc32({static_cast<const char*>(host.raw()), host.bytes()}, crc);
  }
  return crc;
}

std::vector<NamedTensor> state_of(const Transformer& model, const Optimizer* optimizer, int64_t replica) {
  std::vector<NamedTensor> tensors;
  for (const NamedParameter& p : model.parameters()) tensors.push_back({p.name, replica_slice(p.value, replica)});
  if (optimizer)
    for (const NamedTensor& s : optimizer->state()) tensors.push_back({"optim." + s.name, replica_slice(s.value, replica)});
  return tensors;
}

std::runtime_error corrupt(const SafetensorsFile& file, const std::string& problem) {
  return std::runtime_error(file.source.string() + ": " + problem);
}

int64_t whole_number(const SafetensorsFile& file, const std::string& key) {
  const std::string& text = file.metadata.at(key);
  size_t used = 0;
  int64_t value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || value < 0) throw corrupt(file, "metadata '" + key + "' is not a count: '" + text + "'");
  return value;
}

CheckpointInfo info_of(const SafetensorsFile& file) {
  auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != kCheckpointFormat)
    throw corrupt(file, std::string("not a mechlab checkpoint (metadata 'format' is not ") + kCheckpointFormat + ")");
  for (const char* key : {"step", "config"})
    if (!file.metadata.count(key)) throw corrupt(file, std::string("metadata '") + key + "' is missing");
  CheckpointInfo info;
  info.step = whole_number(file, "step");
  try {
    info.config = parse_json_text(file.metadata.at("config"), file.source.string() + " (metadata 'config')");
  } catch (const ConfigError& error) {
    throw corrupt(file, std::string("metadata 'config' is not a config: ") + error.what());
  }
  if (!info.config.is_object()) throw corrupt(file, "metadata 'config' is not a JSON object");
  if (file.metadata.count("metrics_records")) info.metrics_records = whole_number(file, "metrics_records");
  auto reason = file.metadata.find("reason");
  info.interruption = reason != file.metadata.end() && reason->second == "interruption";
  return info;
}

void verify_checksum(const SafetensorsFile& file) {
  auto stored = file.metadata.find("data_crc32");
  if (stored == file.metadata.end()) return;  // written before checkpoints carried one
  const std::string actual = fmt::format("{:08x}", data_crc32(file.tensors));
  if (stored->second != actual)
    throw corrupt(file, "the tensor data fails its checksum (data_crc32 is " + stored->second + ", the data gives " +
                            actual + "): the file is corrupt");
}
}  // namespace

void save_checkpoint(const std::filesystem::path& path, const Transformer& model, const Optimizer* optimizer,
                     int64_t replica, int64_t step, const nlohmann::json& replica_config, int64_t metrics_records,
                     CheckpointReason reason) {
  const std::vector<NamedTensor> tensors = state_of(model, optimizer, replica);
  // Where the run lives is not part of its state: the same training writes the same bytes anywhere.
  nlohmann::json config = replica_config;
  config["outputs"]["dir"] = "";
  save_safetensors(path, tensors,
                   {{"format", kCheckpointFormat},
                    {"step", std::to_string(step)},
                    {"config", config.dump()},
                    {"data_crc32", fmt::format("{:08x}", data_crc32(tensors))},
                    {"metrics_records", std::to_string(metrics_records)},
                    {"reason", reason == CheckpointReason::interruption ? "interruption" : "schedule"}});
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  Checkpoint checkpoint{{}, load_safetensors(path)};
  checkpoint.info = info_of(checkpoint.file);
  verify_checksum(checkpoint.file);
  return checkpoint;
}

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) { return read_checkpoint(path).info; }

void check_checkpoint_tensors(const Checkpoint& checkpoint, const Transformer& model, const Optimizer* optimizer) {
  std::vector<NamedTensor> expected = model.parameters();
  if (optimizer)
    for (const NamedTensor& s : optimizer->state()) expected.push_back({"optim." + s.name, s.value});
  for (const NamedTensor& want : expected) {
    const Shape shape(want.value.shape().begin() + 1, want.value.shape().end());  // without the replica axis
    const Tensor& have = checkpoint.file.at(want.name);
    if (have.shape() != shape)
      throw corrupt(checkpoint.file, "tensor '" + want.name + "' has shape " + to_string(have.shape()) +
                                         " but this model's is " + to_string(shape));
    if (have.dtype() == DType::i32) throw corrupt(checkpoint.file, "tensor '" + want.name + "' holds integers");
  }
}

void load_checkpoint(const Checkpoint& checkpoint, Transformer& model, Optimizer* optimizer, int64_t replica) {
  check_checkpoint_tensors(checkpoint, model, optimizer);
  for (const NamedParameter& p : model.parameters()) {
    Tensor target = p.value;
    set_replica_slice(target, replica, checkpoint.file.at(p.name));
  }
  if (optimizer) {
    for (const NamedTensor& s : optimizer->state()) {
      Tensor target = s.value;
      set_replica_slice(target, replica, checkpoint.file.at("optim." + s.name));
    }
    optimizer->set_steps_taken(checkpoint.info.step);
  }
}

CheckpointInfo load_checkpoint(const std::filesystem::path& path, Transformer& model, Optimizer* optimizer,
                               int64_t replica) {
  const Checkpoint checkpoint = read_checkpoint(path);
  load_checkpoint(checkpoint, model, optimizer, replica);
  return checkpoint.info;
}

}  // namespace mechlab
