#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "helpers.hpp"
#include "pipeline/ring.hpp"

using namespace pm500;
using pm500::test::make_sample;
using pm500::test::sample_number;

TEST_CASE("ring: capacity must be a power of two") {
  CHECK_THROWS_AS(Ring(0), std::invalid_argument);
  CHECK_THROWS_AS(Ring(100), std::invalid_argument);
  CHECK_NOTHROW(Ring(64));
}

TEST_CASE("ring: empty cursor reads nothing; a cursor sees only what was pushed after it subscribed") {
  Ring ring(8);
  ring.push(make_sample(0));
  auto c = ring.subscribe();
  Sample s;
  CHECK_FALSE(c.try_read(s));
  ring.push(make_sample(1));
  REQUIRE(c.try_read(s));
  CHECK(sample_number(s) == 1);
  CHECK_FALSE(c.try_read(s));
  CHECK(c.missed() == 0);
}

TEST_CASE("ring: wrap-around keeps order over many laps") {
  Ring ring(8);
  auto c = ring.subscribe();
  Sample buf[5];
  std::uint64_t next = 0, pushed = 0;
  for (int lap = 0; lap < 100; ++lap) {
    for (int i = 0; i < 5; ++i) ring.push(make_sample(pushed++));
    std::size_t n = c.try_read(buf);
    REQUIRE(n == 5);
    for (std::size_t i = 0; i < n; ++i) CHECK(sample_number(buf[i]) == next++);
  }
  CHECK(c.missed() == 0);
  CHECK(c.lag() == 0);
  CHECK(ring.head() == 500);
}

TEST_CASE("ring: a reader that falls behind by more than the capacity counts exactly what it missed") {
  Ring ring(8);
  auto c = ring.subscribe();
  for (std::uint64_t i = 0; i < 20; ++i) ring.push(make_sample(i));
  CHECK(c.lag() == 20);
  Sample buf[32];
  std::size_t n = c.try_read(buf);
  // head 20, capacity 8: samples 13..19 are intact (12's slot is the next to be overwritten).
  REQUIRE(n == 7);
  CHECK(c.missed() == 13);
  for (std::size_t i = 0; i < n; ++i) CHECK(sample_number(buf[i]) == 13 + i);
  // Every sequence number is accounted for: read + missed == pushed.
  CHECK(n + c.missed() == 20);
}

TEST_CASE("ring: several cursors each see every sample, independently") {
  Ring ring(16);
  auto fast = ring.subscribe();
  auto slow = ring.subscribe();
  auto late = ring.subscribe_at(4);
  Sample buf[16];
  std::vector<std::uint64_t> got_fast, got_slow, got_late;
  for (std::uint64_t i = 0; i < 12; ++i) {
    ring.push(make_sample(i));
    Sample s;
    REQUIRE(fast.try_read(s));
    got_fast.push_back(sample_number(s));
  }
  for (std::size_t i = 0, n = slow.try_read(buf); i < n; ++i) got_slow.push_back(sample_number(buf[i]));
  for (std::size_t i = 0, n = late.try_read(buf); i < n; ++i) got_late.push_back(sample_number(buf[i]));
  CHECK(got_fast.size() == 12);
  CHECK(got_slow == got_fast);
  REQUIRE(got_late.size() == 8);
  CHECK(got_late.front() == 4);
  CHECK(fast.missed() + slow.missed() + late.missed() == 0);
}

TEST_CASE("ring: a cursor reading while the producer laps it never returns a torn sample") {
  // Tiny ring, fast producer: the reader is overrun constantly. Every returned sample must be
  // intact and in increasing order, and read + missed must equal pushed.
  Ring ring(4);
  auto c = ring.subscribe();
  constexpr std::uint64_t kCount = 200'000;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kCount; ++i) ring.push(make_sample(i));
  });
  std::uint64_t read = 0, last = 0;
  bool first = true, ok = true;
  Sample buf[3];
  while (read + c.missed() < kCount) {
    std::size_t n = c.try_read(buf);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t num = sample_number(buf[i]);
      if (num == ~0ull || (!first && num <= last)) ok = false;
      last = num;
      first = false;
    }
    read += n;
  }
  producer.join();
  CHECK(ok);
  CHECK(read + c.missed() == kCount);
}
