// SendRRData (0x6F, unconnected explicit request/reply) and SendUnitData (0x70, connected
// explicit), CIP Vol 2, 2-4 "SendRRData" / "SendUnitData": interface handle (0 = CIP), timeout, then a CPF.
//
//   SendRRData:   { null address 0x0000, unconnected data 0x00B2 (message router bytes) }
//                 [+ Sockaddr Info items 0x8000/0x8001 around a Forward Open]
//   SendUnitData: { connected address 0x00A1 (connection id),
//                   connected data 0x00B1 (16-bit sequence count, message router bytes) }
//
// Writing: begin_*() writes everything up to the message router bytes, the caller encodes the
// request (or reply) into the same Writer, end_*() patches the item and frame lengths.
#pragma once

#include <cstdint>
#include <span>

#include "cip/cpf.hpp"
#include "cip/encap.hpp"

namespace cip {

struct SendData {
  std::uint32_t interface_handle = 0;
  std::uint16_t timeout = 0;
  Cpf cpf{};
};
pm500::expected<SendData, Error> decode_send_data(bytes_view payload);

struct SendDataMark {
  std::size_t frame = 0;
  std::size_t count = 0;
  std::size_t item = 0;
};

// A Sockaddr Info item to append after the data item (a Forward Open asking for T->O data on
// a given port, or a reply naming where the target produces).
struct SockAddrItem {
  ItemType type = ItemType::sockaddr_t_o;
  SockAddr address{};
};

SendDataMark begin_send_rr_data(Writer& w, std::uint32_t session, const SenderContext& ctx = {},
                                std::uint16_t timeout = 0, std::uint32_t status = 0);
void end_send_rr_data(Writer& w, const SendDataMark& m, std::span<const SockAddrItem> extra = {});

SendDataMark begin_send_unit_data(Writer& w, std::uint32_t session, std::uint32_t connection_id,
                                  std::uint16_t sequence, const SenderContext& ctx = {});
void end_send_unit_data(Writer& w, const SendDataMark& m);

// The message router bytes of a SendRRData payload (its unconnected data item).
pm500::expected<bytes_view, Error> unconnected_message(const SendData& d);

struct ConnectedMessage {
  std::uint32_t connection_id = 0;
  std::uint16_t sequence = 0;
  bytes_view message{};
};
pm500::expected<ConnectedMessage, Error> connected_message(const SendData& d);

}  // namespace cip
