// safetensors files: mechlab's checkpoint format, many named tensors plus string metadata, readable by
// Hugging Face's `safetensors` (torch / numpy) so a researcher can open a checkpoint without mechlab.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tensor/named_tensor.h"

namespace mechlab {

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // in the order they were saved (their order in the byte buffer)
  std::map<std::string, std::string> metadata;
  std::filesystem::path source;  // the file it was loaded from, named in at()'s error

  // The tensor called `name`; throws std::runtime_error naming the file and the missing tensor.
  const Tensor& at(const std::string& name) const;
};

// Writes `tensors` (f32 "F32", f64 "F64", i32 "I32"; copied to the CPU if needed) in the given order, with
// `metadata` under "__metadata__", atomically. Throws std::invalid_argument for a duplicate, reserved
// ("__metadata__") or undefined tensor.
void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads a safetensors file of F32, F64 and I32 tensors into CPU tensors. Checks that every tensor's byte
// range matches its dtype and shape and that the ranges tile the byte buffer exactly; any problem throws
// std::runtime_error naming the file and what is wrong.
SafetensorsFile load_safetensors(const std::filesystem::path& path);

}  // namespace mechlab
