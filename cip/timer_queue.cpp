#include "cip/timer_queue.hpp"

#include <utility>

namespace cip {

void TimerQueue::push(std::int64_t deadline_ns, std::uint64_t token) {
  heap_.push_back({deadline_ns, token, order_++});
  std::size_t i = heap_.size() - 1;
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(heap_[i], heap_[parent])) break;
    std::swap(heap_[i], heap_[parent]);
    i = parent;
  }
}

bool TimerQueue::pop_due(std::int64_t now_ns, Entry& out) {
  if (heap_.empty() || heap_.front().deadline_ns > now_ns) return false;
  out = heap_.front();
  heap_.front() = heap_.back();
  heap_.pop_back();
  std::size_t i = 0;
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && before(heap_[l], heap_[m])) m = l;
    if (r < n && before(heap_[r], heap_[m])) m = r;
    if (m == i) break;
    std::swap(heap_[i], heap_[m]);
    i = m;
  }
  return true;
}

}  // namespace cip
