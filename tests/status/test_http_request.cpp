// The status server's request head parser as a pure function: what it accepts, what it answers
// 400/431/505 to, and that a head split over several reads is found where one read finds it.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "status/detail/http_request.hpp"

using pm500::status::detail::head_end;
using pm500::status::detail::kMaxHeaders;
using pm500::status::detail::parse_head;
using pm500::status::detail::Request;
using namespace std::literals;

namespace {

int parse(std::string_view head, Request& r) { return parse_head(head, r); }

int parse(std::string_view head) {
  Request r;
  return parse_head(head, r);
}

}  // namespace

TEST_CASE("http request: a plain GET with its fields") {
  Request r;
  REQUIRE(parse("GET /api/status?x=1 HTTP/1.1\r\nHost: a\r\nAccept-Encoding: br, gzip;q=0.5\r\n"
                "Authorization: Bearer t0k\r\n\r\n",
                r) == 0);
  CHECK(r.method == "GET");
  CHECK(r.path == "/api/status");
  CHECK(r.keep_alive);
  CHECK(r.gzip);
  CHECK_FALSE(r.has_body);
  CHECK(r.authorization == "Bearer t0k");

  Request old;
  REQUIRE(parse("HEAD http://gw:8080/metrics HTTP/1.0\r\nAccept-Encoding: gzip;q=0\r\n\r\n", old) == 0);
  CHECK(old.path == "/metrics");
  CHECK_FALSE(old.keep_alive);
  CHECK_FALSE(old.gzip);  // q=0 refuses it
}

TEST_CASE("http request: a bare CR or a NUL anywhere in the head is 400, never kept in a value") {
  CHECK(parse("GET /x\r HTTP/1.1\r\n\r\n") == 400);
  CHECK(parse("GET /x HTTP/1.1\r\nAuthorization: Bearer a\rb\r\n\r\n") == 400);
  CHECK(parse("GET /x HTTP/1.1\r\nAuthorization: Bearer a\0b\r\n\r\n"sv) == 400);
  CHECK(parse("GET /a\0b HTTP/1.1\r\n\r\n"sv) == 400);
  // The same heads without the stray byte are fine.
  CHECK(parse("GET /x HTTP/1.1\r\nAuthorization: Bearer ab\r\n\r\n") == 0);
}

TEST_CASE("http request: malformed heads, versions and field counts") {
  CHECK(parse("GET  /x HTTP/1.1\r\n\r\n") == 400);              // two spaces
  CHECK(parse("G(T /x HTTP/1.1\r\n\r\n") == 400);               // method not a token
  CHECK(parse("GET /x HTTP/2.0\r\n\r\n") == 505);
  CHECK(parse("GET /x SPDY/3\r\n\r\n") == 400);
  CHECK(parse("GET /x HTTP/1.1\r\n folded: no\r\n\r\n") == 400);  // obsolete line folding
  CHECK(parse("GET /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n") == 400);
  Request body;
  REQUIRE(parse("POST /x HTTP/1.1\r\nContent-Length: 12\r\n\r\n", body) == 0);
  CHECK(body.has_body);

  std::string many = "GET /x HTTP/1.1\r\n";
  for (std::size_t i = 0; i < kMaxHeaders; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(parse(many + "\r\n") == 0);
  CHECK(parse(many + "X-last: v\r\n\r\n") == 431);
}

TEST_CASE("http request: the end of the head is found the same in one read and byte by byte") {
  const std::string head = "GET /health/live HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string buf = head + "GET /next HTTP/1.1\r\n";  // a pipelined request behind it
  std::size_t scanned = 0;
  CHECK(head_end(buf, scanned) == head.size());
  std::size_t found = std::string::npos;
  scanned = 0;
  for (std::size_t n = 1; n <= buf.size() && found == std::string::npos; ++n)
    found = head_end(std::string_view(buf).substr(0, n), scanned);
  CHECK(found == head.size());
  scanned = 0;
  CHECK(head_end("GET / HTTP/1.1\r\nHost: a\r\n", scanned) == std::string::npos);  // incomplete
  scanned = 0;
  CHECK(head_end("GET / HTTP/1.1\nHost: a\n\n", scanned) == 24);  // bare LF line ends
}
