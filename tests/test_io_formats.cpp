// .npy and safetensors files checked byte by byte by a small reader written here (independent of src/io's
// loaders), then round trips through load_npy / load_safetensors, then the error paths a user can hit.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "hand_made_files.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "io/safetensors.h"

using namespace mechlab;
using mechlab::testing::hand_made_npy;
using mechlab::testing::little_endian_bytes;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A fresh directory under the system's temporary directory, removed with its content at scope exit.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    path_ = fs::temp_directory_path() /
            ("mechlab-io-test-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(path_);
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Read and written with iostreams on purpose: the checks must not go through src/io.
std::string bytes_of_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  REQUIRE(out.good());
}
uint64_t little_endian(const std::string& bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value |= uint64_t(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  return value;
}
// Values with awkward bit patterns (negative zero, subnormals, NaN, infinities, extremes) first, so any
// conversion or byte shuffle on the way to disk would change them.
template <typename T> std::vector<T> distinctive_values(int64_t count) {
  std::vector<T> specials;
  if constexpr (std::is_floating_point_v<T>) {
    using limits = std::numeric_limits<T>;
    specials = {T(-0.0), limits::denorm_min(), limits::max(), limits::lowest(), limits::quiet_NaN(),
                -limits::infinity(), T(1) / T(3)};
  } else {
    specials = {std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), -1, 0};
  }
  std::vector<T> values;
  for (int64_t i = 0; i < count; ++i)
    values.push_back(i < int64_t(specials.size()) ? specials[i] : static_cast<T>(i * 37 % 101) - T(50));
  return values;
}

// One tensor of the test set, with what the files must say about it.
struct Sample {
  std::string name;
  Tensor value;
  std::string expected_bytes;  // little-endian row-major values, as both formats store them
  std::string npy_descr;
  std::string npy_shape;  // the Python tuple literal
  std::string safetensors_dtype;
};

template <typename T> Sample make_sample(const std::string& name, const Shape& shape, const std::string& shape_text) {
  int64_t count = 1;
  for (int64_t extent : shape) count *= extent;
  const std::vector<T> values = distinctive_values<T>(count);
  Sample sample;
  sample.name = name;
  sample.value = Tensor::from_vector<T>(shape, values);
  sample.expected_bytes.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  sample.npy_shape = shape_text;
  if constexpr (std::is_same_v<T, float>) {
    sample.npy_descr = "<f4";
    sample.safetensors_dtype = "F32";
  } else if constexpr (std::is_same_v<T, double>) {
    sample.npy_descr = "<f8";
    sample.safetensors_dtype = "F64";
  } else {
    sample.npy_descr = "<i4";
    sample.safetensors_dtype = "I32";
  }
  return sample;
}

// Every dtype in every shape kind: 0-d, 1-d, 3-d, and 3-d with an empty dimension.
std::vector<Sample> all_samples() {
  std::vector<Sample> samples;
  auto add_shapes = [&]<typename T>(const std::string& dtype) {
    samples.push_back(make_sample<T>(dtype + ".scalar", {}, "()"));
    samples.push_back(make_sample<T>(dtype + ".vector", {5}, "(5,)"));
    samples.push_back(make_sample<T>(dtype + ".cube", {2, 3, 4}, "(2, 3, 4)"));
    samples.push_back(make_sample<T>(dtype + ".empty", {2, 0, 3}, "(2, 0, 3)"));
  };
  add_shapes.operator()<float>("f32");
  add_shapes.operator()<double>("f64");
  add_shapes.operator()<int32_t>("i32");
  return samples;
}

std::string bytes_of_tensor(const Tensor& tensor) {
  return std::string(static_cast<const char*>(tensor.raw()), tensor.bytes());
}

// The message of the std::runtime_error that `fn` throws.
template <typename Fn> std::string runtime_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("expected a std::runtime_error");
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// --- An independent .npy reader: just enough of numpy.lib.format to check what we wrote. ---

struct RawNpy {
  std::string magic;
  int major = 0, minor = 0;
  size_t data_start = 0;
  std::string header, descr, fortran_order;
  Shape shape;
  std::string data;
};

