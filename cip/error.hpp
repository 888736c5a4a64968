// cip::Error -- what every decoder returns when the bytes are not a valid message, and what a
// Writer records when an encoding does not fit. A plain value: no allocation, no exception, so
// the Class 1 receive path can fail cheaply on a hostile datagram.
#pragma once

#include <cstdint>
#include <string>

namespace cip {

enum class Errc : std::uint8_t {
  truncated,         // the input ended inside a field
  bad_length,        // a length or count field disagrees with the bytes that follow
  bad_value,         // a field holds a value this message cannot carry (reserved, wrong type)
  unexpected_item,   // a Common Packet Format item of another type than the message needs
  unsupported,       // well-formed, but a construct this codec does not handle
  too_large,         // encode: a value does not fit its wire field
  buffer_too_small,  // encode: the caller's output buffer is full
};

struct Error {
  Errc code = Errc::truncated;
  std::uint32_t offset = 0;       // byte offset inside the structure being decoded or encoded
  const char* context = "";       // static text naming that structure ("forward open reply")
};

const char* to_string(Errc code);
// "truncated at byte 12 of forward open reply"
std::string to_string(const Error& e);

}  // namespace cip
