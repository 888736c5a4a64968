// Common Packet Format (CIP Vol 2, 2-6 "Common Packet Format"): an item count followed by
// typed, length-prefixed items. It carries the addressing and data of SendRRData,
// SendUnitData, ListIdentity/ListServices replies and Class 1 UDP datagrams.
//
// Decoding fills a fixed-size table of views into the input, so it never allocates.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "cip/bytes.hpp"

namespace cip {

// CIP Vol 2, "Common Packet Format", item ID numbers.
enum class ItemType : std::uint16_t {
  null_address = 0x0000,
  list_identity = 0x000C,
  connected_address = 0x00A1,
  connected_data = 0x00B1,
  unconnected_data = 0x00B2,
  list_services = 0x0100,
  sockaddr_o_t = 0x8000,
  sockaddr_t_o = 0x8001,
  sequenced_address = 0x8002,
};

struct CpfItem {
  ItemType type = ItemType::null_address;
  bytes_view data{};
};

// More items than this is not a message this gateway exchanges (a Forward Open reply has at
// most address, data and two Sockaddr items).
inline constexpr std::size_t cpf_max_items = 8;

struct Cpf {
  std::array<CpfItem, cpf_max_items> items{};
  std::size_t count = 0;

  // First item of that type, or nullptr.
  const CpfItem* find(ItemType t) const;
};

pm500::expected<Cpf, Error> decode_cpf(bytes_view in);

void encode_cpf_count(Writer& w, std::uint16_t count);
void encode_item(Writer& w, ItemType type, bytes_view data);
// For items whose length is known only after writing them: begin_item returns the position
// end_item patches.
std::size_t begin_item(Writer& w, ItemType type);
void end_item(Writer& w, std::size_t item_start);

// Sockaddr Info item body (Vol 2, CPF "Sockaddr Info Items"): a struct sockaddr_in, big-endian, 16 bytes.
struct SockAddr {
  std::uint16_t family = 2;  // AF_INET
  std::uint16_t port = 0;
  std::uint32_t address = 0; // host order: 127.0.0.1 is 0x7F000001
};
inline constexpr std::size_t sockaddr_size = 16;
void encode(Writer& w, const SockAddr& a);
pm500::expected<SockAddr, Error> decode_sockaddr(bytes_view item_data);

// Sequenced address item body (Vol 2, CPF "Sequenced Address Item"): connection id and
// encapsulation sequence number.
struct SequencedAddress {
  std::uint32_t connection_id = 0;
  std::uint32_t sequence = 0;
};
pm500::expected<SequencedAddress, Error> decode_sequenced_address(bytes_view item_data);
// Connected address item body (Vol 2, CPF "Connected Address Item"): the connection id alone.
pm500::expected<std::uint32_t, Error> decode_connected_address(bytes_view item_data);

}  // namespace cip
