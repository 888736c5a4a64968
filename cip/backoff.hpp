// Reconnect delays: exponential backoff with full jitter. The n-th retry waits a uniformly
// random time in [0, min(max, initial x 2^n)] ("full jitter", AWS Architecture Blog,
// "Exponential Backoff And Jitter", 2015), so a thousand meters that lost the network at the
// same instant do not come back at the same instant and flood the switch (or the meters).
//
// The generator is a seeded splitmix64, not std::mt19937: eight bytes of state per device,
// reproducible in tests from a seed, and no allocation.
#pragma once

#include <chrono>
#include <cstdint>

namespace cip {

// splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", 2014).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed = 0) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound] (inclusive); the modulo bias is below 2^-40 for bounds under 2^24.
  std::uint64_t uniform(std::uint64_t bound) { return bound == UINT64_MAX ? next() : next() % (bound + 1); }

 private:
  std::uint64_t state_;
};

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint64_t seed);

  // The delay before the next attempt; each call doubles the ceiling up to max.
  std::chrono::milliseconds next();
  // After a success: the next failure starts again from `initial`.
  void reset() { attempt_ = 0; }

  std::uint32_t attempt() const { return attempt_; }
  // The ceiling the next call to next() draws under: min(max, initial x 2^attempt).
  std::chrono::milliseconds ceiling() const;

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::uint32_t attempt_ = 0;
  SplitMix64 rng_;
};

}  // namespace cip
