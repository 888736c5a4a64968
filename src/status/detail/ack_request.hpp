// The body of POST /api/acknowledge (docs/status-api.md) as a pure function over bytes, so the
// server and a fuzz target call the same code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pm500/expected.hpp"

namespace pm500::status {

// What an operator asks for: acknowledge or shelve an active condition, or undo either.
struct AckRequest {
  std::string action = "acknowledge";  // "acknowledge", "shelve" or "undo"
  std::string id, subject, by, note;
  std::int64_t minutes = 0;  // shelve: for how long
  std::string evidence;      // optional: the evidence the operator saw
};

namespace detail {

inline constexpr std::size_t kMaxAckBody = 4096;

// A JSON object with string members action, id, subject, by, note, evidence and the integer
// minutes; unknown members are refused, so a misspelt one is not silently ignored. The error
// names the member and what it must be.
pm500::expected<AckRequest, std::string> parse_ack_request(std::string_view body);

}  // namespace detail
}  // namespace pm500::status
