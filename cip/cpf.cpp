#include "cip/cpf.hpp"

namespace cip {

const CpfItem* Cpf::find(ItemType t) const {
  for (std::size_t i = 0; i < count; ++i) {
    if (items[i].type == t) return &items[i];
  }
  return nullptr;
}

pm500::expected<Cpf, Error> decode_cpf(bytes_view in) {
  Reader r(in, "common packet format");
  Cpf cpf;
  std::uint16_t count = r.u16();
  if (r.ok() && count > cpf_max_items) {
    r.fail_at(Errc::unsupported, 0);
    return r.failure();
  }
  for (std::uint16_t i = 0; i < count && r.ok(); ++i) {
    auto type = static_cast<ItemType>(r.u16());
    std::uint16_t length = r.u16();
    auto data = r.bytes(length);
    cpf.items[i] = CpfItem{type, data};
  }
  if (!r.ok()) return r.failure();
  cpf.count = count;
  return cpf;
}

void encode_cpf_count(Writer& w, std::uint16_t count) { w.u16(count); }

void encode_item(Writer& w, ItemType type, bytes_view data) {
  if (data.size() > 0xFFFF) {
    w.fail(Errc::too_large, "cpf item length");
    return;
  }
  w.u16(static_cast<std::uint16_t>(type));
  w.u16(static_cast<std::uint16_t>(data.size()));
  w.bytes(data);
}

std::size_t begin_item(Writer& w, ItemType type) {
  std::size_t start = w.size();
  w.u16(static_cast<std::uint16_t>(type));
  w.u16(0);
  return start;
}

void end_item(Writer& w, std::size_t item_start) {
  std::size_t length = w.size() - item_start - 4;
  if (length > 0xFFFF) {
    w.fail(Errc::too_large, "cpf item length");
    return;
  }
  w.patch_u16(item_start + 2, static_cast<std::uint16_t>(length));
}

void encode(Writer& w, const SockAddr& a) {
  w.u16_be(a.family);
  w.u16_be(a.port);
  w.u32_be(a.address);
  w.zeros(8);  // sin_zero
}

pm500::expected<SockAddr, Error> decode_sockaddr(bytes_view item_data) {
  Reader r(item_data, "sockaddr info item");
  SockAddr a;
  a.family = r.u16_be();
  a.port = r.u16_be();
  a.address = r.u32_be();
  r.skip(8);
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  return a;
}

pm500::expected<SequencedAddress, Error> decode_sequenced_address(bytes_view item_data) {
  Reader r(item_data, "sequenced address item");
  SequencedAddress s;
  s.connection_id = r.u32();
  s.sequence = r.u32();
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  return s;
}

pm500::expected<std::uint32_t, Error> decode_connected_address(bytes_view item_data) {
  Reader r(item_data, "connected address item");
  std::uint32_t id = r.u32();
  if (r.ok() && !r.at_end()) r.fail(Errc::bad_length);
  if (!r.ok()) return r.failure();
  return id;
}

}  // namespace cip
