// Unconnected_Send (0x52), CIP Vol 1, chapter 3, Connection Manager "Unconnected_Send" service:
// wraps a message router request so a bridge (an ENBT, a chassis) forwards it along a route of
// port segments, e.g. backplane port 1, slot 3. The meter itself needs no routing; a meter
// behind a bridge does.
//
//   data: priority/tick, timeout ticks, embedded request size (bytes), embedded request,
//         pad byte if the size is odd, route path size (words), reserved, route path
//
// A successful reply is the embedded request's own reply, unwrapped by the router.
#pragma once

#include <cstdint>

#include "cip/epath.hpp"
#include "cip/message_router.hpp"

namespace cip {

struct UnconnectedSend {
  std::uint8_t priority_tick = 0x0A;
  std::uint8_t timeout_ticks = 0x05;
  bytes_view message{};  // the embedded message router request
  Path route{};
};

struct UnconnectedSendMark {
  std::size_t size_at = 0;
};

// Writes the request head; the caller then encodes the embedded request into `w`.
UnconnectedSendMark begin_unconnected_send(Writer& w, std::uint8_t priority_tick = 0x0A,
                                           std::uint8_t timeout_ticks = 0x05);
// Patches the embedded size, pads, and writes the route.
void end_unconnected_send(Writer& w, const UnconnectedSendMark& m, std::span<const Segment> route);

pm500::expected<UnconnectedSend, Error> decode_unconnected_send(const MrRequest& req);

}  // namespace cip
