// Sample: one assembly reading from one device, as it travels from the scanner to the sinks.
//
// Fixed size and trivially copyable, so the ring and the spool move it with memcpy and never
// allocate. Sized for the largest PowerMonitor 500 assembly (102 and 107: 18 REAL elements).
// A larger assembly (any element count a profile describes) travels as consecutive Samples of
// one datagram, its "parts": part p holds elements [18p, 18p + 18), all parts carry the same
// source time, sequence and connection, and `part` numbers them (0 for an assembly that fits).
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
// it needs a new spool format version. `part` took over a byte that was reserved and always
// written 0, which is part 0, so spools written before it read the same (and a profile with more
// than 18 elements, the only source of a part above 0, did not load before it). The reserved
// field keeps it 8-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace pm500 {

inline constexpr std::size_t kMaxSampleValues = 18;
// Parts of one assembly reading (Sample::part is a byte): at most 18 x 255 = 4,590 elements.
inline constexpr std::size_t kMaxSampleParts = 255;

// Parts a reading of an assembly with `elements` elements takes (1 for up to 18 elements).
constexpr std::size_t sample_parts(std::size_t elements) {
  return elements <= kMaxSampleValues ? 1 : (elements + kMaxSampleValues - 1) / kMaxSampleValues;
}

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
  // Which part of the assembly's elements `values` holds: element 18 x part + i is values[i].
  std::uint8_t part = 0;
  // T->O connection id of the Class 1 connection the sample arrived on: its sequence count is
  // only comparable with another sample's of the same connection (a new connection starts its
  // count over). 0 for explicit reads, and in spools written before it was recorded.
  std::uint32_t connection = 0;
  double values[kMaxSampleValues] = {};
};

static_assert(std::is_trivially_copyable_v<Sample>);
static_assert(sizeof(Sample) == 24 + 8 * kMaxSampleValues, "Sample layout is part of the spool format");

}  // namespace pm500