std::string text_between(const std::string& text, const std::string& before, const std::string& after) {
  const size_t start = text.find(before);
  REQUIRE_MESSAGE(start != std::string::npos, "no " << before << " in " << text);
  const size_t end = text.find(after, start + before.size());
  REQUIRE(end != std::string::npos);
  return text.substr(start + before.size(), end - start - before.size());
}

RawNpy read_raw_npy(const fs::path& path) {
  const std::string bytes = bytes_of_file(path);
  REQUIRE(bytes.size() >= 10);
  RawNpy raw;
  raw.magic = bytes.substr(0, 6);
  raw.major = static_cast<unsigned char>(bytes[6]);
  raw.minor = static_cast<unsigned char>(bytes[7]);
  const size_t header_length = little_endian(bytes, 8, 2);
  raw.data_start = 10 + header_length;
  REQUIRE(raw.data_start <= bytes.size());
  raw.header = bytes.substr(10, header_length);
  raw.descr = text_between(raw.header, "'descr': '", "'");
  raw.fortran_order = text_between(raw.header, "'fortran_order': ", ",");
  const std::string shape_text = text_between(raw.header, "'shape': (", ")");
  std::stringstream extents(shape_text);
  for (std::string extent; std::getline(extents, extent, ',');)
    if (extent.find_first_not_of(' ') != std::string::npos) raw.shape.push_back(std::stoll(extent));
  raw.data = bytes.substr(raw.data_start);
  return raw;
}

// --- An independent safetensors reader. ---

struct RawSafetensors {
  uint64_t header_size = 0;
  json header;
  std::string buffer;
};

RawSafetensors read_raw_safetensors(const fs::path& path) {
  const std::string bytes = bytes_of_file(path);
  REQUIRE(bytes.size() >= 8);
  RawSafetensors raw;
  raw.header_size = little_endian(bytes, 0, 8);
  REQUIRE(8 + raw.header_size <= bytes.size());
  raw.header = json::parse(bytes.substr(8, raw.header_size));
  raw.buffer = bytes.substr(8 + raw.header_size);
  return raw;
}

std::string hand_made_safetensors(const json& header, const std::string& data) {
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text += ' ';
  return little_endian_bytes(text.size(), 8) + text + data;
}

}  // namespace

TEST_CASE("atomic_file: write_file_atomically replaces content and leaves no temporary file") {
  TemporaryDirectory directory;
  const fs::path path = directory / "summary.json";
  write_file_atomically(path, "a first, longer version of the content");
  CHECK(bytes_of_file(path) == "a first, longer version of the content");
  write_file_atomically(path, "second");
  CHECK(bytes_of_file(path) == "second");
  CHECK(read_file(path) == "second");
  write_file_atomically(path, "");
  CHECK(read_file(path).empty());

  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(directory.path())) entries.push_back(entry.path().filename());
  CHECK(entries == std::vector<std::string>{"summary.json"});

  // Binary content, NULs included, comes back unchanged.
  const std::string binary("\0\x01\xff\x93NUMPY\n\r", 11);
  write_file_atomically(path, binary);
  CHECK(read_file(path) == binary);
}

TEST_CASE("atomic_file: errors name the path and write nothing") {
  TemporaryDirectory directory;
  const fs::path missing_directory = directory / "no-such-dir" / "out.npy";
  const std::string write_error = runtime_error_of([&] { write_file_atomically(missing_directory, "x"); });
  CHECK(contains(write_error, missing_directory.string()));
  CHECK(contains(write_error, "No such file or directory"));

  const std::string read_error = runtime_error_of([&] { read_file(directory / "absent.txt"); });
  CHECK(contains(read_error, "absent.txt"));
  CHECK(contains(runtime_error_of([&] { read_file(directory.path()); }), directory.path().string()));
  CHECK(fs::is_empty(directory.path()));
}

