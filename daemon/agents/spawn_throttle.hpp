#pragma once
// Starts per second, as a token bucket: a burst of up to `rate` starts (at least one), then
// one every 1/rate seconds. Holds when many agents die at once (no spawn storm).
#include <algorithm>
#include <chrono>

namespace vermas {

class SpawnThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  // Takes a start if one is available now (returns 0), else returns how long until one
  // is (and takes nothing). A rate <= 0 means no limit.
  std::chrono::duration<double> take(double rate_per_second, Clock::time_point now) {
    if (rate_per_second <= 0) return std::chrono::duration<double>(0);
    double burst = std::max(1.0, rate_per_second);
    if (!primed_) {
      tokens_ = burst;
      primed_ = true;
    } else {
      double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst, tokens_ + std::max(0.0, elapsed) * rate_per_second);
    }
    last_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return std::chrono::duration<double>(0);
    }
    return std::chrono::duration<double>((1.0 - tokens_) / rate_per_second);
  }

 private:
  bool primed_ = false;
  double tokens_ = 0;
  Clock::time_point last_{};
};

}  // namespace vermas
