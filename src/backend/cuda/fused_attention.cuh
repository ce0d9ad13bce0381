// What the fused attention kernels share (attention_by_rows.cu for narrow heads, attention_by_tiles.cu for
// wider ones, fused_attention.cu chooses): the geometry of one call and the pattern entry of a (query, key).
// q, k, v and z are in the projections' layout (N, T, H, E); lse and dot are (N, H, T').
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "backend/backend.h"
#include "backend/cuda/device_math.cuh"

namespace mechlab::cuda::attention {

template <typename T> struct Geometry {
  int64_t heads, queries, length, width;  // H, T', T, E
  int64_t offset;                         // the position of query 0: T - T'
  int64_t excluded;                       // 1 when a query does not see its own position
  T scale;
  AttentionKind kind;

  __device__ int64_t last_key(int64_t query) const { return query + offset - excluded; }  // < 0: sees none
  // One past the last key that any of queries q0 .. q0 + rows - 1 sees.
  __device__ int64_t key_end(int64_t q0, int64_t rows) const { return last_key(min(q0 + rows, queries) - 1) + 1; }
  // The first query that sees `key` (last_key(query) >= key).
  __device__ int64_t first_query_seeing(int64_t key) const { return max(int64_t{0}, key - offset + excluded); }
  __device__ T inverse_divisor(int64_t query) const {
    return T(1) / static_cast<T>(attention_divisor(kind, last_key(query) + 1, length));
  }
  // Offset of row t of (n, h) in a tensor (N, rows, H, E).
  __device__ int64_t at(int64_t n, int64_t rows, int64_t t, int64_t h) const { return ((n * rows + t) * heads + h) * width; }
};

// The pattern entry of (query, key) from its scaled score, and d score from d pattern; `lse` and `dot` are the
// softmax's log-sum-exp of the row and the row's sum of z * dz.
template <typename T> struct Entry {
  T p, ds;
};
template <typename T>
__device__ inline Entry<T> pattern_entry(const Geometry<T>& g, int64_t query, int64_t key, T score, T dp, T lse, T dot) {
  if (query >= g.queries || key > g.last_key(query)) return {T(0), T(0)};
  if (g.kind == AttentionKind::softmax) {
    const T p = exp_of(score - lse);
    return {p, p * (dp - dot)};
  }
  const T inverse = g.inverse_divisor(query);
  if (is_relu_attention(g.kind) && !(score > T(0))) return {T(0), T(0)};
  return {score * inverse, dp * inverse};
}

// A call's tensors (device pointers) and launch context.
template <typename T> struct Call {
  Geometry<T> g;
  int64_t heads_in_batch;  // N * H
  const T *q, *k, *v;
  cudaStream_t stream;
};
template <typename T> struct Gradients {
  const T *z, *dz, *lse;
  T *dot, *dq, *dk, *dv;  // dot: scratch (N, H, T') for the softmax's row sums of z * dz
};

// One thread per query or key row, the row's features in registers: heads up to rows_width<T>() wide (the
// tiles a block shares are static shared memory, at most 48 KiB).
template <typename T> constexpr int64_t rows_width() { return sizeof(T) <= 4 ? 32 : 16; }
template <typename T> void rows_forward(const Call<T>& call, T* z, T* lse);
template <typename T> void rows_backward(const Call<T>& call, const Gradients<T>& grads);

// Tiles of queries and keys in shared memory, 16 x 16 threads: heads up to kTilesWidth wide.
constexpr int64_t kTilesWidth = 64;
template <typename T> bool tiles_fit(int64_t E);  // the shared memory it needs is available
template <typename T> void tiles_forward(const Call<T>& call, T* z, T* lse);
template <typename T> void tiles_backward(const Call<T>& call, const Gradients<T>& grads);

}  // namespace mechlab::cuda::attention
