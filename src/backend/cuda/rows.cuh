// Launch shape of the row kernels: one warp per row, kRowsPerBlock rows per block.
#pragma once
#include "backend/cuda/check.h"

namespace mechlab::cuda {

constexpr int kRowsPerBlock = 8;
inline unsigned row_blocks(int64_t rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }
__device__ inline int64_t warp_row() { return blockIdx.x * static_cast<int64_t>(kRowsPerBlock) + threadIdx.x / 32; }
__device__ inline int lane() { return threadIdx.x % 32; }

}  // namespace mechlab::cuda
