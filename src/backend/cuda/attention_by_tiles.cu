// Fused attention by tiles (fused_attention.cuh): a block holds a tile of queries in shared memory and walks
// the key tiles they see; softmax runs online (a running maximum and sum per row). The backward recomputes the
// pattern tile by tile in two kernels, one per key tile (dK, dV: it walks the queries that see its keys) and
// one per query tile (dQ: it walks its keys), so every gradient element is summed by one thread in a fixed
// order: no atomics.
//
// 256 threads as 16 x 16 (ty, tx); a thread owns the rows ty + 16a of its tile and the columns tx + 16b, so
// the 16 threads of a row are one half-warp and its reductions are shuffles. Shared rows are padded to EP + 1
// values, which keeps the 16 rows a half-warp reads in distinct banks.
#include <algorithm>

#include "backend/cuda/check.h"
#include "backend/cuda/fused_attention.cuh"

namespace mechlab::cuda::attention {

namespace {
constexpr int kTileThreads = 256;

// Sum over the 16 threads of a row, the same value in all of them (lane 0 of the half-warp's order).
template <typename T> __device__ inline T row_sum(T value) {
  for (int offset = 8; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return __shfl_sync(0xffffffffu, value, threadIdx.x & 16, 32);
}
template <typename T> __device__ inline T row_max(T value) {
  for (int offset = 8; offset > 0; offset >>= 1) value = max(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// Rows row0 .. row0 + ROWS - 1 of x (N, rows, H, E) for (n, h) into shared [ROWS][EP + 1], zero past the end.
template <typename T, int EP, int ROWS>
__device__ void load_tile(T* tile, const T* x, const Geometry<T>& g, int64_t n, int64_t h, int64_t row0, int64_t rows) {
  for (int index = threadIdx.x; index < ROWS * EP; index += kTileThreads) {
    const int r = index / EP, e = index % EP;
    const int64_t t = row0 + r;
    tile[r * (EP + 1) + e] = (t < rows && e < g.width) ? x[g.at(n, rows, t, h) + e] : T(0);
  }
}

template <typename T, int EP, int BQ, int BK>
__global__ void __launch_bounds__(kTileThreads)
    forward_kernel(Geometry<T> g, const T* q, const T* k, const T* v, T* z, T* lse) {
  extern __shared__ unsigned char shared[];
  T* sq = reinterpret_cast<T*>(shared);  // [BQ][EP + 1]
  T* skv = sq + BQ * (EP + 1);           // [BK][EP + 1]: the keys, then the values
  T* sp = skv + BK * (EP + 1);           // [BQ][BK]
  constexpr int RQ = BQ / 16, RK = BK / 16, CE = EP / 16;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const int64_t n = blockIdx.x / g.heads, h = blockIdx.x % g.heads, q0 = static_cast<int64_t>(blockIdx.y) * BQ;
  load_tile<T, EP, BQ>(sq, q, g, n, h, q0, g.queries);
  const bool softmax = g.kind == AttentionKind::softmax;
  T o[RQ][CE] = {}, m[RQ], l[RQ];
  for (int a = 0; a < RQ; ++a) m[a] = -INFINITY, l[a] = T(0);
  const int64_t key_end = g.key_end(q0, BQ);
  for (int64_t k0 = 0; k0 < key_end; k0 += BK) {
    __syncthreads();  // the previous tile's values and pattern are used up
    load_tile<T, EP, BK>(skv, k, g, n, h, k0, g.length);
    __syncthreads();
    T s[RQ][RK] = {};
    for (int e = 0; e < EP; ++e) {
      T qa[RQ], kb[RK];
      for (int a = 0; a < RQ; ++a) qa[a] = sq[(ty + 16 * a) * (EP + 1) + e];
      for (int b = 0; b < RK; ++b) kb[b] = skv[(tx + 16 * b) * (EP + 1) + e];
      for (int a = 0; a < RQ; ++a)
        for (int b = 0; b < RK; ++b) s[a][b] += qa[a] * kb[b];
    }
    for (int a = 0; a < RQ; ++a) {
      const int64_t query = q0 + ty + 16 * a;
      if (softmax) {
        T tile_max = -INFINITY;
        for (int b = 0; b < RK; ++b) {
          const int64_t key = k0 + tx + 16 * b;
          s[a][b] = (query < g.queries && key <= g.last_key(query)) ? s[a][b] * g.scale : T(-INFINITY);
          tile_max = max(tile_max, s[a][b]);
        }
        const T new_max = max(m[a], row_max(tile_max));
        T tile_sum = T(0);
        for (int b = 0; b < RK; ++b) {
          s[a][b] = new_max == T(-INFINITY) ? T(0) : exp_of(s[a][b] - new_max);
          tile_sum += s[a][b];
        }
        const T factor = new_max == T(-INFINITY) ? T(1) : exp_of(m[a] - new_max);
        l[a] = l[a] * factor + row_sum(tile_sum);
        m[a] = new_max;
        for (int c = 0; c < CE; ++c) o[a][c] *= factor;
      } else {
        for (int b = 0; b < RK; ++b)
          s[a][b] = pattern_entry(g, query, k0 + tx + 16 * b, s[a][b] * g.scale, T(0), T(0), T(0)).p;
      }
      for (int b = 0; b < RK; ++b) sp[(ty + 16 * a) * BK + tx + 16 * b] = s[a][b];
    }
    __syncthreads();  // the keys are used up, the pattern tile is written
    load_tile<T, EP, BK>(skv, v, g, n, h, k0, g.length);
    __syncthreads();
    for (int j = 0; j < BK; ++j) {
      T pa[RQ], vc[CE];
      for (int a = 0; a < RQ; ++a) pa[a] = sp[(ty + 16 * a) * BK + j];
      for (int c = 0; c < CE; ++c) vc[c] = skv[j * (EP + 1) + tx + 16 * c];
      for (int a = 0; a < RQ; ++a)
        for (int c = 0; c < CE; ++c) o[a][c] += pa[a] * vc[c];
    }
  }
  for (int a = 0; a < RQ; ++a) {
    const int64_t query = q0 + ty + 16 * a;
    if (query >= g.queries) continue;
    const T inverse = softmax ? (l[a] > T(0) ? T(1) / l[a] : T(0)) : T(1);
    for (int c = 0; c < CE; ++c) {
      const int e = tx + 16 * c;
      if (e < g.width) z[g.at(n, g.queries, query, h) + e] = o[a][c] * inverse;
    }
    if (softmax && tx == 0) lse[blockIdx.x * g.queries + query] = l[a] > T(0) ? m[a] + log_of(l[a]) : T(INFINITY);
  }
}

// dK and dV of one key tile: the pattern and its gradient transposed, [BK][BQ], for each query tile that sees it.
template <typename T, int EP, int BQ, int BK>
__global__ void __launch_bounds__(kTileThreads) backward_kv_kernel(Geometry<T> g, const T* q, const T* k, const T* v,
                                                                   const T* dz, const T* lse, const T* dot, T* dk, T* dv) {
  extern __shared__ unsigned char shared[];
  T* sk = reinterpret_cast<T*>(shared);  // [BK][EP + 1]
  T* sv = sk + BK * (EP + 1);
  T* sq = sv + BK * (EP + 1);            // [BQ][EP + 1]
  T* sdz = sq + BQ * (EP + 1);
  T* sp = sdz + BQ * (EP + 1);           // [BK][BQ]
  T* sds = sp + BK * BQ;
  T* srow = sds + BK * BQ;               // [2][BQ]: lse and dot of the query tile
  constexpr int RQ = BQ / 16, RK = BK / 16, CE = EP / 16;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const int64_t n = blockIdx.x / g.heads, h = blockIdx.x % g.heads, k0 = static_cast<int64_t>(blockIdx.y) * BK;
  const bool softmax = g.kind == AttentionKind::softmax;
  load_tile<T, EP, BK>(sk, k, g, n, h, k0, g.length);
  load_tile<T, EP, BK>(sv, v, g, n, h, k0, g.length);
  T gk[RK][CE] = {}, gv[RK][CE] = {};
  const int64_t first_query = g.first_query_seeing(k0);
  for (int64_t q0 = first_query / BQ * BQ; q0 < g.queries; q0 += BQ) {
    __syncthreads();
    load_tile<T, EP, BQ>(sq, q, g, n, h, q0, g.queries);
    load_tile<T, EP, BQ>(sdz, dz, g, n, h, q0, g.queries);
    for (int i = threadIdx.x; i < BQ; i += kTileThreads) {
      const bool inside = softmax && q0 + i < g.queries;
      srow[i] = inside ? lse[blockIdx.x * g.queries + q0 + i] : T(0);
      srow[BQ + i] = inside ? dot[blockIdx.x * g.queries + q0 + i] : T(0);
    }
    __syncthreads();
    T s[RK][RQ] = {}, dp[RK][RQ] = {};
    for (int e = 0; e < EP; ++e) {
      T ka[RK], va[RK], qb[RQ], db[RQ];
      for (int a = 0; a < RK; ++a) ka[a] = sk[(ty + 16 * a) * (EP + 1) + e], va[a] = sv[(ty + 16 * a) * (EP + 1) + e];
      for (int b = 0; b < RQ; ++b) qb[b] = sq[(tx + 16 * b) * (EP + 1) + e], db[b] = sdz[(tx + 16 * b) * (EP + 1) + e];
      for (int a = 0; a < RK; ++a)
        for (int b = 0; b < RQ; ++b) s[a][b] += ka[a] * qb[b], dp[a][b] += va[a] * db[b];
    }
    for (int a = 0; a < RK; ++a)
      for (int b = 0; b < RQ; ++b) {
        const int i = tx + 16 * b;
        const Entry<T> entry = pattern_entry(g, q0 + i, k0 + ty + 16 * a, s[a][b] * g.scale, dp[a][b], srow[i], srow[BQ + i]);
        sp[(ty + 16 * a) * BQ + i] = entry.p;
        sds[(ty + 16 * a) * BQ + i] = entry.ds;
      }
    __syncthreads();
    for (int i = 0; i < BQ; ++i) {
      T pa[RK], da[RK], zc[CE], qc[CE];
      for (int a = 0; a < RK; ++a) pa[a] = sp[(ty + 16 * a) * BQ + i], da[a] = sds[(ty + 16 * a) * BQ + i];
      for (int c = 0; c < CE; ++c) zc[c] = sdz[i * (EP + 1) + tx + 16 * c], qc[c] = sq[i * (EP + 1) + tx + 16 * c];
      for (int a = 0; a < RK; ++a)
        for (int c = 0; c < CE; ++c) gv[a][c] += pa[a] * zc[c], gk[a][c] += da[a] * qc[c];
    }
  }
  for (int a = 0; a < RK; ++a) {
    const int64_t key = k0 + ty + 16 * a;
    if (key >= g.length) continue;
    for (int c = 0; c < CE; ++c) {
      const int e = tx + 16 * c;
      if (e >= g.width) continue;
      dk[g.at(n, g.length, key, h) + e] = gk[a][c] * g.scale;
      dv[g.at(n, g.length, key, h) + e] = gv[a][c];
    }
  }
}

// dQ of one query tile, walking the key tiles it sees.
template <typename T, int EP, int BQ, int BK>
__global__ void __launch_bounds__(kTileThreads) backward_q_kernel(Geometry<T> g, const T* q, const T* k, const T* v,
                                                                  const T* dz, const T* lse, const T* dot, T* dq) {
  extern __shared__ unsigned char shared[];
  T* sq = reinterpret_cast<T*>(shared);  // [BQ][EP + 1]
  T* sdz = sq + BQ * (EP + 1);
  T* sk = sdz + BQ * (EP + 1);           // [BK][EP + 1]
  T* sv = sk + BK * (EP + 1);
  T* sds = sv + BK * (EP + 1);           // [BQ][BK]
  constexpr int RQ = BQ / 16, RK = BK / 16, CE = EP / 16;
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const int64_t n = blockIdx.x / g.heads, h = blockIdx.x % g.heads, q0 = static_cast<int64_t>(blockIdx.y) * BQ;
  const bool softmax = g.kind == AttentionKind::softmax;
  load_tile<T, EP, BQ>(sq, q, g, n, h, q0, g.queries);
  load_tile<T, EP, BQ>(sdz, dz, g, n, h, q0, g.queries);
  T row_lse[RQ], row_dot[RQ], gq[RQ][CE] = {};
  for (int a = 0; a < RQ; ++a) {
    const int64_t query = q0 + ty + 16 * a;
    const bool inside = softmax && query < g.queries;
    row_lse[a] = inside ? lse[blockIdx.x * g.queries + query] : T(0);
    row_dot[a] = inside ? dot[blockIdx.x * g.queries + query] : T(0);
  }
  const int64_t key_end = g.key_end(q0, BQ);
  for (int64_t k0 = 0; k0 < key_end; k0 += BK) {
    __syncthreads();
    load_tile<T, EP, BK>(sk, k, g, n, h, k0, g.length);
    load_tile<T, EP, BK>(sv, v, g, n, h, k0, g.length);
    __syncthreads();
    T s[RQ][RK] = {}, dp[RQ][RK] = {};
    for (int e = 0; e < EP; ++e) {
      T qa[RQ], da[RQ], kb[RK], vb[RK];
      for (int a = 0; a < RQ; ++a) qa[a] = sq[(ty + 16 * a) * (EP + 1) + e], da[a] = sdz[(ty + 16 * a) * (EP + 1) + e];
      for (int b = 0; b < RK; ++b) kb[b] = sk[(tx + 16 * b) * (EP + 1) + e], vb[b] = sv[(tx + 16 * b) * (EP + 1) + e];
      for (int a = 0; a < RQ; ++a)
        for (int b = 0; b < RK; ++b) s[a][b] += qa[a] * kb[b], dp[a][b] += da[a] * vb[b];
    }
    for (int a = 0; a < RQ; ++a)
      for (int b = 0; b < RK; ++b)
        sds[(ty + 16 * a) * BK + tx + 16 * b] =
            pattern_entry(g, q0 + ty + 16 * a, k0 + tx + 16 * b, s[a][b] * g.scale, dp[a][b], row_lse[a], row_dot[a]).ds;
    __syncthreads();
    for (int j = 0; j < BK; ++j) {
      T da[RQ], kc[CE];
      for (int a = 0; a < RQ; ++a) da[a] = sds[(ty + 16 * a) * BK + j];
      for (int c = 0; c < CE; ++c) kc[c] = sk[j * (EP + 1) + tx + 16 * c];
      for (int a = 0; a < RQ; ++a)
        for (int c = 0; c < CE; ++c) gq[a][c] += da[a] * kc[c];
    }
  }
  for (int a = 0; a < RQ; ++a) {
    const int64_t query = q0 + ty + 16 * a;
    if (query >= g.queries) continue;
    for (int c = 0; c < CE; ++c) {
      const int e = tx + 16 * c;
      if (e < g.width) dq[g.at(n, g.queries, query, h) + e] = gq[a][c] * g.scale;
    }
  }
}

// 64 x 64 tiles, the head width padded to 16, 32 or 64.
constexpr int kTile = 64;
constexpr int padded_width(int64_t E) { return E <= 16 ? 16 : E <= 32 ? 32 : 64; }

template <typename T, int EP> size_t forward_bytes() { return sizeof(T) * (2 * kTile * (EP + 1) + kTile * kTile); }
template <typename T, int EP> size_t backward_kv_bytes() {
  return sizeof(T) * (4 * kTile * (EP + 1) + 2 * kTile * kTile + 2 * kTile);
}
template <typename T, int EP> size_t backward_q_bytes() { return sizeof(T) * (4 * kTile * (EP + 1) + kTile * kTile); }

constexpr size_t kSharedLimit = 200u << 10;  // below the 227 KiB a Hopper block may have

// Raises a kernel's dynamic shared-memory limit, once per kernel (not a stream operation: safe in a capture).
template <auto kernel> void allow_shared(size_t bytes) {
  static bool done = false;
  if (done) return;
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
        "cudaFuncSetAttribute(attention tiles)");
  done = true;
}

// Calls fn.template operator()<EP>() for the padded head width.
template <typename Fn> void dispatch_width(int64_t E, Fn&& fn) {
  switch (padded_width(E)) {
    case 16: return fn.template operator()<16>();
    case 32: return fn.template operator()<32>();
    default: return fn.template operator()<64>();
  }
}

unsigned tiles_of(int64_t rows) { return static_cast<unsigned>((rows + kTile - 1) / kTile); }
}  // namespace

template <typename T> bool tiles_fit(int64_t E) {
  bool fits = false;
  dispatch_width(E, [&]<int EP>() {
    fits = E <= kTilesWidth &&
           std::max({forward_bytes<T, EP>(), backward_kv_bytes<T, EP>(), backward_q_bytes<T, EP>()}) <= kSharedLimit;
  });
  return fits;
}

template <typename T> void tiles_forward(const Call<T>& c, T* z, T* lse) {
  dispatch_width(c.g.width, [&]<int EP>() {
    constexpr auto kernel = forward_kernel<T, EP, kTile, kTile>;
    allow_shared<kernel>(forward_bytes<T, EP>());
    kernel<<<dim3(static_cast<unsigned>(c.heads_in_batch), tiles_of(c.g.queries)), kTileThreads, forward_bytes<T, EP>(),
             c.stream>>>(c.g, c.q, c.k, c.v, z, lse);
  });
  check_launch("attention tiles forward");
}

template <typename T> void tiles_backward(const Call<T>& c, const Gradients<T>& d) {
  dispatch_width(c.g.width, [&]<int EP>() {
    constexpr auto kv = backward_kv_kernel<T, EP, kTile, kTile>;
    allow_shared<kv>(backward_kv_bytes<T, EP>());
    kv<<<dim3(static_cast<unsigned>(c.heads_in_batch), tiles_of(c.g.length)), kTileThreads, backward_kv_bytes<T, EP>(),
         c.stream>>>(c.g, c.q, c.k, c.v, d.dz, d.lse, d.dot, d.dk, d.dv);
    constexpr auto qk = backward_q_kernel<T, EP, kTile, kTile>;
    allow_shared<qk>(backward_q_bytes<T, EP>());
    qk<<<dim3(static_cast<unsigned>(c.heads_in_batch), tiles_of(c.g.queries)), kTileThreads, backward_q_bytes<T, EP>(),
         c.stream>>>(c.g, c.q, c.k, c.v, d.dz, d.lse, d.dot, d.dq);
  });
  check_launch("attention tiles backward");
}

template bool tiles_fit<float>(int64_t);
template bool tiles_fit<double>(int64_t);
template void tiles_forward<float>(const Call<float>&, float*, float*);
template void tiles_forward<double>(const Call<double>&, double*, double*);
template void tiles_backward<float>(const Call<float>&, const Gradients<float>&);
template void tiles_backward<double>(const Call<double>&, const Gradients<double>&);

}  // namespace mechlab::cuda::attention
