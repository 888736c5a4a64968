#include "cip/backoff.hpp"

#include <algorithm>

namespace cip {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint64_t seed)
    : initial_(std::max(initial, std::chrono::milliseconds(1))), max_(std::max(max, initial_)), rng_(seed) {}

std::chrono::milliseconds Backoff::ceiling() const {
  // Doubling stops once the ceiling reaches max, so the shift never overflows.
  std::int64_t c = initial_.count();
  for (std::uint32_t i = 0; i < attempt_ && c < max_.count(); ++i) c *= 2;
  return std::chrono::milliseconds(std::min(c, max_.count()));
}

std::chrono::milliseconds Backoff::next() {
  const auto c = ceiling();
  if (c < max_) ++attempt_;
  return std::chrono::milliseconds(static_cast<std::int64_t>(rng_.uniform(static_cast<std::uint64_t>(c.count()))));
}

}  // namespace cip
