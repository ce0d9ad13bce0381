// Float and double overloads of the device math the kernels share, so templated kernels call one name.
#pragma once
#include <cmath>

namespace mechlab::cuda {

__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return exp(x); }
__device__ inline float log_of(float x) { return logf(x); }
__device__ inline double log_of(double x) { return log(x); }
__device__ inline float erf_of(float x) { return erff(x); }
__device__ inline double erf_of(double x) { return erf(x); }

}  // namespace mechlab::cuda
