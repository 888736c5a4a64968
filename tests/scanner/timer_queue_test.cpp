// TimerQueue with a fake clock: timers fire in deadline order (FIFO among equals), never early,
// and a steady heartbeat pattern does not grow the heap.
#include <doctest/doctest.h>

#include <vector>

#include "cip/timer_queue.hpp"

TEST_CASE("timers come due in deadline order and never early") {
  cip::TimerQueue q;
  q.push(300, 3);
  q.push(100, 1);
  q.push(200, 2);
  q.push(100, 11);  // same deadline: after token 1
  cip::TimerQueue::Entry e;
  CHECK_FALSE(q.pop_due(99, e));
  CHECK(q.next_deadline() == 100);
  std::vector<std::uint64_t> fired;
  while (q.pop_due(250, e)) fired.push_back(e.token);
  CHECK(fired == std::vector<std::uint64_t>{1, 11, 2});
  CHECK(q.next_deadline() == 300);
  CHECK(q.pop_due(1000, e));
  CHECK(e.token == 3);
  CHECK_FALSE(q.next_deadline().has_value());
}

TEST_CASE("a periodic heartbeat on a fake clock keeps its period and the heap its size") {
  cip::TimerQueue q(16);
  const std::int64_t rpi = 100;
  for (std::uint64_t c = 0; c < 8; ++c) q.push(static_cast<std::int64_t>(c) * 10, c);
  std::vector<int> count(8, 0);
  cip::TimerQueue::Entry e;
  for (std::int64_t now = 0; now < 10'000; now += 5) {
    while (q.pop_due(now, e)) {
      ++count[e.token];
      q.push(e.deadline_ns + rpi, e.token);
    }
    CHECK(q.size() == 8);
  }
  for (int c : count) CHECK(c == 100);
}
