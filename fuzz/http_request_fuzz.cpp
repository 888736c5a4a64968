// The status server's request head parser (src/status/detail/http_request.cpp): any bytes, fed
// as the server feeds them (leading empty lines dropped, head_end() in two reads, parse_head()
// on a head of at most kMaxHead), either parse or yield 400/431/505; never a crash or a read
// past the input (ASan). What parses obeys its bounds: method, path and Authorization are taken
// from the input and hold no CR, LF or NUL, the path carries no query or fragment, at most
// kMaxHeaders fields.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "status/detail/http_request.hpp"

namespace {

using pm500::status::detail::head_end;
using pm500::status::detail::kMaxHead;
using pm500::status::detail::kMaxHeaders;
using pm500::status::detail::parse_head;
using pm500::status::detail::Request;

// Non-empty lines before the first empty one, counted independently of the parser.
std::size_t head_lines(std::string_view head) {
  std::size_t n = 0;
  while (!head.empty()) {
    std::size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    ++n;
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  return n;
}

void check_parse(std::string_view head) {
  Request r;
  const int status = parse_head(head, r);
  FUZZ_CHECK(status == 0 || status == 400 || status == 431 || status == 505);

  Request again;
  FUZZ_CHECK(parse_head(head, again) == status);  // no hidden state
  if (status != 0) return;
  FUZZ_CHECK(again.method == r.method && again.path == r.path && again.authorization == r.authorization &&
             again.keep_alive == r.keep_alive && again.has_body == r.has_body && again.gzip == r.gzip);

  FUZZ_CHECK(head_lines(head) <= kMaxHeaders + 1);
  FUZZ_CHECK(!r.method.empty() && head.starts_with(r.method));
  const std::string_view bad("\r\n\0", 3);  // never inside a parsed element
  FUZZ_CHECK(r.method.find_first_of(" \t\r\n:") == std::string::npos);
  // The path is a piece of the target, or "/" for an absolute form without one.
  FUZZ_CHECK(r.path == "/" || head.find(r.path) != std::string_view::npos);  // "" for a target "?q"
  FUZZ_CHECK(r.path.find_first_of("?#") == std::string::npos && r.path.find_first_of(bad) == std::string::npos);
  FUZZ_CHECK(r.authorization.empty() || head.find(r.authorization) != std::string_view::npos);
  FUZZ_CHECK(r.authorization.find_first_of(bad) == std::string::npos);
  FUZZ_CHECK(r.authorization.empty() || (r.authorization.front() != ' ' && r.authorization.back() != ' '));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view whole(reinterpret_cast<const char*>(data), size);

  // The parser alone, on whatever it is given (also heads without their empty line).
  check_parse(whole);

  // As the server's event loop does it.
  std::string_view in = whole;
  while (!in.empty() && (in.front() == '\r' || in.front() == '\n')) in.remove_prefix(1);

  std::size_t scanned = 0;
  const std::size_t end = head_end(in, scanned);
  if (end != std::string_view::npos) {
    FUZZ_CHECK(end >= 2 && end <= in.size());
    std::string_view tail = in.substr(0, end);
    FUZZ_CHECK(tail.ends_with("\n\n") || tail.ends_with("\n\r\n"));
    // The first empty line: no earlier one.
    std::string_view before = in.substr(0, end - (tail.ends_with("\n\n") ? 1 : 2));
    FUZZ_CHECK(before.find("\n\n") == std::string_view::npos && before.find("\n\r\n") == std::string_view::npos);
  } else {
    FUZZ_CHECK(in.find("\n\n") == std::string_view::npos && in.find("\n\r\n") == std::string_view::npos);
  }

  // Two reads: the bytes up to a split point arrive first, the rest later; resuming from
  // `scanned` must find the same end as one search over everything.
  if (!in.empty()) {
    const std::size_t split = static_cast<unsigned char>(in.back()) % (in.size() + 1);
    std::size_t resume = 0;
    const std::size_t first = head_end(in.substr(0, split), resume);
    FUZZ_CHECK(resume <= split);
    if (first != std::string_view::npos) {
      FUZZ_CHECK(first == end);
    } else {
      FUZZ_CHECK(head_end(in, resume) == end);
    }
  }

  if (end != std::string_view::npos && end <= kMaxHead) check_parse(in.substr(0, end));
  return 0;
}
