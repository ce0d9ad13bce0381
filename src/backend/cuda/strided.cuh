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

template <int N> __device__ inline void strided_offsets(const StridedArgs<N>& a, int64_t index, int64_t (&at)[N]) {
  for (int k = 0; k < N; ++k) at[k] = a.offsets[k];
  for (int d = a.ndim - 1; d >= 0; --d) {
    const int64_t i = index % a.shape[d];
    index /= a.shape[d];
    for (int k = 0; k < N; ++k) at[k] += i * a.strides[k][d];
  }
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
