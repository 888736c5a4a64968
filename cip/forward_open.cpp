#include "cip/forward_open.hpp"

namespace cip {
namespace {

constexpr std::uint16_t ext_invalid_o_t_size = 0x0127;
constexpr std::uint16_t ext_invalid_t_o_size = 0x0128;

void encode_cm_head(Writer& w, std::uint8_t svc) {
  auto cm = application_path(object_class::connection_manager, 1);
  encode_request_head(w, svc, cm.view());
}

// Path size in words, then (Forward Close only) a reserved byte, then the path.
void encode_sized_path(Writer& w, const Path& p, bool reserved_byte) {
  std::size_t bytes = encoded_size(p.view());
  if (bytes / 2 > 0xFF) {
    w.fail(Errc::too_large, "connection path");
    return;
  }
  w.u8(static_cast<std::uint8_t>(bytes / 2));
  if (reserved_byte) w.u8(0);
  encode_path(w, p.view());
}

bool read_sized_path(Reader& r, Path& out, bool reserved_byte) {
  std::uint8_t words = r.u8();
  if (reserved_byte) r.skip(1);
  std::size_t at = r.offset();
  auto bytes = r.bytes(2u * words);
  if (!r.ok()) return false;
  auto p = decode_path(bytes);
  if (!p) {
    r.fail_at(p.error().code, at + p.error().offset);
    return false;
  }
  out = *p;
  return true;
}

void encode_app_reply(Writer& w, bytes_view app) {
  if ((app.size() & 1) != 0 || app.size() / 2 > 0xFF) {
    w.fail(Errc::bad_value, "application reply");
    return;
  }
  w.u8(static_cast<std::uint8_t>(app.size() / 2));
  w.u8(0);
  w.bytes(app);
}

bytes_view read_app_reply(Reader& r) {
  std::uint8_t words = r.u8();
  r.skip(1);
  return r.bytes(2u * words);
}

void encode_failure(Writer& w, std::uint8_t svc, const ConnectionFailure& f) {
  std::uint16_t words[2] = {f.extended_status.value_or(0), f.wanted_size.value_or(0)};
  std::size_t n = f.extended_status ? (f.wanted_size ? 2 : 1) : 0;
  encode_response_head(w, svc, f.general_status, std::span<const std::uint16_t>(words, n));
  w.u16(f.connection_serial);
  w.u16(f.originator_vendor);
  w.u32(f.originator_serial);
  if (f.remaining_path_size) {
    w.u8(*f.remaining_path_size);
    w.u8(0);
  }
}

pm500::expected<ConnectionFailure, Error> decode_failure(const MrResponse& rsp) {
  ConnectionFailure f;
  f.general_status = rsp.general_status;
  if (rsp.additional_count() >= 1) f.extended_status = rsp.extended_status();
  if (rsp.additional_count() >= 2 &&
      (f.extended_status == ext_invalid_o_t_size || f.extended_status == ext_invalid_t_o_size)) {
    f.wanted_size = rsp.additional(1);
  }
  // Targets that reject the service outright (0x08) often send no data at all.
  if (rsp.data.empty()) return f;
  Reader r(rsp.data, "connection failure reply");
  f.connection_serial = r.u16();
  f.originator_vendor = r.u16();
  f.originator_serial = r.u32();
  if (r.remaining() >= 1) f.remaining_path_size = r.u8();
  r.skip(r.remaining() >= 1 ? 1 : 0);
  if (!r.ok()) return r.failure();
  return f;
}

}  // namespace

void encode(Writer& w, const ForwardOpen& fo) {
  encode_cm_head(w, fo.large ? service::large_forward_open : service::forward_open);
  w.u8(fo.priority_tick);
  w.u8(fo.timeout_ticks);
  w.u32(fo.o_t_connection_id);
  w.u32(fo.t_o_connection_id);
  w.u16(fo.connection_serial);
  w.u16(fo.originator_vendor);
  w.u32(fo.originator_serial);
  w.u8(fo.timeout_multiplier);
  w.zeros(3);
  for (int dir = 0; dir < 2; ++dir) {
    const NetworkParams& p = dir == 0 ? fo.o_t_params : fo.t_o_params;
    w.u32(dir == 0 ? fo.o_t_rpi_us : fo.t_o_rpi_us);
    if (fo.large) {
      w.u32(encode_large_net_params(p));
    } else if (auto bits = encode_net_params(p)) {
      w.u16(*bits);
    } else {
      w.fail(Errc::too_large, "network parameters size");
    }
  }
  w.u8(encode_transport(fo.transport));
  encode_sized_path(w, fo.path, false);
}

pm500::expected<ForwardOpen, Error> decode_forward_open(const MrRequest& req) {
  Reader r(req.data, "forward open request");
  ForwardOpen fo;
  if (req.service != service::forward_open && req.service != service::large_forward_open) {
    r.fail(Errc::bad_value);
    return r.failure();
  }
  fo.large = req.service == service::large_forward_open;
  fo.priority_tick = r.u8();
  fo.timeout_ticks = r.u8();
  fo.o_t_connection_id = r.u32();
  fo.t_o_connection_id = r.u32();
  fo.connection_serial = r.u16();
  fo.originator_vendor = r.u16();
  fo.originator_serial = r.u32();
  fo.timeout_multiplier = r.u8();
  r.skip(3);
  fo.o_t_rpi_us = r.u32();
  fo.o_t_params = fo.large ? decode_large_net_params(r.u32()) : decode_net_params(r.u16());
  fo.t_o_rpi_us = r.u32();
  fo.t_o_params = fo.large ? decode_large_net_params(r.u32()) : decode_net_params(r.u16());
  fo.transport = decode_transport(r.u8());
  read_sized_path(r, fo.path, false);
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  return fo;
}

void encode(Writer& w, const ForwardClose& fc) {
  encode_cm_head(w, service::forward_close);
  w.u8(fc.priority_tick);
  w.u8(fc.timeout_ticks);
  w.u16(fc.connection_serial);
  w.u16(fc.originator_vendor);
  w.u32(fc.originator_serial);
  encode_sized_path(w, fc.path, true);
}

pm500::expected<ForwardClose, Error> decode_forward_close(const MrRequest& req) {
  Reader r(req.data, "forward close request");
  ForwardClose fc;
  if (req.service != service::forward_close) {
    r.fail(Errc::bad_value);
    return r.failure();
  }
  fc.priority_tick = r.u8();
  fc.timeout_ticks = r.u8();
  fc.connection_serial = r.u16();
  fc.originator_vendor = r.u16();
  fc.originator_serial = r.u32();
  read_sized_path(r, fc.path, true);
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  return fc;
}

void encode_forward_open_reply(Writer& w, const ForwardOpenReply& rep, bool large) {
  encode_response_head(w, large ? service::large_forward_open : service::forward_open, 0);
  w.u32(rep.o_t_connection_id);
  w.u32(rep.t_o_connection_id);
  w.u16(rep.connection_serial);
  w.u16(rep.originator_vendor);
  w.u32(rep.originator_serial);
  w.u32(rep.o_t_api_us);
  w.u32(rep.t_o_api_us);
  encode_app_reply(w, rep.application_reply);
}

void encode_forward_open_failure(Writer& w, const ConnectionFailure& f, bool large) {
  encode_failure(w, large ? service::large_forward_open : service::forward_open, f);
}

void encode_forward_close_reply(Writer& w, const ForwardCloseReply& rep) {
  encode_response_head(w, service::forward_close, 0);
  w.u16(rep.connection_serial);
  w.u16(rep.originator_vendor);
  w.u32(rep.originator_serial);
  encode_app_reply(w, rep.application_reply);
}

void encode_forward_close_failure(Writer& w, const ConnectionFailure& f) {
  encode_failure(w, service::forward_close, f);
}

pm500::expected<ForwardOpenResult, Error> decode_forward_open_response(const MrResponse& rsp) {
  if (!rsp.answers(service::forward_open) && !rsp.answers(service::large_forward_open)) {
    return pm500::unexpected<Error>(Error{Errc::bad_value, 0, "forward open reply service"});
  }
  if (!rsp.ok()) {
    auto f = decode_failure(rsp);
    if (!f) return pm500::unexpected<Error>(f.error());
    return ForwardOpenResult{*f};
  }
  Reader r(rsp.data, "forward open reply");
  ForwardOpenReply rep;
  rep.o_t_connection_id = r.u32();
  rep.t_o_connection_id = r.u32();
  rep.connection_serial = r.u16();
  rep.originator_vendor = r.u16();
  rep.originator_serial = r.u32();
  rep.o_t_api_us = r.u32();
  rep.t_o_api_us = r.u32();
  rep.application_reply = read_app_reply(r);
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  return ForwardOpenResult{rep};
}

pm500::expected<ForwardCloseResult, Error> decode_forward_close_response(const MrResponse& rsp) {
  if (!rsp.answers(service::forward_close)) {
    return pm500::unexpected<Error>(Error{Errc::bad_value, 0, "forward close reply service"});
  }
  if (!rsp.ok()) {
    auto f = decode_failure(rsp);
    if (!f) return pm500::unexpected<Error>(f.error());
    return ForwardCloseResult{*f};
  }
  Reader r(rsp.data, "forward close reply");
  ForwardCloseReply rep;
  rep.connection_serial = r.u16();
  rep.originator_vendor = r.u16();
  rep.originator_serial = r.u32();
  rep.application_reply = read_app_reply(r);
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  return ForwardCloseResult{rep};
}

}  // namespace cip