TEST_CASE("npy: files follow format 1.0 byte for byte (independent reader)") {
  TemporaryDirectory directory;
  for (const Sample& sample : all_samples()) {
    CAPTURE(sample.name);
    const fs::path path = directory / (sample.name + ".npy");
    save_npy(path, sample.value);
    const RawNpy raw = read_raw_npy(path);
    CHECK(raw.magic == std::string("\x93" "NUMPY"));
    CHECK(raw.major == 1);
    CHECK(raw.minor == 0);
    CHECK(raw.data_start % 64 == 0);
    CHECK(raw.header.front() == '{');
    CHECK(raw.header.back() == '\n');
    CHECK(raw.descr == sample.npy_descr);
    CHECK(raw.fortran_order == "False");
    CHECK(raw.shape == sample.value.shape());
    CHECK(contains(raw.header, "'shape': " + sample.npy_shape + ", }"));
    CHECK(raw.data == sample.expected_bytes);
    CHECK(bytes_of_file(path) == npy_bytes(sample.value));
  }
}

TEST_CASE("npy: save then load reproduces every dtype and shape exactly") {
  TemporaryDirectory directory;
  for (const Sample& sample : all_samples()) {
    CAPTURE(sample.name);
    const fs::path path = directory / (sample.name + ".npy");
    save_npy(path, sample.value);
    const Tensor loaded = load_npy(path);
    CHECK(loaded.dtype() == sample.value.dtype());
    CHECK(loaded.shape() == sample.value.shape());
    CHECK(loaded.device() == Device::cpu);
    CHECK(bytes_of_tensor(loaded) == sample.expected_bytes);  // bitwise, so NaN and -0.0 count
  }
}

TEST_CASE("npy: loads int64 (narrowed to int32) and format 2.0") {
  TemporaryDirectory directory;
  const std::vector<int64_t> tokens = {0, 7, -3, 2147483647, -2147483648LL, 12};
  const std::string token_bytes(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 8);
  const fs::path int64_path = directory / "tokens.npy";
  write_bytes(int64_path, hand_made_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", token_bytes));
  const Tensor loaded = load_npy(int64_path);
  CHECK(loaded.dtype() == DType::i32);
  CHECK(loaded.shape() == Shape{2, 3});
  CHECK(loaded.to_vector<int32_t>() == std::vector<int32_t>{0, 7, -3, 2147483647, -2147483647 - 1, 12});

  const std::vector<float> values = {1.5f, -2.25f, 3.0f};
  const std::string value_bytes(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  const fs::path version2_path = directory / "version2.npy";
  // Double quotes and no trailing comma are still the same Python dict.
  write_bytes(version2_path,
              hand_made_npy("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3,)}", value_bytes, 2));
  CHECK(load_npy(version2_path).to_vector<float>() == values);
}

TEST_CASE("npy: malformed or unsupported files throw naming the file") {
  TemporaryDirectory directory;
  const Tensor cube = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const std::string good = npy_bytes(cube);
  auto load_error = [&](const std::string& name, const std::string& bytes) {
    write_bytes(directory / name, bytes);
    const std::string message = runtime_error_of([&] { load_npy(directory / name); });
    CHECK_MESSAGE(contains(message, name), message);
    return message;
  };

  CHECK(contains(load_error("truncated_data.npy", good.substr(0, good.size() - 3)), "truncated"));
  CHECK(contains(load_error("truncated_header.npy", good.substr(0, 30)), "truncated"));
  CHECK(contains(load_error("truncated_magic.npy", good.substr(0, 4)), "truncated"));
  CHECK(contains(load_error("bad_magic.npy", "PK\x03\x04 this is a zip file, not an array"), "not a .npy file"));
  CHECK(contains(load_error("trailing.npy", good + "xx"), "trailing bytes"));
  CHECK(contains(load_error("uint16.npy",
                            hand_made_npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", "abcd")),
                 "dtype '<u2' is not supported; save as int32, int64, float32 or float64"));
  CHECK(contains(load_error("big_endian.npy",
                            hand_made_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "abcd")),
                 "'>f4' is not supported"));
  CHECK(contains(load_error("structured.npy",
                            hand_made_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "abcd")),
                 "structured dtype"));
  CHECK(contains(load_error("fortran.npy",
                            hand_made_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", "abcd")),
                 "numpy.ascontiguousarray"));
  CHECK(contains(load_error("no_shape.npy", hand_made_npy("{'descr': '<f4', 'fortran_order': False, }", "")),
                 "malformed .npy header"));
  std::string version3 = good;
  version3[6] = 3;
  CHECK(contains(load_error("version3.npy", version3), "version 3.0 is not supported"));
  const std::vector<int64_t> too_large = {1, int64_t(1) << 40};
  CHECK(contains(load_error("wide_tokens.npy",
                            hand_made_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                                          std::string(reinterpret_cast<const char*>(too_large.data()), 16))),
                 "value 1099511627776 at flat index 1 does not fit in int32"));
  CHECK(contains(runtime_error_of([&] { load_npy(directory / "never_written.npy"); }), "never_written.npy"));
}

TEST_CASE("safetensors: files follow the format byte for byte (independent reader)") {
  TemporaryDirectory directory;
  const std::vector<Sample> samples = all_samples();
  std::vector<NamedTensor> tensors;
  for (const Sample& sample : samples) tensors.push_back({sample.name, sample.value});
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"step", "1200"}, {"config", "{\"d\": 64}"}};
  const fs::path path = directory / "checkpoint.safetensors";
  save_safetensors(path, tensors, metadata);

  const RawSafetensors raw = read_raw_safetensors(path);
  CHECK((8 + raw.header_size) % 8 == 0);
  REQUIRE(raw.header.is_object());
  CHECK(raw.header.size() == samples.size() + 1);
  CHECK(raw.header.at("__metadata__") == json(metadata));
  uint64_t expected_begin = 0;  // saved order is buffer order, back to back from 0
  for (const Sample& sample : samples) {
    CAPTURE(sample.name);
    REQUIRE(raw.header.contains(sample.name));
    const json& entry = raw.header.at(sample.name);
    CHECK(entry.size() == 3);
    CHECK(entry.at("dtype") == sample.safetensors_dtype);
    CHECK(entry.at("shape") == json(sample.value.shape()));
    const uint64_t begin = entry.at("data_offsets").at(0).get<uint64_t>();
    const uint64_t end = entry.at("data_offsets").at(1).get<uint64_t>();
    CHECK(begin == expected_begin);
    CHECK(end - begin == sample.expected_bytes.size());
    REQUIRE(end <= raw.buffer.size());
    CHECK(raw.buffer.substr(begin, end - begin) == sample.expected_bytes);
    expected_begin = end;
  }
  CHECK(expected_begin == raw.buffer.size());

  // Without metadata the optional "__metadata__" entry is left out, as the reference writer does.
  save_safetensors(directory / "bare.safetensors", {{"w", Tensor::from_vector<float>({1}, {2.0f})}});
  const RawSafetensors bare = read_raw_safetensors(directory / "bare.safetensors");
  CHECK_FALSE(bare.header.contains("__metadata__"));
  CHECK((8 + bare.header_size) % 8 == 0);
}

