// The status server's HTTP/1.1 request head parser (RFC 9112 request line and fields): only
// what a read-only server needs. Pure functions over bytes, no sockets, so the server
// (status/server.cpp) and the libFuzzer target (fuzz/http_request_fuzz.cpp) call the same code.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pm500::status::detail {

inline constexpr std::size_t kMaxHead = 8192;  // request line and headers
inline constexpr std::size_t kMaxHeaders = 64;

struct Request {
  std::string method;
  std::string path;  // the target without query or fragment
  std::string query;  // what follows '?' up to a fragment, undecoded ("device=mcc%2D1")
  bool keep_alive = true;
  bool has_body = false;  // the connection closes after the answer; the body is never read
  bool gzip = false;
  std::string authorization;
  // For the one write (POST /api/acknowledge): the body's length and type, and where the
  // request comes from (Origin, Host, Sec-Fetch-Site) to refuse cross-origin requests.
  std::size_t content_length = 0;
  bool chunked = false;  // Transfer-Encoding: the body's length is not known up front
  std::string content_type, origin, host, fetch_site;
};

// Where the head (request line and fields) ends: just past its empty line, or npos while it is
// incomplete. `scanned` lets the next call resume instead of searching the buffer again.
std::size_t head_end(std::string_view buf, std::size_t& scanned);

// Parses a complete head (what head_end() delimits; more than kMaxHeaders fields is 431).
// Returns 0 with `r` filled in, or the status to answer (400, 431, 505) before closing.
int parse_head(std::string_view head, Request& r);

}  // namespace pm500::status::detail
