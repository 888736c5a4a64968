// Get_Attribute_Single (0x0E) and Get_Attributes_All (0x01), CIP Vol 1, Appendix A "Explicit
// Messaging Services": requests carry only a path; a reply carries the attribute bytes as its
// response data.
#pragma once

#include <cstdint>

#include "cip/message_router.hpp"

namespace cip {

// Complete message router requests.
void encode_get_attribute_single(Writer& w, std::uint32_t class_id, std::uint32_t instance,
                                 std::uint32_t attribute);
void encode_get_attributes_all(Writer& w, std::uint32_t class_id, std::uint32_t instance);

// A success reply with `value` as its data (status replies: encode_response_head alone).
void encode_attribute_reply(Writer& w, std::uint8_t request_service, bytes_view value);

// Decodes a reply and checks it answers `request_service`; the caller checks general_status.
pm500::expected<MrResponse, Error> decode_attribute_reply(bytes_view in, std::uint8_t request_service);

// For a target: which class/instance/attribute a request addresses (attribute 0 = none).
struct AttributeAddress {
  std::uint32_t class_id = 0;
  std::uint32_t instance = 0;
  std::uint32_t attribute = 0;
};
pm500::expected<AttributeAddress, Error> decode_attribute_address(bytes_view path);

}  // namespace cip
