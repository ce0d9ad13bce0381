// Progress of a training run on stderr: a live bar on a terminal (step, loss, steps/s, ETA), otherwise a
// plain line every `plain_every` steps, as batch logs and Slurm want. Packed replicas show the mean loss
// with its range over the replicas.
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

namespace mechlab {

class Progress {
 public:
  Progress(int64_t first_step, int64_t last_step, int64_t plain_every);
  void update(int64_t step, const std::vector<double>& losses);  // one per replica
  void finish();

 private:
  int64_t first_step_, last_step_, plain_every_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace mechlab
