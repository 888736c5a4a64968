#include "cip/send_data.hpp"

namespace cip {

pm500::expected<SendData, Error> decode_send_data(bytes_view payload) {
  Reader r(payload, "send data");
  SendData d;
  d.interface_handle = r.u32();
  d.timeout = r.u16();
  if (!r.ok()) return r.failure();
  auto cpf = decode_cpf(r.rest());
  if (!cpf) return pm500::unexpected<Error>(cpf.error());
  d.cpf = *cpf;
  return d;
}

SendDataMark begin_send_rr_data(Writer& w, std::uint32_t session, const SenderContext& ctx,
                                std::uint16_t timeout, std::uint32_t status) {
  SendDataMark m;
  m.frame = begin_frame(w, {.command = Command::send_rr_data, .session = session, .status = status,
                            .context = ctx});
  w.u32(0);  // interface handle: CIP
  w.u16(timeout);
  m.count = w.size();
  encode_cpf_count(w, 2);
  encode_item(w, ItemType::null_address, {});
  m.item = begin_item(w, ItemType::unconnected_data);
  return m;
}

void end_send_rr_data(Writer& w, const SendDataMark& m, std::span<const SockAddrItem> extra) {
  end_item(w, m.item);
  for (const auto& x : extra) {
    auto it = begin_item(w, x.type);
    encode(w, x.address);
    end_item(w, it);
  }
  w.patch_u16(m.count, static_cast<std::uint16_t>(2 + extra.size()));
  end_frame(w, m.frame);
}

SendDataMark begin_send_unit_data(Writer& w, std::uint32_t session, std::uint32_t connection_id,
                                  std::uint16_t sequence, const SenderContext& ctx) {
  SendDataMark m;
  m.frame = begin_frame(w, {.command = Command::send_unit_data, .session = session, .context = ctx});
  w.u32(0);
  w.u16(0);  // timeout: unused for connected data (Vol 2, SendUnitData)
  m.count = w.size();
  encode_cpf_count(w, 2);
  auto a = begin_item(w, ItemType::connected_address);
  w.u32(connection_id);
  end_item(w, a);
  m.item = begin_item(w, ItemType::connected_data);
  w.u16(sequence);
  return m;
}

void end_send_unit_data(Writer& w, const SendDataMark& m) {
  end_item(w, m.item);
  end_frame(w, m.frame);
}

pm500::expected<bytes_view, Error> unconnected_message(const SendData& d) {
  const CpfItem* item = d.cpf.find(ItemType::unconnected_data);
  if (item == nullptr) return pm500::unexpected<Error>(Error{Errc::unexpected_item, 0, "send rr data"});
  return item->data;
}

pm500::expected<ConnectedMessage, Error> connected_message(const SendData& d) {
  const CpfItem* addr = d.cpf.find(ItemType::connected_address);
  const CpfItem* data = d.cpf.find(ItemType::connected_data);
  if (addr == nullptr || data == nullptr) {
    return pm500::unexpected<Error>(Error{Errc::unexpected_item, 0, "send unit data"});
  }
  auto id = decode_connected_address(addr->data);
  if (!id) return pm500::unexpected<Error>(id.error());
  Reader r(data->data, "connected data item");
  ConnectedMessage m;
  m.connection_id = *id;
  m.sequence = r.u16();
  m.message = r.rest();
  if (!r.ok()) return r.failure();
  return m;
}

}  // namespace cip
