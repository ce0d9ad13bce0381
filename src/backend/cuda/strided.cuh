// Strided views passed to kernels by value (at most 8 axes after collapsing), and the per-element offset
// computation every strided kernel shares.
#pragma once
#include "backend/collapse_dims.h"

namespace mechlab::cuda {

constexpr int kMaxDims = 8;

template <int N> struct StridedArgs {
  int ndim;
  int64_t numel;
  int64_t shape[kMaxDims];
  int64_t strides[N][kMaxDims];
  int64_t offsets[N];
};

template <int N> StridedArgs<N> strided_args(const std::array<const StridedView*, N>& views) {
  CollapsedDims<N> c = collapse_dims<N>(views);
  if (c.shape.size() > kMaxDims) throw std::invalid_argument("CUDA backend: more than 8 non-mergeable axes");
  StridedArgs<N> a{};
  a.ndim = static_cast<int>(c.shape.size());
  a.numel = 1;
  for (int d = 0; d < a.ndim; ++d) {
    a.shape[d] = c.shape[d];
    a.numel *= c.shape[d];
    for (int k = 0; k < N; ++k) a.strides[k][d] = c.strides[k][d];
  }
  for (int k = 0; k < N; ++k) a.offsets[k] = c.offsets[k];
  return a;
}

// Index is int32_t when every offset fits (fits_32_bits): 64-bit division is many times slower on a GPU.
template <typename Index, int N>
__device__ inline void strided_offsets(const StridedArgs<N>& a, Index index, Index (&at)[N]) {
  for (int k = 0; k < N; ++k) at[k] = static_cast<Index>(a.offsets[k]);
  for (int d = a.ndim - 1; d >= 0; --d) {
    const Index extent = static_cast<Index>(a.shape[d]);
    const Index i = index % extent;
    index /= extent;
    for (int k = 0; k < N; ++k) at[k] += i * static_cast<Index>(a.strides[k][d]);
  }
}

template <int N> bool fits_32_bits(const StridedArgs<N>& a) {
  if (a.numel >= (int64_t{1} << 31)) return false;
  for (int k = 0; k < N; ++k) {
    int64_t reach = a.offsets[k];
    for (int d = 0; d < a.ndim; ++d) reach += (a.shape[d] - 1) * a.strides[k][d];
    if (reach >= (int64_t{1} << 31)) return false;
  }
  return true;
}

// Warp-level sums in a fixed butterfly order: the same bits on every run.
template <typename T> __device__ inline T warp_sum(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}
template <typename T> __device__ inline T warp_max(T value) {
  for (int offset = 16; offset > 0; offset >>= 1) value = max(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

}  // namespace mechlab::cuda