TEST_CASE("safetensors: save then load reproduces tensors, order and metadata exactly") {
  TemporaryDirectory directory;
  const std::vector<Sample> samples = all_samples();
  std::vector<NamedTensor> tensors;
  // Reverse alphabetical, so keeping the save order is not an accident of the JSON's sorted keys.
  for (auto sample = samples.rbegin(); sample != samples.rend(); ++sample) tensors.push_back({sample->name, sample->value});
  const std::map<std::string, std::string> metadata = {{"task", "induction"}, {"seed", "7"}};
  const fs::path path = directory / "model.safetensors";
  save_safetensors(path, tensors, metadata);

  const SafetensorsFile loaded = load_safetensors(path);
  CHECK(loaded.metadata == metadata);
  CHECK(loaded.source == path);
  REQUIRE(loaded.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CAPTURE(tensors[i].name);
    CHECK(loaded.tensors[i].name == tensors[i].name);
    const Tensor& value = loaded.at(tensors[i].name);
    CHECK(&value == &loaded.tensors[i].value);
    CHECK(value.dtype() == tensors[i].value.dtype());
    CHECK(value.shape() == tensors[i].value.shape());
    CHECK(bytes_of_tensor(value) == bytes_of_tensor(tensors[i].value));
  }

  save_safetensors(directory / "nothing.safetensors", {});
  const SafetensorsFile nothing = load_safetensors(directory / "nothing.safetensors");
  CHECK(nothing.tensors.empty());
  CHECK(nothing.metadata.empty());
}

