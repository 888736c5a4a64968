// Forward Open (0x54), Large Forward Open (0x5B) and Forward Close (0x4E): the Connection
// Manager services that open and close I/O connections (CIP Vol 1, chapter 3 "Connection Manager
// Object": its instance services and their responses). Requests go to the
// Connection Manager, class 0x06 instance 1, as message router requests.
//
// A failed open or close answers general status (0x01 "connection failure" and the like) with
// the extended status as first additional word -- and, for 0x0127/0x0128, the size the target
// wants as second word -- plus serial numbers and the remaining path size in the data.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "cip/connection_params.hpp"
#include "cip/epath.hpp"
#include "cip/message_router.hpp"

namespace cip {

struct ForwardOpen {
  bool large = false;                       // 0x5B: 32-bit network parameters
  std::uint8_t priority_tick = 0x0A;        // 1024 ms ticks ...
  std::uint8_t timeout_ticks = 0x05;        // ... x 5 = about 5 s to answer
  std::uint32_t o_t_connection_id = 0;      // chosen by the target; 0 in the request
  std::uint32_t t_o_connection_id = 0;      // chosen by the originator
  std::uint16_t connection_serial = 0;
  std::uint16_t originator_vendor = 0;
  std::uint32_t originator_serial = 0;
  std::uint8_t timeout_multiplier = 0;      // x4 << multiplier
  std::uint32_t o_t_rpi_us = 0;
  NetworkParams o_t_params{};
  std::uint32_t t_o_rpi_us = 0;
  NetworkParams t_o_params{};
  TransportTrigger transport{};
  Path path{};                              // connection path (see io_path.hpp)
};

struct ForwardOpenReply {
  std::uint32_t o_t_connection_id = 0;
  std::uint32_t t_o_connection_id = 0;
  std::uint16_t connection_serial = 0;
  std::uint16_t originator_vendor = 0;
  std::uint32_t originator_serial = 0;
  std::uint32_t o_t_api_us = 0;             // actual packet interval
  std::uint32_t t_o_api_us = 0;
  bytes_view application_reply{};           // even length
};

// A failed Forward Open or Forward Close.
struct ConnectionFailure {
  std::uint8_t general_status = 0x01;
  std::optional<std::uint16_t> extended_status{};
  std::optional<std::uint16_t> wanted_size{};   // with 0x0127 / 0x0128
  std::uint16_t connection_serial = 0;
  std::uint16_t originator_vendor = 0;
  std::uint32_t originator_serial = 0;
  std::optional<std::uint8_t> remaining_path_size{};  // only present for routing errors
};

struct ForwardClose {
  std::uint8_t priority_tick = 0x0A;
  std::uint8_t timeout_ticks = 0x05;
  std::uint16_t connection_serial = 0;
  std::uint16_t originator_vendor = 0;
  std::uint32_t originator_serial = 0;
  Path path{};
};

struct ForwardCloseReply {
  std::uint16_t connection_serial = 0;
  std::uint16_t originator_vendor = 0;
  std::uint32_t originator_serial = 0;
  bytes_view application_reply{};
};

// Complete message router requests (service, Connection Manager path, fields).
void encode(Writer& w, const ForwardOpen& fo);
void encode(Writer& w, const ForwardClose& fc);
// For a target: the fields of a decoded request (service 0x54, 0x5B or 0x4E).
pm500::expected<ForwardOpen, Error> decode_forward_open(const MrRequest& req);
pm500::expected<ForwardClose, Error> decode_forward_close(const MrRequest& req);

// Complete message router responses. `large` picks the reply service 0xDB over 0xD4.
void encode_forward_open_reply(Writer& w, const ForwardOpenReply& r, bool large = false);
void encode_forward_open_failure(Writer& w, const ConnectionFailure& f, bool large = false);
void encode_forward_close_reply(Writer& w, const ForwardCloseReply& r);
void encode_forward_close_failure(Writer& w, const ConnectionFailure& f);

using ForwardOpenResult = std::variant<ForwardOpenReply, ConnectionFailure>;
using ForwardCloseResult = std::variant<ForwardCloseReply, ConnectionFailure>;
// The response must answer a (Large) Forward Open / a Forward Close.
pm500::expected<ForwardOpenResult, Error> decode_forward_open_response(const MrResponse& rsp);
pm500::expected<ForwardCloseResult, Error> decode_forward_close_response(const MrResponse& rsp);

}  // namespace cip
