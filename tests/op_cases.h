// The table of ops every backend test walks: the f64 finite-difference check on the CPU and the f32
// CPU-vs-CUDA comparison. Adding an op adds one row here.
#pragma once
#include <string>
#include <vector>

#include "gradcheck.h"

namespace mechlab::testing {

struct OpCase {
  const char* name;
  std::vector<Shape> input_shapes;
  TensorFn fn;                            // builds any constants on its inputs' device and dtype
  double floor = 0.0;                     // keep inputs at least this far from 0 (ops with a kink there)
  std::vector<Shape> large_input_shapes;  // extra shapes for the backend comparison (too big for FD)
};

const std::vector<OpCase>& op_cases();

}  // namespace mechlab::testing