TEST_CASE("safetensors: malformed or unsupported files throw naming the file") {
  TemporaryDirectory directory;
  const std::string good = [&] {
    save_safetensors(directory / "good.safetensors",
                     {{"a", Tensor::from_vector<float>({2}, {1, 2})}, {"b", Tensor::from_vector<int32_t>({1}, {3})}});
    return bytes_of_file(directory / "good.safetensors");
  }();
  auto load_error = [&](const std::string& name, const std::string& bytes) {
    write_bytes(directory / name, bytes);
    const std::string message = runtime_error_of([&] { load_safetensors(directory / name); });
    CHECK_MESSAGE(contains(message, name), message);
    return message;
  };
  const std::string eight_bytes(8, '\x11');

  CHECK(contains(load_error("truncated_data.safetensors", good.substr(0, good.size() - 2)), "truncated"));
  CHECK(contains(load_error("truncated_header.safetensors", good.substr(0, 20)), "truncated"));
  CHECK(contains(load_error("tiny.safetensors", "abc"), "truncated"));
  CHECK(contains(load_error("not_json.safetensors", little_endian_bytes(4, 8) + "abcd"), "not valid JSON"));
  CHECK(contains(load_error("bfloat16.safetensors",
                            hand_made_safetensors({{"w", {{"dtype", "BF16"}, {"shape", {4}}, {"data_offsets", {0, 8}}}}},
                                                  eight_bytes)),
                 "tensor 'w' has dtype 'BF16', which is not supported"));
  CHECK(contains(load_error("wrong_size.safetensors",
                            hand_made_safetensors({{"w", {{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 8}}}}},
                                                  eight_bytes)),
                 "needs 12 bytes"));
  CHECK(contains(load_error("past_end.safetensors",
                            hand_made_safetensors({{"w", {{"dtype", "F64"}, {"shape", {2}}, {"data_offsets", {0, 16}}}}},
                                                  eight_bytes)),
                 "truncated"));
  CHECK(contains(load_error("gap.safetensors",
                            hand_made_safetensors({{"w", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {4, 8}}}}},
                                                  eight_bytes)),
                 "gap"));
  CHECK(contains(load_error("overlap.safetensors",
                            hand_made_safetensors({{"v", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {0, 8}}}},
                                                   {"w", {{"dtype", "I32"}, {"shape", {1}}, {"data_offsets", {4, 8}}}}},
                                                  eight_bytes)),
                 "overlaps"));
  CHECK(contains(load_error("negative_shape.safetensors",
                            hand_made_safetensors({{"w", {{"dtype", "F32"}, {"shape", {-2}}, {"data_offsets", {0, 8}}}}},
                                                  eight_bytes)),
                 "non-negative"));
  CHECK(contains(load_error("bad_metadata.safetensors", hand_made_safetensors({{"__metadata__", {{"step", 12}}}}, "")),
                 "__metadata__"));
  CHECK(contains(runtime_error_of([&] { load_safetensors(directory / "never_written.safetensors"); }),
                 "never_written.safetensors"));
}

TEST_CASE("safetensors: at() names the file and the missing tensor; bad saves are rejected") {
  TemporaryDirectory directory;
  const fs::path path = directory / "weights.safetensors";
  save_safetensors(path, {{"embed.W_E", Tensor::zeros({4, 2})}, {"unembed.W_U", Tensor::zeros({2, 4})}});
  const SafetensorsFile loaded = load_safetensors(path);
  const std::string message = runtime_error_of([&] { loaded.at("blocks.0.attn.W_Q"); });
  CHECK(contains(message, "weights.safetensors"));
  CHECK(contains(message, "'blocks.0.attn.W_Q'"));
  CHECK(contains(message, "embed.W_E, unembed.W_U"));

  const Tensor w = Tensor::zeros({1});
  CHECK_THROWS_AS(save_safetensors(directory / "twice.safetensors", {{"w", w}, {"w", w}}), std::invalid_argument);
  CHECK_THROWS_AS(save_safetensors(directory / "reserved.safetensors", {{"__metadata__", w}}), std::invalid_argument);
  CHECK_THROWS_AS(save_safetensors(directory / "undefined.safetensors", {{"w", Tensor()}}), std::invalid_argument);
  CHECK_FALSE(fs::exists(directory / "twice.safetensors"));
}
