// Helpers for the pipeline tests: deterministic samples and an order-sensitive checksum.
#pragma once

#include <cstdint>
#include <span>

#include "pipeline/sample.hpp"

namespace pm500::test {

// Sample number n: every field derived from n, so a torn or misplaced copy is detectable.
inline Sample make_sample(std::uint64_t n, std::uint32_t device = 0) {
  Sample s;
  s.source_time_ns = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(n) * 1'000'000;
  s.device = device;
  s.assembly = 101;
  s.sequence = static_cast<std::uint16_t>(n);
  s.count = kMaxSampleValues;
  for (std::size_t i = 0; i < kMaxSampleValues; ++i) s.values[i] = static_cast<double>(n) + static_cast<double>(i) / 32.0;
  return s;
}

// Number of a sample made by make_sample(), or ~0 when the sample is internally inconsistent.
inline std::uint64_t sample_number(const Sample& s) {
  const auto n = static_cast<std::uint64_t>((s.source_time_ns - 1'700'000'000'000'000'000) / 1'000'000);
  for (std::size_t i = 0; i < kMaxSampleValues; ++i)
    if (s.values[i] != static_cast<double>(n) + static_cast<double>(i) / 32.0) return ~0ull;
  if (s.sequence != static_cast<std::uint16_t>(n) || s.count != kMaxSampleValues) return ~0ull;
  return n;
}

// Order-sensitive running checksum (FNV-1a over sample numbers).
struct Checksum {
  std::uint64_t h = 1469598103934665603ull;
  std::uint64_t count = 0;
  void add(std::uint64_t n) {
    h = (h ^ n) * 1099511628211ull;
    ++count;
  }
  bool operator==(const Checksum&) const = default;
};

inline Checksum checksum_of(std::uint64_t first, std::uint64_t count) {
  Checksum c;
  for (std::uint64_t i = 0; i < count; ++i) c.add(first + i);
  return c;
}

}  // namespace pm500::test
