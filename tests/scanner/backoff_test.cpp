// Backoff: full jitter stays inside [0, min(max, initial x 2^n)], the ceiling doubles up to the
// cap, reset() starts over, a seed reproduces the sequence, and the draws actually spread.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "cip/backoff.hpp"

using namespace std::chrono_literals;

TEST_CASE("full jitter stays within the doubling ceiling and the cap") {
  cip::Backoff b(100ms, 3000ms, 42);
  const std::int64_t ceilings[] = {100, 200, 400, 800, 1600, 3000, 3000, 3000};
  for (std::int64_t c : ceilings) {
    CHECK(b.ceiling().count() == c);
    const auto d = b.next();
    CHECK(d.count() >= 0);
    CHECK(d.count() <= c);
  }
}

TEST_CASE("reset starts again from the initial delay") {
  cip::Backoff b(50ms, 1000ms, 7);
  for (int i = 0; i < 10; ++i) (void)b.next();
  CHECK(b.ceiling() == 1000ms);
  b.reset();
  CHECK(b.ceiling() == 50ms);
  CHECK(b.next() <= 50ms);
}

TEST_CASE("the same seed gives the same delays; different seeds differ") {
  cip::Backoff a(100ms, 30000ms, 1), b(100ms, 30000ms, 1), c(100ms, 30000ms, 2);
  bool differs = false;
  for (int i = 0; i < 12; ++i) {
    const auto x = a.next(), y = b.next(), z = c.next();
    CHECK(x == y);
    differs = differs || x != z;
  }
  CHECK(differs);
}

TEST_CASE("draws cover the whole range, not just its top (full, not equal, jitter)") {
  std::int64_t lo = 1'000'000, hi = 0;
  std::set<std::int64_t> distinct;
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    cip::Backoff b(1000ms, 1000ms, seed);
    const auto d = b.next().count();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    distinct.insert(d);
  }
  CHECK(lo < 50);
  CHECK(hi > 950);
  CHECK(distinct.size() > 500);
}

TEST_CASE("a huge number of failures never overflows the ceiling") {
  cip::Backoff b(1ms, 60000ms, 3);
  for (int i = 0; i < 10000; ++i) CHECK(b.next() <= 60000ms);
  CHECK(b.ceiling() == 60000ms);
}
