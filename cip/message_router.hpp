// Message Router request and response (CIP Vol 1, chapter 2, "Message Router
// Request/Response Formats"): the envelope of every explicit CIP request, inside the unconnected data item of
// SendRRData or the connected data item of SendUnitData.
//
//   request:  service, path size (words), padded EPATH, request data
//   response: service | 0x80, reserved 0, general status, additional status size (words),
//             additional status words, response data
#pragma once

#include <cstdint>

#include "cip/bytes.hpp"
#include "cip/epath.hpp"

namespace cip {

// CIP Vol 1, Appendix A "Explicit Messaging Services" (and Vol 1 chapter 3 for the Connection
// Manager services).
namespace service {
inline constexpr std::uint8_t get_attributes_all = 0x01;
inline constexpr std::uint8_t reset = 0x05;
inline constexpr std::uint8_t multiple_service_packet = 0x0A;
inline constexpr std::uint8_t get_attribute_single = 0x0E;
inline constexpr std::uint8_t forward_close = 0x4E;
inline constexpr std::uint8_t unconnected_send = 0x52;
inline constexpr std::uint8_t forward_open = 0x54;
inline constexpr std::uint8_t large_forward_open = 0x5B;
inline constexpr std::uint8_t reply_bit = 0x80;
}  // namespace service

// Object classes this project addresses (CIP Vol 1, chapter 5 "Object Library").
namespace object_class {
inline constexpr std::uint16_t identity = 0x01;
inline constexpr std::uint16_t message_router = 0x02;
inline constexpr std::uint16_t assembly = 0x04;
inline constexpr std::uint16_t connection_manager = 0x06;
}  // namespace object_class

struct MrRequest {
  std::uint8_t service = 0;
  bytes_view path{};   // padded EPATH bytes; decode_path() for the segments
  bytes_view data{};
};

struct MrResponse {
  std::uint8_t service = 0;            // request service | 0x80
  std::uint8_t general_status = 0;
  bytes_view additional_status{};      // raw little-endian words
  bytes_view data{};

  std::size_t additional_count() const { return additional_status.size() / 2; }
  // Additional status word i, or 0 when absent. Word 0 is the extended status.
  std::uint16_t additional(std::size_t i) const;
  std::uint16_t extended_status() const { return additional(0); }
  bool ok() const { return general_status == 0; }
  bool answers(std::uint8_t request_service) const {
    return service == (request_service | service::reply_bit);
  }
};

// Writes service, path size and path; the caller writes the request data after it.
void encode_request_head(Writer& w, std::uint8_t service, std::span<const Segment> path);
pm500::expected<MrRequest, Error> decode_request(bytes_view in);

// Writes the response header for `request_service`; the caller writes the data after it.
void encode_response_head(Writer& w, std::uint8_t request_service, std::uint8_t general_status,
                          std::span<const std::uint16_t> additional = {});
pm500::expected<MrResponse, Error> decode_response(bytes_view in);

}  // namespace cip
