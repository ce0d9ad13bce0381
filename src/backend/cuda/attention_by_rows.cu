// Fused attention for narrow heads (E <= rows_width<T>(), fused_attention.cuh): one thread per query row (forward, dQ) or key
// row (dK, dV), the row's features in registers, the other side's rows in shared memory tiles of 64 that
// every thread of the block reads at once (broadcast). A thread walks the keys its query sees (or the queries
// that see its key) in order, so every output element is summed by one thread in a fixed order: no atomics,
// no shuffles, and nearly every instruction an FMA.
#include <type_traits>

#include "backend/cuda/check.h"
#include "backend/cuda/fused_attention.cuh"

namespace mechlab::cuda::attention {

namespace {
constexpr int kRows = 64;  // threads per block = rows per tile

// sum_e x[e] * row[e] over a shared row, four values per load where the row allows. Four partial sums (e mod 4)
// keep the chain of dependent FMAs short; they are added in a fixed order.
template <typename T, int EP> __device__ inline T dot_row(const T (&x)[EP], const T* row) {
  if constexpr (EP % 4 == 0) {
    T part[4] = {};
#pragma unroll
    for (int e = 0; e < EP / 4; ++e) {
      T r[4];
      if constexpr (std::is_same_v<T, float>) {
        const float4 r4 = reinterpret_cast<const float4*>(row)[e];
        r[0] = r4.x, r[1] = r4.y, r[2] = r4.z, r[3] = r4.w;
      } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) r[i] = row[4 * e + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) part[i] += x[4 * e + i] * r[i];
    }
    return (part[0] + part[1]) + (part[2] + part[3]);
  } else {
    T total = T(0);
#pragma unroll
    for (int e = 0; e < EP; ++e) total += x[e] * row[e];
    return total;
  }
}

// acc[e] += w * row[e] over a shared row.
template <typename T, int EP> __device__ inline void add_row(T (&acc)[EP], T w, const T* row) {
  if constexpr (std::is_same_v<T, float> && EP % 4 == 0) {
    const float4* row4 = reinterpret_cast<const float4*>(row);
#pragma unroll
    for (int e = 0; e < EP / 4; ++e) {
      const float4 r = row4[e];
      acc[4 * e] += w * r.x;
      acc[4 * e + 1] += w * r.y;
      acc[4 * e + 2] += w * r.z;
      acc[4 * e + 3] += w * r.w;
    }
  } else {
#pragma unroll
    for (int e = 0; e < EP; ++e) acc[e] += w * row[e];
  }
}

// Row t of (n, h) of x (N, rows, H, E) into registers, zero past E (and everywhere when t is past the end).
template <typename T, int EP>
__device__ inline void load_row(T (&out)[EP], const T* x, const Geometry<T>& g, int64_t n, int64_t rows, int64_t t, int64_t h) {
  const bool inside = t < rows;
  const T* row = x + (inside ? g.at(n, rows, t, h) : 0);
#pragma unroll
  for (int e = 0; e < EP; ++e) out[e] = (inside && e < g.width) ? row[e] : T(0);
}

template <typename T, int EP>
__device__ inline void store_row(T* x, const T (&in)[EP], T factor, const Geometry<T>& g, int64_t n, int64_t rows, int64_t t,
                                 int64_t h) {
  T* row = x + g.at(n, rows, t, h);
#pragma unroll
  for (int e = 0; e < EP; ++e)
    if (e < g.width) row[e] = in[e] * factor;
}

// Rows row0 .. row0 + kRows - 1 of (n, h) of x into shared [kRows][EP], zero past the end and past E.
template <typename T, int EP>
__device__ inline void load_tile(T* tile, const T* x, const Geometry<T>& g, int64_t n, int64_t rows, int64_t row0, int64_t h) {
  for (int index = threadIdx.x; index < kRows * EP; index += kRows) {
    const int r = index / EP, e = index % EP;
    const int64_t t = row0 + r;
    tile[index] = (t < rows && e < g.width) ? x[g.at(n, rows, t, h) + e] : T(0);
  }
}

template <typename T, int EP>
__global__ void __launch_bounds__(kRows) forward_kernel(Geometry<T> g, const T* q, const T* k, const T* v, T* z, T* lse) {
  __shared__ __align__(16) T sk[kRows * EP];
  __shared__ __align__(16) T sv[kRows * EP];
  __shared__ T sscore[kRows * kRows];  // [key][thread]: this tile's scores of each thread's query
  const int64_t n = blockIdx.x / g.heads, h = blockIdx.x % g.heads, q0 = static_cast<int64_t>(blockIdx.y) * kRows;
  const int64_t query = q0 + threadIdx.x, last = query < g.queries ? g.last_key(query) : -1;
  const bool softmax = g.kind == AttentionKind::softmax;
  T qr[EP], o[EP] = {};
  load_row(qr, q, g, n, g.queries, query, h);
  T m = -INFINITY, l = T(0);
  const int64_t key_end = g.key_end(q0, kRows);
  for (int64_t k0 = 0; k0 < key_end; k0 += kRows) {
    __syncthreads();
    load_tile<T, EP>(sk, k, g, n, g.length, k0, h);
    load_tile<T, EP>(sv, v, g, n, g.length, k0, h);
    __syncthreads();
    const int seen = static_cast<int>(min(static_cast<int64_t>(kRows), last - k0 + 1));  // keys of this tile it sees
    if (softmax) {
      T tile_max = -INFINITY;
      for (int j = 0; j < seen; ++j) {
        const T s = dot_row<T, EP>(qr, sk + j * EP) * g.scale;
        sscore[j * kRows + threadIdx.x] = s;
        tile_max = max(tile_max, s);
      }
      if (seen <= 0) continue;
      const T new_max = max(m, tile_max), factor = exp_of(m - new_max);
      l *= factor;
#pragma unroll
      for (int e = 0; e < EP; ++e) o[e] *= factor;
      for (int j = 0; j < seen; ++j) {
        const T p = exp_of(sscore[j * kRows + threadIdx.x] - new_max);
        l += p;
        add_row<T, EP>(o, p, sv + j * EP);
      }
      m = new_max;
    } else {
      for (int j = 0; j < seen; ++j) {
        const T p = pattern_entry(g, query, k0 + j, dot_row<T, EP>(qr, sk + j * EP) * g.scale, T(0), T(0), T(0)).p;
        add_row<T, EP>(o, p, sv + j * EP);
      }
    }
  }
  if (query >= g.queries) return;
  store_row(z, o, softmax ? (l > T(0) ? T(1) / l : T(0)) : T(1), g, n, g.queries, query, h);
  if (softmax) lse[blockIdx.x * g.queries + query] = l > T(0) ? m + log_of(l) : T(INFINITY);
}

// dQ: thread = query row, walking the key tiles it sees.
template <typename T, int EP>
__global__ void __launch_bounds__(kRows) backward_q_kernel(Geometry<T> g, const T* q, const T* k, const T* v, const T* dz,
                                                           const T* lse, const T* dot, T* dq) {
  __shared__ __align__(16) T sk[kRows * EP];
  __shared__ __align__(16) T sv[kRows * EP];
  const int64_t n = blockIdx.x / g.heads, h = blockIdx.x % g.heads, q0 = static_cast<int64_t>(blockIdx.y) * kRows;
  const int64_t query = q0 + threadIdx.x, last = query < g.queries ? g.last_key(query) : -1;
  const bool softmax = g.kind == AttentionKind::softmax;
  T qr[EP], dzr[EP], gq[EP] = {};
  load_row(qr, q, g, n, g.queries, query, h);
  load_row(dzr, dz, g, n, g.queries, query, h);
  const T row_lse = softmax && last >= 0 ? lse[blockIdx.x * g.queries + query] : T(0);
  const T row_dot = softmax && last >= 0 ? dot[blockIdx.x * g.queries + query] : T(0);
  const int64_t key_end = g.key_end(q0, kRows);
  for (int64_t k0 = 0; k0 < key_end; k0 += kRows) {
    __syncthreads();
    load_tile<T, EP>(sk, k, g, n, g.length, k0, h);
    load_tile<T, EP>(sv, v, g, n, g.length, k0, h);
    __syncthreads();
    const int seen = static_cast<int>(min(static_cast<int64_t>(kRows), last - k0 + 1));
    for (int j = 0; j < seen; ++j) {
      const T s = dot_row<T, EP>(qr, sk + j * EP) * g.scale, dp = dot_row<T, EP>(dzr, sv + j * EP);
      add_row<T, EP>(gq, pattern_entry(g, query, k0 + j, s, dp, row_lse, row_dot).ds, sk + j * EP);
    }
  }
  if (query < g.queries) store_row(dq, gq, g.scale, g, n, g.queries, query, h);
}

// dK and dV: thread = key row, walking the query tiles that see it.
template <typename T, int EP>
__global__ void __launch_bounds__(kRows) backward_kv_kernel(Geometry<T> g, const T* q, const T* k, const T* v, const T* dz,
                                                            const T* lse, const T* dot, T* dk, T* dv) {
  __shared__ __align__(16) T sq[kRows * EP];
  __shared__ __align__(16) T sdz[kRows * EP];
  __shared__ T srow[2 * kRows];  // lse and dot of the query tile
  const int64_t n = blockIdx.x / g.heads, h = blockIdx.x % g.heads, k0 = static_cast<int64_t>(blockIdx.y) * kRows;
  const int64_t key = k0 + threadIdx.x;
  const bool softmax = g.kind == AttentionKind::softmax;
  T kr[EP], vr[EP], gk[EP] = {}, gv[EP] = {};
  load_row(kr, k, g, n, g.length, key, h);
  load_row(vr, v, g, n, g.length, key, h);
  // The queries that see the block's first key, and those that see this thread's key.
  const int64_t first_query = g.first_query_seeing(k0);
  const int64_t my_first = key < g.length ? g.first_query_seeing(key) : g.queries;
  for (int64_t q0 = first_query / kRows * kRows; q0 < g.queries; q0 += kRows) {
    __syncthreads();
    load_tile<T, EP>(sq, q, g, n, g.queries, q0, h);
    load_tile<T, EP>(sdz, dz, g, n, g.queries, q0, h);
    const bool inside = softmax && q0 + threadIdx.x < g.queries;
    srow[threadIdx.x] = inside ? lse[blockIdx.x * g.queries + q0 + threadIdx.x] : T(0);
    srow[kRows + threadIdx.x] = inside ? dot[blockIdx.x * g.queries + q0 + threadIdx.x] : T(0);
    __syncthreads();
    const int begin = static_cast<int>(max(int64_t{0}, my_first - q0));
    const int end = static_cast<int>(min(static_cast<int64_t>(kRows), g.queries - q0));
    for (int i = begin; i < end; ++i) {
      const T s = dot_row<T, EP>(kr, sq + i * EP) * g.scale, dp = dot_row<T, EP>(vr, sdz + i * EP);
      const Entry<T> entry = pattern_entry(g, q0 + i, key, s, dp, srow[i], srow[kRows + i]);
      add_row<T, EP>(gv, entry.p, sdz + i * EP);
      add_row<T, EP>(gk, entry.ds, sq + i * EP);
    }
  }
  if (key < g.length) {
    store_row(dk, gk, g.scale, g, n, g.length, key, h);
    store_row(dv, gv, T(1), g, n, g.length, key, h);
  }
}

// Calls fn.template operator()<EP>() for the head width padded to 4, 8, 16 or 32 (at most rows_width<T>()).
template <typename T, typename Fn> void dispatch_width(int64_t E, Fn&& fn) {
  if (E <= 4) return fn.template operator()<4>();
  if (E <= 8) return fn.template operator()<8>();
  if constexpr (rows_width<T>() >= 32) {
    if (E > 16) return fn.template operator()<32>();
  }
  return fn.template operator()<16>();
}

unsigned tiles_of(int64_t rows) { return static_cast<unsigned>((rows + kRows - 1) / kRows); }
}  // namespace

