// Sample: one assembly reading from one device, as it travels from the scanner to the sinks.
//
// Fixed size and trivially copyable, so the ring and the spool move it with memcpy and never
// allocate. Sized for the largest PowerMonitor 500 assembly (102 and 107: 18 REAL elements).
// Values are double even though the meter sends float32: after CT x PT scaling an energy counter
// in kWh exceeds float's 24-bit mantissa (16.7 million) within months on a large feeder.
//
// Layout (168 bytes, no padding, 8-byte aligned): a 24-byte header ordered from the widest field
// to the narrowest so the compiler inserts no padding, then 18 doubles. Why this and not a
// variable-length record: the ring copies a slot as 21 atomic 64-bit words (a fixed size is what
// makes its per-slot seqlock possible without allocation), the spool's records are fixed-size so
// a corrupt one can be skipped without resynchronising, and a sample of the smaller assemblies
// (fewer values) wastes at most ~100 bytes -- cheap next to a heap allocation per sample.
// The layout is part of the spool format (Spool::kRecordSize, segment header version): changing
// it needs a new spool format version. The reserved fields keep it 8-byte aligned and give room
// for a future field without changing the size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace pm500 {

inline constexpr std::size_t kMaxSampleValues = 18;

enum SampleFlags : std::uint16_t {
  kSampleScaled = 1u << 0,    // the gateway multiplied by CT/PT ratios
  kSampleExplicit = 1u << 1,  // from an explicit (polled) read, not Class 1 I/O
  kSampleSuspect = 1u << 2,   // a plausibility finding was active for this device
  kSampleRunIdle = 1u << 3,   // the producer signalled idle (run/idle header bit 0 clear)
};

struct Sample {
  std::int64_t source_time_ns = 0;  // CLOCK_REALTIME when the packet arrived at the gateway
  std::uint32_t device = 0;         // index into the configured device list (Catalog)
  std::uint16_t assembly = 0;       // assembly instance, 100..108
  std::uint16_t sequence = 0;       // CIP 16-bit sequence count (0 for explicit reads)
  std::uint16_t flags = 0;          // SampleFlags
  std::uint8_t count = 0;           // number of valid entries in values
  std::uint8_t reserved0 = 0;
  // T->O connection id of the Class 1 connection the sample arrived on: its sequence count is
  // only comparable with another sample's of the same connection (a new connection starts its
  // count over). 0 for explicit reads, and in spools written before it was recorded.
  std::uint32_t connection = 0;
  double values[kMaxSampleValues] = {};
};

static_assert(std::is_trivially_copyable_v<Sample>);
static_assert(sizeof(Sample) == 24 + 8 * kMaxSampleValues, "Sample layout is part of the spool format");

}  // namespace pm500
