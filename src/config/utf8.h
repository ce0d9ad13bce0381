// UTF-8 validity: every string mechlab stores goes into JSON (config.json, provenance.json, checkpoint
// metadata), and JSON holds only UTF-8, so a stray byte in a value or a path is refused where it arrives.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace mechlab {

// The index of the first byte that does not belong to a valid UTF-8 sequence, or npos when `text` is valid.
inline size_t first_invalid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length = byte < 0x80 ? 1 : (byte >> 5) == 0x6 ? 2 : (byte >> 4) == 0xe ? 3 : (byte >> 3) == 0x1e ? 4 : 0;
    if (length == 0 || i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return i;
    // Overlong forms, surrogates and values above U+10FFFF are not UTF-8 either.
    const auto next = length > 1 ? static_cast<unsigned char>(text[i + 1]) : 0;
    if ((length == 2 && byte < 0xc2) || (length == 3 && byte == 0xe0 && next < 0xa0) ||
        (length == 3 && byte == 0xed && next >= 0xa0) || (length == 4 && byte == 0xf0 && next < 0x90) ||
        (length == 4 && (byte > 0xf4 || (byte == 0xf4 && next >= 0x90))))
      return i;
    i += length;
  }
  return std::string_view::npos;
}

// "" when `text` is valid UTF-8, else why not: "byte 3 (0xff) is not valid UTF-8".
inline std::string utf8_problem(std::string_view text) {
  const size_t at = first_invalid_utf8(text);
  if (at == std::string_view::npos) return "";
  static const char* hex = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(text[at]);
  return "byte " + std::to_string(at + 1) + " (0x" + hex[byte >> 4] + hex[byte & 0xf] + ") is not valid UTF-8";
}

}  // namespace mechlab
