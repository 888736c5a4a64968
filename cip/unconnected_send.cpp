#include "cip/unconnected_send.hpp"

namespace cip {

UnconnectedSendMark begin_unconnected_send(Writer& w, std::uint8_t priority_tick,
                                           std::uint8_t timeout_ticks) {
  auto cm = application_path(object_class::connection_manager, 1);
  encode_request_head(w, service::unconnected_send, cm.view());
  w.u8(priority_tick);
  w.u8(timeout_ticks);
  UnconnectedSendMark m{w.size()};
  w.u16(0);
  return m;
}

void end_unconnected_send(Writer& w, const UnconnectedSendMark& m, std::span<const Segment> route) {
  std::size_t embedded = w.size() - m.size_at - 2;
  if (embedded > 0xFFFF) {
    w.fail(Errc::too_large, "unconnected send message");
    return;
  }
  w.patch_u16(m.size_at, static_cast<std::uint16_t>(embedded));
  if (embedded & 1) w.u8(0);
  std::size_t route_bytes = encoded_size(route);
  if (route_bytes / 2 > 0xFF) {
    w.fail(Errc::too_large, "route path");
    return;
  }
  w.u8(static_cast<std::uint8_t>(route_bytes / 2));
  w.u8(0);
  encode_path(w, route);
}

pm500::expected<UnconnectedSend, Error> decode_unconnected_send(const MrRequest& req) {
  Reader r(req.data, "unconnected send");
  UnconnectedSend u;
  if (req.service != service::unconnected_send) {
    r.fail(Errc::bad_value);
    return r.failure();
  }
  u.priority_tick = r.u8();
  u.timeout_ticks = r.u8();
  std::uint16_t size = r.u16();
  u.message = r.bytes(size);
  if (size & 1) r.skip(1);
  std::uint8_t words = r.u8();
  r.skip(1);
  std::size_t at = r.offset();
  auto route = r.bytes(2u * words);
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  auto p = decode_path(route);
  if (!p) {
    return pm500::unexpected<Error>(Error{p.error().code, static_cast<std::uint32_t>(at + p.error().offset),
                                          "unconnected send route"});
  }
  u.route = *p;
  return u;
}

}  // namespace cip
