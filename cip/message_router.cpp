#include "cip/message_router.hpp"

namespace cip {

std::uint16_t MrResponse::additional(std::size_t i) const {
  if (i >= additional_count()) return 0;
  return static_cast<std::uint16_t>(additional_status[2 * i] | (additional_status[2 * i + 1] << 8));
}

void encode_request_head(Writer& w, std::uint8_t service, std::span<const Segment> path) {
  std::size_t bytes = encoded_size(path);
  if (bytes / 2 > 0xFF) {
    w.fail(Errc::too_large, "request path");
    return;
  }
  w.u8(service);
  w.u8(static_cast<std::uint8_t>(bytes / 2));
  encode_path(w, path);
}

pm500::expected<MrRequest, Error> decode_request(bytes_view in) {
  Reader r(in, "message router request");
  MrRequest q;
  q.service = r.u8();
  if (r.ok() && (q.service & service::reply_bit) != 0) r.fail_at(Errc::bad_value, 0);
  std::uint8_t words = r.u8();
  q.path = r.bytes(2u * words);
  q.data = r.rest();
  if (!r.ok()) return r.failure();
  return q;
}

void encode_response_head(Writer& w, std::uint8_t request_service, std::uint8_t general_status,
                          std::span<const std::uint16_t> additional) {
  if (additional.size() > 0xFF) {
    w.fail(Errc::too_large, "additional status");
    return;
  }
  w.u8(static_cast<std::uint8_t>(request_service | service::reply_bit));
  w.u8(0);
  w.u8(general_status);
  w.u8(static_cast<std::uint8_t>(additional.size()));
  for (auto word : additional) w.u16(word);
}

pm500::expected<MrResponse, Error> decode_response(bytes_view in) {
  Reader r(in, "message router response");
  MrResponse p;
  p.service = r.u8();
  if (r.ok() && (p.service & service::reply_bit) == 0) r.fail_at(Errc::bad_value, 0);
  r.skip(1);  // reserved
  p.general_status = r.u8();
  std::uint8_t words = r.u8();
  p.additional_status = r.bytes(2u * words);
  p.data = r.rest();
  if (!r.ok()) return r.failure();
  return p;
}

}  // namespace cip
