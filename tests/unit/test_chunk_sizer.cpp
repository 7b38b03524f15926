// The chunk sizer: chunks grow toward the time budget, shrink after a slow one, never swing
// by more than x2 / x0.25 at once, and stay within their bounds.
#include "daemon/store/chunk_sizer.hpp"
#include "tests/catch.hpp"

using vermas::ChunkSizer;
using Seconds = ChunkSizer::Seconds;

TEST_CASE("chunk sizer: grows toward the budget at most twofold, shrinks at most to a quarter", "[chunk_sizer]") {
  ChunkSizer s(1000, 100, 200000, Seconds(0.02));
  CHECK(s.next() == 1000);
  s.took(1000, Seconds(0.001));  // 1 us a row: 20,000 would fit, but at most double
  CHECK(s.next() == 2000);
  s.took(2000, Seconds(0.002));
  CHECK(s.next() == 4000);
  for (int i = 0; i < 10; ++i) s.took(s.next(), Seconds(1e-6 * static_cast<double>(s.next())));
  CHECK(s.next() == 20000);  // settled on the budget
  s.took(20000, Seconds(0.02));
  CHECK(s.next() == 20000);

  s.took(20000, Seconds(2.0));  // a chunk that waited for the disk: a quarter, not a hundredth
  CHECK(s.next() == 5000);
  s.took(5000, Seconds(0.01));  // 2 us a row: 10,000
  CHECK(s.next() == 10000);
}

TEST_CASE("chunk sizer: bounds, an empty chunk, and a fixed size", "[chunk_sizer]") {
  ChunkSizer s(1000, 500, 1500, Seconds(0.02));
  s.took(1000, Seconds(1e-9));
  CHECK(s.next() == 1500);
  s.took(1500, Seconds(10));
  CHECK(s.next() == 500);
  s.took(0, Seconds(10));  // nothing read: nothing learnt
  CHECK(s.next() == 500);
  ChunkSizer f = ChunkSizer::fixed(7);
  f.took(7, Seconds(1e-9));
  CHECK(f.next() == 7);
  f.took(7, Seconds(100));
  CHECK(f.next() == 7);
}
