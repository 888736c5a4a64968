#include "cip/io.hpp"

#include "cip/cpf.hpp"

namespace cip {

void encode(Writer& w, const IoPacket& p) {
  encode_cpf_count(w, 2);
  w.u16(static_cast<std::uint16_t>(ItemType::sequenced_address));
  w.u16(8);
  w.u32(p.connection_id);
  w.u32(p.encap_sequence);
  auto item = begin_item(w, ItemType::connected_data);
  w.u16(p.cip_sequence);
  if (p.has_run_idle) w.u32(p.run_idle);
  w.bytes(p.data);
  end_item(w, item);
}

// Reads the two items in place rather than through decode_cpf(): this is the hot path and the
// layout is fixed. Extra items after the data (a Sockaddr Info, rarely) are checked and skipped.
namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

}  // namespace

pm500::expected<IoPacket, Error> decode_io(bytes_view datagram, bool run_idle_header) {
  // Every datagram a meter sends: exactly the two items, the data item filling the rest. Its
  // fields at fixed offsets, read without the Reader's check per field; anything else (extra
  // items, a short or malformed datagram) takes the general path below, which says what is wrong.
  const std::size_t header = run_idle_header ? 6 : 2;
  if (const std::uint8_t* b = datagram.data(); datagram.size() >= 18 + header && le16(b) == 2 &&
                                               le16(b + 2) == static_cast<std::uint16_t>(ItemType::sequenced_address) &&
                                               le16(b + 4) == 8 &&
                                               le16(b + 14) == static_cast<std::uint16_t>(ItemType::connected_data) &&
                                               le16(b + 16) == datagram.size() - 18) {
    IoPacket p;
    p.connection_id = le32(b + 6);
    p.encap_sequence = le32(b + 10);
    p.cip_sequence = le16(b + 18);
    if (run_idle_header) {
      p.has_run_idle = true;
      p.run_idle = le32(b + 20);
    }
    p.data = datagram.subspan(18 + header);
    return p;
  }
  Reader r(datagram, "class 1 datagram");
  IoPacket p;
  std::uint16_t count = r.u16();
  if (r.ok() && count < 2) r.fail_at(Errc::bad_length, 0);
  std::size_t at = r.offset();
  if (r.ok() && r.u16() != static_cast<std::uint16_t>(ItemType::sequenced_address) && r.ok()) {
    r.fail_at(Errc::unexpected_item, at);
  }
  at = r.offset();
  if (r.ok() && r.u16() != 8 && r.ok()) r.fail_at(Errc::bad_length, at);
  p.connection_id = r.u32();
  p.encap_sequence = r.u32();
  at = r.offset();
  if (r.ok() && r.u16() != static_cast<std::uint16_t>(ItemType::connected_data) && r.ok()) {
    r.fail_at(Errc::unexpected_item, at);
  }
  at = r.offset();
  std::uint16_t length = r.u16();
  if (r.ok() && length < header) r.fail_at(Errc::bad_length, at);
  p.cip_sequence = r.u16();
  if (run_idle_header) {
    p.has_run_idle = true;
    p.run_idle = r.u32();
  }
  p.data = r.bytes(r.ok() ? length - header : 0);
  for (std::uint16_t i = 2; i < count && r.ok(); ++i) {
    r.skip(2);
    r.skip(r.u16());
  }
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  return p;
}

}  // namespace cip
