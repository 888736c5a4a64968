#include "cip/connection_params.hpp"

#include <algorithm>

namespace cip {
namespace {

std::uint32_t common_bits(const NetworkParams& p) {
  // The same four fields, relative to the fixed/variable bit.
  return (p.variable ? 1u : 0u) | (static_cast<std::uint32_t>(p.priority) & 3u) << 1 |
         (static_cast<std::uint32_t>(p.type) & 3u) << 4 | (p.redundant_owner ? 1u : 0u) << 6;
}

NetworkParams from_common(std::uint32_t bits, std::uint16_t size) {
  NetworkParams p;
  p.size = size;
  p.variable = (bits & 1u) != 0;
  p.priority = static_cast<ConnectionPriority>((bits >> 1) & 3u);
  p.type = static_cast<ConnectionType>((bits >> 4) & 3u);
  p.redundant_owner = ((bits >> 6) & 1u) != 0;
  return p;
}

}  // namespace

pm500::expected<std::uint16_t, Error> encode_net_params(const NetworkParams& p) {
  if (p.size > 0x1FF) return pm500::unexpected<Error>(Error{Errc::too_large, 0, "network parameters size"});
  return static_cast<std::uint16_t>(p.size | common_bits(p) << 9);
}

NetworkParams decode_net_params(std::uint16_t bits) {
  return from_common(static_cast<std::uint32_t>(bits) >> 9, static_cast<std::uint16_t>(bits & 0x1FF));
}

std::uint32_t encode_large_net_params(const NetworkParams& p) { return p.size | common_bits(p) << 25; }

NetworkParams decode_large_net_params(std::uint32_t bits) {
  return from_common(bits >> 25, static_cast<std::uint16_t>(bits & 0xFFFF));
}

std::uint8_t encode_transport(const TransportTrigger& t) {
  return static_cast<std::uint8_t>((t.server ? 0x80 : 0) | (static_cast<std::uint8_t>(t.trigger) & 7) << 4 |
                                   (t.transport_class & 0x0F));
}

TransportTrigger decode_transport(std::uint8_t byte) {
  TransportTrigger t;
  t.server = (byte & 0x80) != 0;
  t.trigger = static_cast<ProductionTrigger>((byte >> 4) & 7);
  t.transport_class = byte & 0x0F;
  return t;
}

std::chrono::microseconds connection_timeout(std::uint32_t rpi_us, std::uint8_t multiplier) {
  std::uint64_t m = std::min<std::uint8_t>(multiplier, 7);
  return std::chrono::microseconds(static_cast<std::int64_t>(std::uint64_t{rpi_us} * 4u << m));
}

std::chrono::milliseconds unconnected_timeout(std::uint8_t priority_tick, std::uint8_t timeout_ticks) {
  std::int64_t tick_ms = std::int64_t{1} << (priority_tick & 0x0F);
  return std::chrono::milliseconds(tick_ms * timeout_ticks);
}

Ticks ticks_for(std::chrono::milliseconds timeout) {
  std::int64_t ms = std::max<std::int64_t>(timeout.count(), 1);
  for (std::uint8_t tick = 0; tick < 16; ++tick) {
    std::int64_t per = std::int64_t{1} << tick;
    std::int64_t n = (ms + per - 1) / per;
    if (n <= 255) return Ticks{tick, static_cast<std::uint8_t>(n)};
  }
  return Ticks{15, 255};
}

}  // namespace cip
