// EtherNet/IP encapsulation: the 24-byte header every TCP 44818 message starts with, and the
// small fixed bodies of the session commands (CIP Vol 2, chapter 2 "Encapsulation Protocol",
// 2-3 "Encapsulation Message" and 2-4 "Command Descriptions").
//
// Framing a message: begin_frame() writes a header with length 0, the body follows, end_frame()
// patches the length. Decoding: decode_frame() on the stream buffer once frame_size_needed()
// says it is complete, then the decoder for the command on Frame::payload.
#pragma once

#include <array>
#include <cstdint>

#include "cip/bytes.hpp"

namespace cip {

// CIP Vol 2, 2-3 "Encapsulation Message", command codes.
enum class Command : std::uint16_t {
  nop = 0x0000,
  list_services = 0x0004,
  list_identity = 0x0063,
  list_interfaces = 0x0064,
  register_session = 0x0065,
  unregister_session = 0x0066,
  send_rr_data = 0x006F,
  send_unit_data = 0x0070,
};

// CIP Vol 2, 2-3 "Encapsulation Message", status codes (the header's status field).
namespace encap_status {
inline constexpr std::uint32_t success = 0x0000;
inline constexpr std::uint32_t invalid_command = 0x0001;
inline constexpr std::uint32_t insufficient_memory = 0x0002;
inline constexpr std::uint32_t incorrect_data = 0x0003;
inline constexpr std::uint32_t invalid_session = 0x0064;
inline constexpr std::uint32_t invalid_length = 0x0065;
inline constexpr std::uint32_t unsupported_protocol = 0x0069;
inline constexpr std::uint32_t service_not_allowed = 0x006A;
}  // namespace encap_status

inline constexpr std::size_t encap_header_size = 24;
inline constexpr std::uint16_t encap_protocol_version = 1;  // CIP Vol 2, RegisterSession
inline constexpr std::uint16_t tcp_port = 44818;
inline constexpr std::uint16_t udp_io_port = 2222;

using SenderContext = std::array<std::uint8_t, 8>;

struct EncapHeader {
  Command command = Command::nop;
  std::uint16_t length = 0;        // bytes after the header
  std::uint32_t session = 0;
  std::uint32_t status = 0;
  SenderContext context{};         // echoed back unchanged by the target
  std::uint32_t options = 0;       // must be 0 (Vol 2, 2-3)
};

struct Frame {
  EncapHeader header{};
  bytes_view payload{};            // exactly header.length bytes
};

void encode(Writer& w, const EncapHeader& h);
pm500::expected<EncapHeader, Error> decode_encap_header(bytes_view in);

// Bytes the frame at the start of `buffered` needs in total: encap_header_size until the header
// is in, then 24 + length. A TCP reader keeps reading until it has that many.
std::size_t frame_size_needed(bytes_view buffered);
// The first frame in `in`; extra bytes after it are left for the next call.
pm500::expected<Frame, Error> decode_frame(bytes_view in);

// Starts a frame (header with length 0); returns the position end_frame() needs.
std::size_t begin_frame(Writer& w, const EncapHeader& h);
// Patches the header's length to cover everything written since begin_frame().
void end_frame(Writer& w, std::size_t frame_start);

// RegisterSession body (Vol 2, 2-4 "RegisterSession"): protocol version 1, options 0. The reply
// carries the same body and the new session handle in the header.
struct RegisterSession {
  std::uint16_t protocol_version = encap_protocol_version;
  std::uint16_t options = 0;
};
void encode(Writer& w, const RegisterSession& r);
pm500::expected<RegisterSession, Error> decode_register_session(bytes_view payload);

// Complete frames for the session commands.
void encode_register_session(Writer& w, const SenderContext& ctx, std::uint32_t session = 0,
                             std::uint32_t status = 0);
void encode_unregister_session(Writer& w, std::uint32_t session, const SenderContext& ctx = {});

}  // namespace cip
