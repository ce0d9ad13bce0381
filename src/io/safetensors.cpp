// The safetensors layout (github.com/huggingface/safetensors): a little-endian u64 header size N, N bytes
// of JSON describing each tensor's dtype, shape and byte range, then the tensors' bytes back to back.
#include "io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "io/atomic_file.h"

namespace mechlab {
namespace {

using nlohmann::json;

// Tensor storage is native-endian and safetensors is little-endian; we copy bytes without swapping.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

constexpr const char* kMetadataKey = "__metadata__";
constexpr size_t kHeaderSizeBytes = 8;
// The reference writer pads the header with spaces so the tensors' bytes start 8-byte aligned, which
// lets readers memory-map the file and use the data in place.
constexpr size_t kBufferAlignment = 8;

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
  }
  throw std::invalid_argument("safetensors: no name for dtype " + std::string(dtype_name(dtype)));
}

// Where one tensor's bytes are, as the header says.
struct TensorEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // relative to the start of the byte buffer
};

class HeaderReader {
 public:
  explicit HeaderReader(const std::string& file) : file_(file) {}

  std::runtime_error error(const std::string& problem) const { return std::runtime_error(file_ + ": " + problem); }

  TensorEntry tensor_entry(const std::string& name, const json& value) const {
    const std::string what = "tensor '" + name + "'";
    if (!value.is_object()) throw error(what + ": header entry is not a JSON object");
    TensorEntry entry{name, DType::f32, {}, 0, 0};

    const json& dtype = field(value, "dtype", what);
    if (!dtype.is_string()) throw error(what + ": \"dtype\" is not a string");
    const std::string dtype_text = dtype.get<std::string>();
    if (dtype_text == "F32") entry.dtype = DType::f32;
    else if (dtype_text == "F64") entry.dtype = DType::f64;
    else if (dtype_text == "I32") entry.dtype = DType::i32;
    else throw error(what + " has dtype '" + dtype_text + "', which is not supported; save it as F32, F64 or I32");

    const json& shape = field(value, "shape", what);
    if (!shape.is_array()) throw error(what + ": \"shape\" is not an array");
    for (const json& extent : shape) {
      if (!extent.is_number_unsigned() || extent.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        throw error(what + ": \"shape\" " + shape.dump() + " is not a list of non-negative integers");
      entry.shape.push_back(static_cast<int64_t>(extent.get<uint64_t>()));
    }

    const json& offsets = field(value, "data_offsets", what);
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw error(what + ": \"data_offsets\" " + offsets.dump() + " is not a pair of non-negative integers");
    entry.begin = offsets[0].get<uint64_t>();
    entry.end = offsets[1].get<uint64_t>();
    return entry;
  }

  std::map<std::string, std::string> metadata(const json& value) const {
    if (!value.is_object()) throw error("\"__metadata__\" is not a JSON object");
    std::map<std::string, std::string> result;
    for (const auto& [key, entry] : value.items()) {
      if (!entry.is_string()) throw error("\"__metadata__\" entry '" + key + "' is not a string");
      result[key] = entry.get<std::string>();
    }
    return result;
  }

  // Bytes that `entry`'s dtype and shape occupy; throws if the shape's element count overflows.
  uint64_t expected_bytes(const TensorEntry& entry) const {
    uint64_t bytes = 0;
    for (int64_t extent : entry.shape)
      if (extent == 0) return 0;  // before multiplying: (huge, huge, 0) is empty, not an overflow
    bytes = dtype_size(entry.dtype);
    for (int64_t extent : entry.shape)
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(extent), &bytes))
        throw error("tensor '" + entry.name + "': shape " + to_string(entry.shape) + " is too large");
    return bytes;
  }

 private:
  const json& field(const json& object, const char* key, const std::string& what) const {
    auto found = object.find(key);
    if (found == object.end()) throw error(what + ": header entry has no \"" + key + "\"");
    return *found;
  }

  const std::string& file_;
};

}  // namespace

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const NamedTensor& tensor : tensors)
    if (tensor.name == name) return tensor.value;
  // Listing what is there turns most of these errors (a typo, a checkpoint of another model) into a fix.
  std::string available;
  constexpr size_t kNamesShown = 20;
  for (size_t i = 0; i < tensors.size() && i < kNamesShown; ++i) available += (i ? ", " : "") + tensors[i].name;
  if (tensors.size() > kNamesShown) available += ", ... (" + std::to_string(tensors.size()) + " in all)";
  throw std::runtime_error((source.empty() ? std::string("safetensors") : source.string()) + ": no tensor named '" +
                           name + "'; it has " + (tensors.empty() ? std::string("no tensors") : available));
}

