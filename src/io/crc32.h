// CRC-32 as zlib computes it (polynomial 0xEDB88320, reflected, initial and final XOR 0xFFFFFFFF), so a
// checksum mechlab stores can be checked in Python with zlib.crc32(data).
#pragma once
#include <cstdint>
#include <string_view>

namespace mechlab {

// The CRC of `bytes` continued from `crc` (0 starts a new one): crc32(b, crc32(a)) == crc32(a + b).
uint32_t crc32(std::string_view bytes, uint32_t crc = 0);

}  // namespace mechlab
