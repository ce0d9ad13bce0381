// The .npy format as numpy.lib.format defines it: magic "\x93NUMPY", version, little-endian header length,
// a Python dict literal giving dtype, memory order and shape, then the raw values.
#include "io/npy.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>

#include "io/atomic_file.h"

namespace mechlab {
namespace {

// Tensor storage is native-endian and the descriptors we read and write are '<' without byte swapping.
static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

constexpr std::string_view kMagic = "\x93" "NUMPY";
// NumPy pads the header so the data starts on a 64-byte boundary (memory mapping, aligned SIMD loads).
constexpr size_t kDataAlignment = 64;
constexpr const char* kSupportedDtypes = "int32, int64, float32 or float64";

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i32: return "<i4";
  }
  throw std::invalid_argument("npy: no descriptor for dtype " + std::string(dtype_name(dtype)));
}

// Python tuple syntax, which is what the header holds: (), (3,), (2, 3).
std::string shape_literal(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
  bool has_descr = false, has_fortran_order = false, has_shape = false;
};

// Reads the dict literal that numpy.lib.format writes, e.g. {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }. Only the Python syntax those three values can take is accepted: this is a format
// reader, not a Python parser.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  NpyHeader parse() {
    NpyHeader header;
    expect('{');
    while (!consume('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        // A list here is a structured dtype (named fields), which has no tensor equivalent.
        if (peek() == '[') throw unsupported_dtype("a structured dtype");
        header.descr = parse_string();
        header.has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        header.has_fortran_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        header.has_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    skip_space();
    if (pos_ != text_.size()) fail("text after the closing '}'");
    if (!header.has_descr || !header.has_fortran_order || !header.has_shape)
      fail("it needs the keys 'descr', 'fortran_order' and 'shape'");
    return header;
  }

  std::runtime_error unsupported_dtype(const std::string& dtype) const {
    return std::runtime_error(file_ + ": dtype " + dtype + " is not supported; save as " + kSupportedDtypes);
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    // Quote the header so the user sees what is wrong, but not all of a hostile multi-megabyte one.
    constexpr size_t kQuotedBytes = 200;
    const std::string quoted = text_.size() > kQuotedBytes ? std::string(text_.substr(0, kQuotedBytes)) + "..."
                                                            : std::string(text_);
    throw std::runtime_error(file_ + ": malformed .npy header (" + problem + " at offset " + std::to_string(pos_) +
                             " of \"" + quoted + "\"); re-save the array with numpy.save");
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }
  char peek() {
    skip_space();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  bool consume(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    if (value.find('\\') != std::string::npos) fail("escape sequence in a string");
    pos_ = end + 1;
    return value;
  }
  bool parse_bool() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (text_.substr(pos_, std::strlen(word)) == word) {
        pos_ += std::strlen(word);
        return value;
      }
    }
    fail("expected True or False");
  }
  int64_t parse_extent() {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') fail("expected a non-negative integer");
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, text_[pos_] - '0', &value))
        fail("extent too large");
      ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 long literal, in very old files
    return value;
  }
  Shape parse_shape() {
    expect('(');
    Shape shape;
    while (!consume(')')) {
      shape.push_back(parse_extent());
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  std::string_view text_;
  const std::string& file_;
  size_t pos_ = 0;
};

uint32_t read_little_endian(const std::string& bytes, size_t offset, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) value |= uint32_t(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return value;
}

// Bytes needed for `shape` elements of `item_size` bytes; false if that does not fit in size_t.
bool data_bytes_of(const Shape& shape, size_t item_size, size_t& bytes) {
  bytes = 0;
  for (int64_t extent : shape)
    if (extent == 0) return true;  // before multiplying: (huge, huge, 0) is empty, not an overflow
  bytes = item_size;
  for (int64_t extent : shape)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(extent), &bytes)) return false;
  return true;
}

}  // namespace