void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<Tensor> host_values;
  std::set<std::string> names;
  json header = json::object();
  // The reference writer omits "__metadata__" when there is none; readers treat it as optional.
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const NamedTensor& tensor : tensors) {
    if (tensor.name == kMetadataKey)
      throw std::invalid_argument(path.string() + ": \"__metadata__\" is reserved and cannot name a tensor");
    if (!names.insert(tensor.name).second)
      throw std::invalid_argument(path.string() + ": two tensors are named '" + tensor.name + "'");
    if (!tensor.value.defined())
      throw std::invalid_argument(path.string() + ": tensor '" + tensor.name + "' is undefined");
    Tensor host = tensor.value.to(Device::cpu);
    header[tensor.name] = {{"dtype", safetensors_dtype(host.dtype())},
                           {"shape", host.shape()},
                           {"data_offsets", {offset, offset + host.bytes()}}};
    offset += host.bytes();
    host_values.push_back(std::move(host));
  }

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const json::exception& e) {  // a name or metadata value that is not valid UTF-8
    throw std::invalid_argument(path.string() + ": cannot write the safetensors header: " + e.what());
  }
  header_text.append((kBufferAlignment - (kHeaderSizeBytes + header_text.size()) % kBufferAlignment) %
                         kBufferAlignment,
                     ' ');

  std::string bytes;
  bytes.reserve(kHeaderSizeBytes + header_text.size() + offset);
  for (size_t i = 0; i < kHeaderSizeBytes; ++i)
    bytes += static_cast<char>((uint64_t(header_text.size()) >> (8 * i)) & 0xff);
  bytes += header_text;
  for (const Tensor& host : host_values)
    if (host.bytes() > 0) bytes.append(static_cast<const char*>(host.raw()), host.bytes());
  write_file_atomically(path, bytes);
}

SafetensorsFile load_safetensors(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const std::string file = path.string();
  HeaderReader reader(file);

  if (bytes.size() < kHeaderSizeBytes)
    throw reader.error("truncated safetensors file (" + std::to_string(bytes.size()) + " bytes, no header size)");
  uint64_t header_size = 0;
  for (size_t i = 0; i < kHeaderSizeBytes; ++i)
    header_size |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (header_size > bytes.size() - kHeaderSizeBytes)
    throw reader.error("truncated or not a safetensors file (the header size says " + std::to_string(header_size) +
                       " bytes, " + std::to_string(bytes.size() - kHeaderSizeBytes) + " follow)");

  json header;
  try {
    header = json::parse(bytes.begin() + kHeaderSizeBytes, bytes.begin() + kHeaderSizeBytes + header_size);
  } catch (const json::parse_error& e) {
    throw reader.error(std::string("not a safetensors file (the header is not valid JSON: ") + e.what() + ")");
  }
  if (!header.is_object()) throw reader.error("not a safetensors file (the header is not a JSON object)");

  SafetensorsFile result;
  result.source = path;
  std::vector<TensorEntry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey)
      result.metadata = reader.metadata(value);
    else
      entries.push_back(reader.tensor_entry(key, value));
  }

  // Byte order is save order; ties are only possible between empty tensors.
  std::stable_sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  const uint64_t buffer_start = kHeaderSizeBytes + header_size;
  const uint64_t buffer_bytes = bytes.size() - buffer_start;
  // Like the reference reader, require the ranges to tile the buffer: a gap or an overlap means a
  // corrupt or hand-edited file, and a short buffer means a truncated one.
  uint64_t covered = 0;
  for (const TensorEntry& entry : entries) {
    const std::string what = "tensor '" + entry.name + "' (data_offsets [" + std::to_string(entry.begin) + ", " +
                             std::to_string(entry.end) + "])";
    const uint64_t expected = reader.expected_bytes(entry);
    if (entry.end < entry.begin || entry.end - entry.begin != expected)
      throw reader.error(what + ": a " + dtype_name(entry.dtype) + " tensor of shape " + to_string(entry.shape) +
                         " needs " + std::to_string(expected) + " bytes");
    if (entry.end > buffer_bytes)
      throw reader.error("truncated safetensors file: " + what + " ends past the " + std::to_string(buffer_bytes) +
                         " bytes of data");
    if (entry.begin < covered)
      throw reader.error(what + " overlaps the tensor before it; tensors must be stored back to back");
    if (entry.begin > covered)
      throw reader.error(what + " leaves a gap after byte " + std::to_string(covered) +
                         "; tensors must be stored back to back");
    covered = entry.end;
  }
  if (covered != buffer_bytes)
    throw reader.error("the data buffer has " + std::to_string(buffer_bytes) + " bytes but the tensors cover " +
                       std::to_string(covered) + "; the file has trailing bytes");

  for (const TensorEntry& entry : entries) {
    Tensor value = Tensor::empty(entry.shape, entry.dtype);
    if (entry.end > entry.begin)
      std::memcpy(value.raw(), bytes.data() + buffer_start + entry.begin, entry.end - entry.begin);
    result.tensors.push_back({entry.name, std::move(value)});
  }
  return result;
}

}  // namespace mechlab
