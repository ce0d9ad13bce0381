// GemmPlans::fastest_ms: the time of a product at the fastest algorithm cuBLASLt offers for its whole batch,
// splits of the inner sum included, whatever bits it gives. mechlab_bench --products sets it beside the time of
// the plans' algorithm, which must give one replica's bits: what the products of a step could cost at best.
// GemmPlans::epilogue_candidates asks whether a fused epilogue exists for a product at all.
#include "backend/cuda/check.h"
#include "backend/cuda/gemm_plans.h"
#include "backend/cuda/stream_timer.cuh"

namespace mechlab::cuda {

double GemmPlans::fastest_ms(DType dtype, const void* a, const void* b, void* c, const GemmShape& g, int repeats) {
  const ShapeKey key = key_of(dtype, a, b, c, g);
  constexpr int kCandidates = 32;
  cublasLtMatmulHeuristicResult_t results[kCandidates] = {};
  const int found = candidates(key, g.batch, g, results, kCandidates);
  const Plan& plan = plan_for(key, g.batch, g);
  auto launched = [&](const cublasLtMatmulAlgo_t& algorithm) {
    return launch(plan, algorithm, dtype, g.alpha, a, b, g.beta, c) == CUBLAS_STATUS_SUCCESS;
  };
  double fastest = 0;
  for (int i = 0; i < found; ++i) {
    if (!launched(results[i].algo)) continue;  // also the warm-up
    bool ran = true;
    const float ms = elapsed_ms(stream_, [&] {
      for (int r = 0; r < repeats && ran; ++r) ran = launched(results[i].algo);
    });
    if (ran && (fastest == 0 || ms / repeats < fastest)) fastest = ms / repeats;
  }
  return fastest;
}

int GemmPlans::epilogue_candidates(DType dtype, const void* a, const void* b, const void* c, const GemmShape& g,
                                   cublasLtEpilogue_t epilogue) const {
  constexpr int kCandidates = 32;
  cublasLtMatmulHeuristicResult_t results[kCandidates] = {};
  return candidates(key_of(dtype, a, b, c, g), g.batch, g, results, kCandidates, epilogue);
}

}  // namespace mechlab::cuda
