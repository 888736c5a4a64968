// Identity: who a device says it is, from a ListIdentity reply (CIP Vol 2, 2-4 "ListIdentity",
// the CIP Identity item 0x000C) or from Get_Attributes_All on the Identity object (class 0x01,
// instance 1; CIP Vol 1, chapter 5 "Identity Object", attributes 1..7). The scanner compares it with
// what it expects (vendor, device type, product code) so a wrong IP address is caught early.
// Also ListServices (Vol 2, 2-4), whose reply says whether the target does Class 0/1 over UDP.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "cip/bytes.hpp"
#include "cip/cpf.hpp"
#include "cip/encap.hpp"

namespace cip {

// Identity object attributes 1..7, in their wire order.
struct IdentityInfo {
  std::uint16_t vendor = 0;
  std::uint16_t device_type = 0;
  std::uint16_t product_code = 0;
  std::uint8_t revision_major = 0;
  std::uint8_t revision_minor = 0;
  std::uint16_t status = 0;
  std::uint32_t serial = 0;
  std::string_view product_name{};  // SHORT_STRING: a view into the decoded bytes
};

// The body of a CIP Identity item 0x000C in a ListIdentity reply (Vol 2, ListIdentity "CIP Identity Item").
struct ListIdentityItem {
  std::uint16_t protocol_version = encap_protocol_version;
  SockAddr address{};             // where the target accepts TCP 44818
  IdentityInfo identity{};
  std::uint8_t state = 0;         // Identity attribute 8
};

void encode(Writer& w, const IdentityInfo& id);
// Get_Attributes_All reply data of Identity instance 1; attributes after 7 are ignored.
pm500::expected<IdentityInfo, Error> decode_identity_info(bytes_view data);

void encode(Writer& w, const ListIdentityItem& item);
pm500::expected<ListIdentityItem, Error> decode_list_identity_item(bytes_view item_data);

// Complete frames. The request has no body; the reply holds a CPF with one identity item.
void encode_list_identity_request(Writer& w, const SenderContext& ctx = {});
void encode_list_identity_reply(Writer& w, const SenderContext& ctx, const ListIdentityItem& item);
// The first identity item of a ListIdentity reply payload.
pm500::expected<ListIdentityItem, Error> decode_list_identity_reply(bytes_view payload);

// ListServices reply item 0x0100 (Vol 2, ListServices "Communications" item).
struct ServiceInfo {
  std::uint16_t version = 1;
  std::uint16_t capabilities = 0;
  std::array<char, 16> name{};    // NUL-padded, "Communications"
};
namespace capability {
inline constexpr std::uint16_t cip_over_tcp = 1u << 5;
inline constexpr std::uint16_t class01_over_udp = 1u << 8;
}  // namespace capability
ServiceInfo communications_service();
void encode_list_services_request(Writer& w, const SenderContext& ctx = {});
void encode_list_services_reply(Writer& w, const SenderContext& ctx, const ServiceInfo& s);
pm500::expected<ServiceInfo, Error> decode_list_services_reply(bytes_view payload);

}  // namespace cip
