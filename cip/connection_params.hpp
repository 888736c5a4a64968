// The small bit fields of a Forward Open (CIP Vol 1, chapter 3, Connection Manager
// "Forward_Open" service and the Connection Object attributes): network connection parameters,
// the transport class/trigger byte, the priority/tick time of unconnected requests, and the
// connection timeout.
#pragma once

#include <chrono>
#include <cstdint>

#include "cip/bytes.hpp"

namespace cip {

enum class ConnectionType : std::uint8_t { null = 0, multicast = 1, point_to_point = 2, reserved = 3 };
enum class ConnectionPriority : std::uint8_t { low = 0, high = 1, scheduled = 2, urgent = 3 };

// Network connection parameters. `size` counts the bytes of the connected data item after its
// header: for Class 1 that includes the 2-byte sequence count and, if used, the 4-byte run/idle
// header (Vol 1, Forward_Open "Network Connection Parameters").
struct NetworkParams {
  std::uint16_t size = 0;
  bool variable = false;
  ConnectionPriority priority = ConnectionPriority::scheduled;
  ConnectionType type = ConnectionType::point_to_point;
  bool redundant_owner = false;
};

// Forward Open (16 bit): size bits 0-8, variable 9, priority 10-11, type 13-14, redundant 15.
// A size above 511 needs a Large Forward Open: Errc::too_large.
pm500::expected<std::uint16_t, Error> encode_net_params(const NetworkParams& p);
NetworkParams decode_net_params(std::uint16_t bits);
// Large Forward Open (32 bit): size bits 0-15, variable 25, priority 26-27, type 29-30,
// redundant 31.
std::uint32_t encode_large_net_params(const NetworkParams& p);
NetworkParams decode_large_net_params(std::uint32_t bits);

// Transport class and trigger byte: bit 7 direction (1 = server), bits 4-6 production trigger,
// bits 0-3 transport class. A Class 1 cyclic client connection is 0x01.
enum class ProductionTrigger : std::uint8_t { cyclic = 0, change_of_state = 1, application = 2 };
struct TransportTrigger {
  bool server = false;
  ProductionTrigger trigger = ProductionTrigger::cyclic;
  std::uint8_t transport_class = 1;
};
std::uint8_t encode_transport(const TransportTrigger& t);
TransportTrigger decode_transport(std::uint8_t byte);

// Connection timeout = RPI x 4 x 2^multiplier (Vol 1, Connection Object "expected_packet_rate"
// and the Forward Open "Connection Timeout Multiplier"). Multipliers above 7 are reserved; they
// are treated as 7.
std::chrono::microseconds connection_timeout(std::uint32_t rpi_us, std::uint8_t multiplier);

// O->T RPI of a connection whose O->T direction only carries heartbeats (listen-only, input-only):
// it feeds nothing but the target's watchdog (O->T API x 4 x 2^multiplier), so it is chosen apart
// from the T->O RPI. 1 s sends one heartbeat per ten datagrams received at a T->O RPI of 100 ms;
// 1 ms .. 3.2 s is the range adapters commonly accept (cip/README.md, "O->T heartbeat RPI").
inline constexpr std::uint32_t heartbeat_rpi_default_us = 1'000'000;
inline constexpr std::uint32_t heartbeat_rpi_min_us = 1'000;
inline constexpr std::uint32_t heartbeat_rpi_max_us = 3'200'000;

// Unconnected request timeout of Forward Open/Close/Unconnected_Send (Vol 1, Connection Manager
// "Priority/Time_tick" and "Time-out_ticks"):
// 2^(priority_tick bits 0-3) ms per tick, times timeout_ticks.
std::chrono::milliseconds unconnected_timeout(std::uint8_t priority_tick, std::uint8_t timeout_ticks);
// The smallest tick time that expresses `timeout` in at most 255 ticks (rounded up).
struct Ticks {
  std::uint8_t priority_tick = 0;
  std::uint8_t timeout_ticks = 0;
};
Ticks ticks_for(std::chrono::milliseconds timeout);

}  // namespace cip
