// exp and erf written as plain arithmetic so the compiler vectorises loops that call them (libm's
// scalar expf/erff made GELU a third of a training step). No libm call and no FMA contraction means
// an element gets the same bits in a vector body or a scalar tail. float only: double keeps libm for
// the finite-difference checks.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace mechlab::cpu {

// e^x with relative error below 3e-7 (2.5 float ulps) over the float range (Cody-Waite reduction, degree-6 polynomial).
inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low bits
  const float n = (x * 1.44269504f + shifter) - shifter;
  const float r = (x - n * 0.693145752f) - n * 1.42860677e-6f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// erf(x) with absolute error below 3e-7: a Taylor series near 0, where the tail form below loses bits to
// cancellation, and Abramowitz & Stegun 7.1.26 (error 1.5e-7) elsewhere. Both are computed and one is
// selected, which keeps the loop branch-free.
inline float erf_approx(float x) {
  const float a = x < 0 ? -x : x;
  const float a2 = a * a;
  float series = -1.0f / 75600;  // x^15 term of erf(x) * sqrt(pi) / 2, then down to x
  series = series * a2 + 1.0f / 9360;
  series = series * a2 - 1.0f / 1320;
  series = series * a2 + 1.0f / 216;
  series = series * a2 - 1.0f / 42;
  series = series * a2 + 1.0f / 10;
  series = series * a2 - 1.0f / 3;
  series = (series * a2 + 1.0f) * a * 1.12837917f;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float tail = 1.0f - p * t * exp_approx(-a2);
  const float y = a < 0.8f ? series : tail;
  return x < 0 ? -y : y;
}

template <typename T> inline T exp_of(T x) { return std::exp(x); }
template <> inline float exp_of<float>(float x) { return exp_approx(x); }
template <typename T> inline T erf_of(T x) { return std::erf(x); }
template <> inline float erf_of<float>(float x) { return erf_approx(x); }

}  // namespace mechlab::cpu