template <typename T> void rows_forward(const Call<T>& c, T* z, T* lse) {
  dispatch_width<T>(c.g.width, [&]<int EP>() {
    forward_kernel<T, EP><<<dim3(static_cast<unsigned>(c.heads_in_batch), tiles_of(c.g.queries)), kRows, 0, c.stream>>>(
        c.g, c.q, c.k, c.v, z, lse);
  });
  check_launch("attention rows forward");
}

template <typename T> void rows_backward(const Call<T>& c, const Gradients<T>& d) {
  dispatch_width<T>(c.g.width, [&]<int EP>() {
    backward_q_kernel<T, EP><<<dim3(static_cast<unsigned>(c.heads_in_batch), tiles_of(c.g.queries)), kRows, 0, c.stream>>>(
        c.g, c.q, c.k, c.v, d.dz, d.lse, d.dot, d.dq);
    backward_kv_kernel<T, EP><<<dim3(static_cast<unsigned>(c.heads_in_batch), tiles_of(c.g.length)), kRows, 0, c.stream>>>(
        c.g, c.q, c.k, c.v, d.dz, d.lse, d.dot, d.dk, d.dv);
  });
  check_launch("attention rows backward");
}

template void rows_forward<float>(const Call<float>&, float*, float*);
template void rows_forward<double>(const Call<double>&, double*, double*);
template void rows_backward<float>(const Call<float>&, const Gradients<float>&);
template void rows_backward<double>(const Call<double>&, const Gradients<double>&);

}  // namespace mechlab::cuda::attention
