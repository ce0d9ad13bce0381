#include "train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace mechlab {

namespace {
std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  return s >= 3600 ? fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60) : fmt::format("{}m{:02d}s", s / 60, s % 60);
}

// "loss 2.4132", or for replicas "loss 2.413 (mean of 4: 2.401 to 2.425)".
std::string loss_text(const std::vector<double>& losses) {
  if (losses.size() == 1) return fmt::format("loss {:.4f}", losses[0]);
  const auto [low, high] = std::minmax_element(losses.begin(), losses.end());
  double total = 0.0;
  for (double loss : losses) total += loss;
  return fmt::format("loss {:.3f} (mean of {}: {:.3f} to {:.3f})", total / static_cast<double>(losses.size()),
                     losses.size(), *low, *high);
}
}  // namespace

Progress::Progress(int64_t first_step, int64_t last_step, int64_t plain_every)
    : first_step_(first_step),
      last_step_(last_step),
      plain_every_(plain_every),
      terminal_(isatty(fileno(stderr)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(int64_t step, const std::vector<double>& losses) {
  const auto now = std::chrono::steady_clock::now();
  const bool last = step == last_step_;
  if (terminal_ ? (now - last_draw_ < std::chrono::milliseconds(100) && !last) : (step % plain_every_ != 0 && !last))
    return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(step - first_step_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(last_step_ - step) / rate : 0.0;
  const std::string stats =
      fmt::format("step {}/{}  {}  {:.1f} steps/s  ETA {}", step, last_step_, loss_text(losses), rate, duration(eta));
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * static_cast<double>(step) / static_cast<double>(last_step_));
    fmt::print(stderr, "\r[{}{}] {}\x1b[K", std::string(filled, '#'), std::string(kWidth - filled, ' '), stats);
  } else {
    fmt::print(stderr, "{}\n", stats);
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (terminal_) fmt::print(stderr, "\n");
}

}  // namespace mechlab
