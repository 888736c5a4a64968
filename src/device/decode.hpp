// Decoding one assembly's bytes into a Sample's values, by the profile. Hot path: called per
// Class 1 datagram; no allocation, no exceptions, bounds checked.
//
//   pm500::Sample s{.source_time_ns = t, .device = idx, .assembly = 101};
//   if (auto r = decode(profile, 101, payload, s); !r) count_and_flag(describe(r.error()));
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "device/profile.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500::device {

enum class DecodeErrc : std::uint8_t {
  unknown_assembly,  // the profile does not describe this instance
  size_mismatch,     // the payload is not the profile's size_bytes
};

// Small and trivially copyable so the hot path returns it without allocating.
struct DecodeError {
  DecodeErrc code = DecodeErrc::unknown_assembly;
  std::uint16_t assembly = 0;
  std::uint32_t expected_bytes = 0;
  std::uint32_t seen_bytes = 0;
};

// "assembly 101: 52 bytes received, the profile describes 48"
std::string describe(const DecodeError& e);

// Writes out.values[0..n), out.count, out.assembly and out.part for part `part` of the
// assembly (Assembly::part_count(); 0 for one of at most 18 elements). Other fields (time,
// device, sequence, flags) are the caller's. Values are engineering values in the profile's
// units, as the meter sent them (before CT/PT scaling). A part the assembly does not have is
// unknown_assembly.
pm500::expected<void, DecodeError> decode(const Profile& p, std::uint16_t assembly, std::span<const std::uint8_t> bytes,
                                          pm500::Sample& out, std::size_t part = 0) noexcept;

// The same for one already looked-up assembly.
pm500::expected<void, DecodeError> decode(const Assembly& a, std::span<const std::uint8_t> bytes,
                                          pm500::Sample& out, std::size_t part = 0) noexcept;

namespace detail {
// Little-endian element read/write; `at` must have wire_size(t) bytes.
double read_element(WireType t, const std::uint8_t* at) noexcept;
void write_element(WireType t, double value, std::uint8_t* at) noexcept;
}  // namespace detail

}  // namespace pm500::device
