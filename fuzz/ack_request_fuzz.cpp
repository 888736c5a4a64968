// The body of POST /api/acknowledge (src/status/detail/ack_request.cpp): any bytes either parse
// or yield an error text; never a crash or a read past the input (ASan). Over the size limit is
// always an error; what parses came from the input (every text member is a piece of it once
// unescaped, so a body without backslashes holds each of them verbatim) and parses the same way
// again.
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "status/detail/ack_request.hpp"

using pm500::status::detail::kMaxAckBody;
using pm500::status::detail::parse_ack_request;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto r = parse_ack_request(body);
  if (size > kMaxAckBody) FUZZ_CHECK(!r);
  if (!r) {
    FUZZ_CHECK(!r.error().empty());
    return 0;
  }
  auto again = parse_ack_request(body);
  FUZZ_CHECK(again && again->action == r->action && again->id == r->id && again->subject == r->subject &&
             again->by == r->by && again->note == r->note && again->evidence == r->evidence &&
             again->minutes == r->minutes);
  if (body.find('\\') == std::string_view::npos)
    for (const auto* s : {&r->id, &r->subject, &r->by, &r->note, &r->evidence})
      FUZZ_CHECK(s->empty() || body.find(*s) != std::string_view::npos);
  return 0;
}
