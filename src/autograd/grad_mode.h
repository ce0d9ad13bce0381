// Evaluation mode: while a NoGradGuard lives, ops record nothing on the tape.
#pragma once

namespace mechlab {

bool grad_mode_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace mechlab
