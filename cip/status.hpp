// Names and one-line meanings of every status a scanner meets, so that logs, the status page
// and the troubleshooting matrix say the same thing:
//   - encapsulation status (CIP Vol 2, 2-3 "Encapsulation Message", status codes),
//   - CIP general status 0x00..0x2A (CIP Vol 1, Appendix B "Status Codes"),
//   - Connection Manager extended status, i.e. the extended status under general 0x01
//     (CIP Vol 1, chapter 3, Connection Manager "Connection Manager Service Request
//     Error Codes").
// Unknown codes yield "unknown"/"" rather than failing: a device may be newer than this table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cip {

struct StatusText {
  std::string_view name{};     // short, lower case: "connection failure"
  std::string_view meaning{};  // one line: what it means for the originator
};

// nullopt for a code not in the tables.
std::optional<StatusText> encap_status_info(std::uint32_t status);
std::optional<StatusText> general_status_info(std::uint8_t status);
std::optional<StatusText> extended_status_info(std::uint16_t status);

// Name, or "unknown" (encapsulation: "unknown encapsulation status" etc.).
std::string_view encap_status_name(std::uint32_t status);
std::string_view general_status_name(std::uint8_t status);
std::string_view extended_status_name(std::uint16_t status);
// Meaning, or "" for an unknown code.
std::string_view encap_status_text(std::uint32_t status);
std::string_view general_status_text(std::uint8_t status);
std::string_view extended_status_text(std::uint16_t status);

// "0x01/0x0119 non-listen-only connection not opened", "0x08 service not supported",
// "0x05/0x0000 path destination unknown" (an extended status under another general status is
// object specific: only the general status is named then).
std::string describe_failure(std::uint8_t general, std::optional<std::uint16_t> extended = std::nullopt);
// "0x0064 invalid session handle"
std::string describe_encap_status(std::uint32_t status);

}  // namespace cip
