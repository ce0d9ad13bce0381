// Files assembled byte by byte, for inputs mechlab's own writers never produce (corrupt, foreign or
// hand-edited .npy and safetensors files).
#pragma once
#include <cstdint>
#include <string>

namespace mechlab::testing {

inline std::string little_endian_bytes(uint64_t value, size_t width) {
  std::string bytes;
  for (size_t i = 0; i < width; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
  return bytes;
}

// A .npy file of format `major` with the header dictionary `dict` and the raw `data` after it.
inline std::string hand_made_npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t length_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((6 + 2 + length_bytes + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  return std::string("\x93" "NUMPY") + static_cast<char>(major) + '\0' +
         little_endian_bytes(header.size(), length_bytes) + header + data;
}

}  // namespace mechlab::testing
