// The Class 1 I/O datagram on UDP 2222 (CIP Vol 2, chapter 3, Class 0/1
// I/O over UDP, and chapter 2 "Common Packet Format"): two CPF items,
//   0x8002 sequenced address: connection id u32, encapsulation sequence number u32
//   0x00B1 connected data:    CIP sequence count u16, [run/idle header u32], application data
// Whether the run/idle header is present is a property of the connection (agreed in the
// Forward Open), not of the datagram, so decode_io() is told.
//
// decode_io() never allocates: the scanner calls it for every datagram on its receive buffer.
#pragma once

#include <cstdint>

#include "cip/bytes.hpp"

namespace cip {

struct IoPacket {
  std::uint32_t connection_id = 0;
  std::uint32_t encap_sequence = 0;    // 32-bit, per connection, every transmission
  std::uint16_t cip_sequence = 0;      // 16-bit, changes only when the data is new
  bool has_run_idle = false;
  std::uint32_t run_idle = 0;          // bit 0: 1 = run, 0 = idle (Vol 1, "32-bit header" format)
  bytes_view data{};

  bool running() const { return !has_run_idle || (run_idle & 1u) != 0; }
};

void encode(Writer& w, const IoPacket& p);
pm500::expected<IoPacket, Error> decode_io(bytes_view datagram, bool run_idle_header);

// True when 16-bit sequence count `a` is newer than `b` (serial number arithmetic: within half
// the range ahead, across the wrap). Equal is not newer: the producer resent old data.
constexpr bool seq_newer(std::uint16_t a, std::uint16_t b) {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>(a - b)) > 0;
}
constexpr bool seq_newer32(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) > 0;
}

}  // namespace cip