std::string npy_bytes(const Tensor& tensor) {
  if (!tensor.defined()) throw std::invalid_argument("npy_bytes: the tensor is undefined");
  const Tensor host = tensor.to(Device::cpu);
  std::string header = std::string("{'descr': '") + descr_of(host.dtype()) +
                       "', 'fortran_order': False, 'shape': " + shape_literal(host.shape()) + ", }";
  const size_t preamble_bytes = kMagic.size() + 2 + 2;  // magic, version 1.0, uint16 header length
  const size_t unpadded = preamble_bytes + header.size() + 1;  // + the closing '\n'
  header.append((kDataAlignment - unpadded % kDataAlignment) % kDataAlignment, ' ');
  header += '\n';
  // Only a shape of thousands of dimensions gets here; format 2.0 would be needed for it.
  if (header.size() > 0xffff) throw std::invalid_argument("npy_bytes: header too long for format 1.0");

  std::string bytes;
  bytes.reserve(preamble_bytes + header.size() + host.bytes());
  bytes += kMagic;
  bytes += '\x01';
  bytes += '\x00';
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header;
  if (host.bytes() > 0) bytes.append(static_cast<const char*>(host.raw()), host.bytes());
  return bytes;
}

void save_npy(const std::filesystem::path& path, const Tensor& tensor) {
  write_file_atomically(path, npy_bytes(tensor));
}

Tensor load_npy(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const std::string file = path.string();
  auto error = [&](const std::string& problem) { return std::runtime_error(file + ": " + problem); };

  // A file cut inside the magic is truncated, not foreign; only differing bytes mean "not a .npy file".
  const size_t magic_seen = std::min(bytes.size(), kMagic.size());
  if (bytes.compare(0, magic_seen, kMagic.substr(0, magic_seen)) != 0)
    throw error("not a .npy file (it does not start with \\x93NUMPY); write it with numpy.save");
  if (bytes.size() < kMagic.size() + 2) throw error("truncated .npy file (" + std::to_string(bytes.size()) + " bytes)");
  const int major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
  if ((major != 1 && major != 2) || minor != 0)
    throw error(".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                " is not supported (only 1.0 and 2.0); save a plain array with numpy.save");
  // Format 2.0 differs only in a 4-byte header length, for headers over 64 KiB.
  const size_t length_bytes = major == 1 ? 2 : 4;
  const size_t header_start = kMagic.size() + 2 + length_bytes;
  if (bytes.size() < header_start) throw error("truncated .npy file (" + std::to_string(bytes.size()) + " bytes)");
  const size_t header_bytes = read_little_endian(bytes, kMagic.size() + 2, length_bytes);
  if (bytes.size() - header_start < header_bytes)
    throw error("truncated .npy file (the header claims " + std::to_string(header_bytes) + " bytes, " +
                std::to_string(bytes.size() - header_start) + " follow)");

  NpyHeaderParser parser(std::string_view(bytes).substr(header_start, header_bytes), file);
  const NpyHeader header = parser.parse();
  DType dtype;
  size_t item_size;
  if (header.descr == "<f4") dtype = DType::f32, item_size = 4;
  else if (header.descr == "<f8") dtype = DType::f64, item_size = 8;
  else if (header.descr == "<i4") dtype = DType::i32, item_size = 4;
  else if (header.descr == "<i8") dtype = DType::i32, item_size = 8;  // narrowed below
  else throw parser.unsupported_dtype("'" + header.descr + "'");
  if (header.fortran_order)
    throw error("the array is in Fortran order; save numpy.ascontiguousarray(array) instead");

  size_t data_bytes;
  if (!data_bytes_of(header.shape, item_size, data_bytes))
    throw error("shape " + shape_literal(header.shape) + " is too large");
  const size_t data_start = header_start + header_bytes;
  const size_t found = bytes.size() - data_start;
  if (found != data_bytes)
    throw error(std::string(found < data_bytes ? "truncated .npy file" : "trailing bytes after the array") +
                " (shape " + shape_literal(header.shape) + " of '" + header.descr + "' needs " +
                std::to_string(data_bytes) + " data bytes, the file has " + std::to_string(found) + ")");

  Tensor tensor = Tensor::empty(header.shape, dtype);
  const char* data = bytes.data() + data_start;
  if (header.descr != "<i8") {
    if (data_bytes > 0) std::memcpy(tensor.raw(), data, data_bytes);
    return tensor;
  }
  // int64 is what np.array([...]) gives for integers; token ids fit int32, and anything else is an error
  // worth reporting rather than silently wrapping.
  int32_t* narrowed = tensor.data<int32_t>();
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    int64_t value;
    std::memcpy(&value, data + i * 8, 8);
    if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max())
      throw error("int64 value " + std::to_string(value) + " at flat index " + std::to_string(i) +
                  " does not fit in int32 (mechlab's integer type); save values within int32 range");
    narrowed[i] = static_cast<int32_t>(value);
  }
  return tensor;
}

}  // namespace mechlab
