#include "cip/error.hpp"

namespace cip {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::truncated: return "truncated";
    case Errc::bad_length: return "bad length";
    case Errc::bad_value: return "bad value";
    case Errc::unexpected_item: return "unexpected item";
    case Errc::unsupported: return "unsupported";
    case Errc::too_large: return "value too large";
    case Errc::buffer_too_small: return "output buffer too small";
  }
  return "unknown error";
}

std::string to_string(const Error& e) {
  std::string s = to_string(e.code);
  s += " at byte ";
  s += std::to_string(e.offset);
  if (e.context != nullptr && *e.context != '\0') {
    s += " of ";
    s += e.context;
  }
  return s;
}

}  // namespace cip
