// Operands for trying products outside a model (the bit check of gemm_plans_check.cu, the timings of
// product_timing.cu): values in [-1, 1) from a hash of the index, the same on every run and of mixed sign, so
// that every rounding shows.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"
#include "backend/cuda/check.h"

namespace mechlab::cuda {

template <typename T> __global__ void synthetic_kernel(T* out, int64_t n, uint32_t salt) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  uint32_t h = static_cast<uint32_t>(i) * 2654435761u ^ salt;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  h *= 0x846ca68bu;
  h ^= h >> 16;
  out[i] = static_cast<T>((h >> 8) * (1.0 / 8388608.0) - 1.0);
}

inline void fill_synthetic(void* data, int64_t elements, DType dtype, uint32_t salt, cudaStream_t stream) {
  if (elements == 0) return;
  if (dtype == DType::f64)
    synthetic_kernel<<<blocks_for(elements), kThreads, 0, stream>>>(static_cast<double*>(data), elements, salt);
  else
    synthetic_kernel<<<blocks_for(elements), kThreads, 0, stream>>>(static_cast<float*>(data), elements, salt);
  check_launch("synthetic operands");
}

// Elements a strided batch of `batch` matrices of `matrix` elements spans.
inline int64_t batch_extent(int64_t batch, int64_t stride, int64_t matrix) { return (batch - 1) * stride + matrix; }

}  // namespace mechlab::cuda
