// The scanner's timers: a binary min-heap of (deadline, token). Cancelling is lazy -- the owner
// bumps a generation number kept inside the token, and a timer whose generation is stale is
// dropped when it comes due -- so arming and cancelling never search the heap.
//
// Time is a plain int64 of nanoseconds on whatever clock the caller uses (CLOCK_MONOTONIC in
// the scanner, a counter in the tests). The heap's storage is reserved up front and reused:
// steady-state heartbeats push and pop without allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace cip {

class TimerQueue {
 public:
  struct Entry {
    std::int64_t deadline_ns = 0;
    std::uint64_t token = 0;
    std::uint64_t order = 0;  // insertion order: equal deadlines fire first-in first-out
  };

  explicit TimerQueue(std::size_t reserve = 64) { heap_.reserve(reserve); }

  void push(std::int64_t deadline_ns, std::uint64_t token);
  std::optional<std::int64_t> next_deadline() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().deadline_ns;
  }
  // Pops the earliest timer due at `now_ns` (deadline <= now); false when none is due.
  bool pop_due(std::int64_t now_ns, Entry& out);
  std::size_t size() const { return heap_.size(); }
  void clear() { heap_.clear(); }

 private:
  static bool before(const Entry& a, const Entry& b) {
    return a.deadline_ns != b.deadline_ns ? a.deadline_ns < b.deadline_ns : a.order < b.order;
  }
  std::vector<Entry> heap_;
  std::uint64_t order_ = 0;
};

}  // namespace cip
