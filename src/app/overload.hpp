// gateway.overload: the scanner cannot keep up. Judged once a second from the scanner's receive
// counters: datagrams the kernel dropped on the Class 1 socket (its buffer was full) or a
// scanner thread busy for nearly all of the interval. Pure: the gateway feeds it the counters
// and raises or clears the condition with the evidence it returns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cip/scanner.hpp"

namespace pm500::app {

class OverloadWatch {
 public:
  // The scanner thread counts as saturated above this share of one core.
  static constexpr double kSaturatedCpu = 0.9;

  // `now_ms`: a monotonic clock. Returns the evidence while overloaded, nullopt otherwise (and
  // on the first call, which only takes the starting point). `rmem_max`: net.core.rmem_max
  // (0 when unknown).
  std::optional<std::string> evaluate(const cip::ReceiveStats& rx, std::int64_t now_ms, std::uint64_t rmem_max);

 private:
  cip::ReceiveStats last_{};
  std::int64_t last_ms_ = -1;
};

// The start-up warning when net.core.rmem_max kept SO_RCVBUF below what the devices need; ""
// when it did not.
std::string receive_buffer_warning(const cip::ReceiveStats& rx, std::uint64_t rmem_max);

// net.core.rmem_max, 0 when it cannot be read.
std::uint64_t read_rmem_max();

}  // namespace pm500::app
