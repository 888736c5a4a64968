// Rate limiting and rate measurement for AWS IoT: a token bucket keeps a connection under AWS
// IoT's 100 publishes/s, and a sliding window measures outgoing records/s and bytes/s against a
// Kinesis stream's capacity (1000 records/s and 1 MiB/s per shard). Paho-free and clock-injected
// so tests need no sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace pm500::sinks::aws_iot {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  // rate tokens per second, burst at most `burst` tokens (>= 1).
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
  // Takes one token; returns how long the caller must wait first (zero when one was available).
  Clock::duration take(Clock::time_point now) {
    refill(now);
    tokens_ -= 1;
    if (tokens_ >= 0) return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(-tokens_ / rate_));
  }

 private:
  void refill(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      tokens_ += std::chrono::duration<double>(now - last_).count() * rate_;
      if (tokens_ > burst_) tokens_ = burst_;
    }
    last_ = now;
  }
  double rate_, burst_, tokens_;
  Clock::time_point last_{};
};

class ThroughputMeter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ThroughputMeter(std::chrono::seconds window) : window_(window) {}
  void add(Clock::time_point now, std::uint64_t records, std::uint64_t bytes) {
    events_.push_back({now, records, bytes});
    trim(now);
  }
  // Average over the time between the oldest event in the window and now. The oldest event's own
  // records were sent before that interval began, so they are not counted: a steady 1500/s in
  // batches reads 1500, not 1500 x (n+1)/n. One event alone is no rate yet (0).
  double records_per_s(Clock::time_point now) { return rate(now, true); }
  double bytes_per_s(Clock::time_point now) { return rate(now, false); }

 private:
  struct Event {
    Clock::time_point at;
    std::uint64_t records, bytes;
  };
  void trim(Clock::time_point now) {
    while (!events_.empty() && now - events_.front().at > window_) events_.pop_front();
  }
  double rate(Clock::time_point now, bool records) {
    trim(now);
    if (events_.empty()) return 0;
    double sum = 0;
    for (std::size_t i = 1; i < events_.size(); ++i)
      sum += static_cast<double>(records ? events_[i].records : events_[i].bytes);
    const double span = std::chrono::duration<double>(now - events_.front().at).count();
    // A window shorter than a second would turn one burst into a huge rate.
    return sum / (span < 1.0 ? 1.0 : span);
  }
  std::chrono::seconds window_;
  std::deque<Event> events_;
};

}  // namespace pm500::sinks::aws_iot
