#include "cip/encap.hpp"

namespace cip {

void encode(Writer& w, const EncapHeader& h) {
  w.u16(static_cast<std::uint16_t>(h.command));
  w.u16(h.length);
  w.u32(h.session);
  w.u32(h.status);
  w.bytes(h.context);
  w.u32(h.options);
}

pm500::expected<EncapHeader, Error> decode_encap_header(bytes_view in) {
  Reader r(in, "encapsulation header");
  EncapHeader h;
  h.command = static_cast<Command>(r.u16());
  h.length = r.u16();
  h.session = r.u32();
  h.status = r.u32();
  auto ctx = r.bytes(h.context.size());
  for (std::size_t i = 0; i < ctx.size(); ++i) h.context[i] = ctx[i];
  h.options = r.u32();
  if (!r.ok()) return r.failure();
  return h;
}

std::size_t frame_size_needed(bytes_view buffered) {
  if (buffered.size() < encap_header_size) return encap_header_size;
  // Length is bytes 2..3 of the header (Vol 2, 2-3).
  return encap_header_size + static_cast<std::size_t>(buffered[2] | (buffered[3] << 8));
}

pm500::expected<Frame, Error> decode_frame(bytes_view in) {
  auto h = decode_encap_header(in);
  if (!h) return pm500::unexpected<Error>(h.error());
  if (in.size() - encap_header_size < h->length) {
    return pm500::unexpected<Error>(
        Error{Errc::truncated, static_cast<std::uint32_t>(in.size()), "encapsulation payload"});
  }
  return Frame{*h, in.subspan(encap_header_size, h->length)};
}

std::size_t begin_frame(Writer& w, const EncapHeader& h) {
  std::size_t start = w.size();
  EncapHeader copy = h;
  copy.length = 0;
  encode(w, copy);
  return start;
}

void end_frame(Writer& w, std::size_t frame_start) {
  std::size_t body = w.size() - frame_start - encap_header_size;
  if (body > 0xFFFF) {
    w.fail(Errc::too_large, "encapsulation length");
    return;
  }
  w.patch_u16(frame_start + 2, static_cast<std::uint16_t>(body));
}

void encode(Writer& w, const RegisterSession& r) {
  w.u16(r.protocol_version);
  w.u16(r.options);
}

pm500::expected<RegisterSession, Error> decode_register_session(bytes_view payload) {
  Reader r(payload, "register session");
  RegisterSession s;
  s.protocol_version = r.u16();
  s.options = r.u16();
  if (!r.ok()) return r.failure();
  return s;
}

void encode_register_session(Writer& w, const SenderContext& ctx, std::uint32_t session,
                             std::uint32_t status) {
  auto f = begin_frame(w, {.command = Command::register_session, .session = session,
                           .status = status, .context = ctx});
  encode(w, RegisterSession{});
  end_frame(w, f);
}

void encode_unregister_session(Writer& w, std::uint32_t session, const SenderContext& ctx) {
  auto f = begin_frame(w, {.command = Command::unregister_session, .session = session, .context = ctx});
  end_frame(w, f);
}

}  // namespace cip
