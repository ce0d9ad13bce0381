// Block sizes of the allocation caches (CPU and CUDA): a request is served by a freed block of its class, so
// passes whose tensors change size a little from one to the next (an analysis's slot passes over fewer
// positions each time) reuse blocks instead of allocating anew and keeping a block of every size. Up to
// 1 MiB, multiples of 512 bytes; above, eight classes per power of two (at most 12.5% of a block unused).
#pragma once
#include <bit>
#include <cstddef>

namespace mechlab {

inline size_t size_class(size_t bytes) {
  if (bytes <= (size_t{1} << 20)) return (bytes + 511) / 512 * 512;
  const size_t step = size_t{1} << (std::bit_width(bytes - 1) - 4);
  return (bytes + step - 1) / step * step;
}

}  // namespace mechlab
