#pragma once
// How many rows the next chunk of log maintenance (rebuild, archive) may take, so each chunk
// holds the io thread for about `target`: the first chunk is small, then each is scaled by
// how long the last one took per row, at most doubling and at least quartering at a time
// (a slow chunk, e.g. one that waited for the disk, does not swing the next far), within
// [min, max]. A count fixed in advance would be wrong on every machine but one: 20,000
// events took 0.1 s here, twice the budget of a request's wait.
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace vermas {

class ChunkSizer {
 public:
  using Seconds = std::chrono::duration<double>;
  static constexpr Seconds kTarget{0.02};

  ChunkSizer(std::int64_t first, std::int64_t min, std::int64_t max, Seconds target = kTarget)
      : next_(std::clamp(first, min, max)), min_(min), max_(max), target_(target) {}
  // A fixed size (tests that want many small chunks).
  static ChunkSizer fixed(std::int64_t rows) { return ChunkSizer(rows, rows, rows); }

  std::int64_t next() const { return next_; }
  // The last chunk read `rows` rows in `elapsed`.
  void took(std::int64_t rows, Seconds elapsed) {
    if (rows <= 0) return;
    const double per_row = std::max(elapsed.count(), 1e-9) / static_cast<double>(rows);
    const double ideal = target_.count() / per_row;
    const double lo = static_cast<double>(next_) / 4, hi = static_cast<double>(next_) * 2;
    next_ = std::clamp(static_cast<std::int64_t>(std::clamp(ideal, lo, hi)), min_, max_);
  }

 private:
  std::int64_t next_, min_, max_;
  Seconds target_;
};

}  // namespace vermas
