// Progress of a training run on stderr: a live bar on a terminal (step, loss, steps/s, ETA), otherwise a
// plain line every `plain_every` steps, as batch logs and Slurm want.
#pragma once
#include <chrono>
#include <cstdint>

namespace mechlab {

class Progress {
 public:
  Progress(int64_t first_step, int64_t last_step, int64_t plain_every);
  void update(int64_t step, double loss);
  void finish();

 private:
  int64_t first_step_, last_step_, plain_every_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace mechlab
