// A blocking HTTP/1.1 client for one server at a time: one connection kept alive between
// requests, TLS verified against the system store or a CA file, connect and I/O timeouts, no
// SIGPIPE. A failure comes back as a Failure kind (refused, DNS, timeout, TLS verification...)
// with the system's or OpenSSL's own words, so callers can name the cause and the fix.
// Used from one thread at a time (a sink's delivery thread, the alert sender).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pm500/expected.hpp"

namespace pm500::http {

struct Options {
  std::chrono::milliseconds timeout{10000};  // connect, and each wait for the server to send or take data
  std::string ca_file;                       // "" = the system's CA store
  bool insecure_skip_verify = false;
  std::string username, password;               // HTTP basic auth, "" = none
  std::size_t max_body = std::size_t{1} << 20;  // answer bytes kept; the rest is read and dropped
};

enum class Failure {
  bad_url,        // not http(s)://host[:port][/path]
  resolve,        // the host name does not resolve
  refused,        // nothing listens on the port (ECONNREFUSED)
  unreachable,    // no route to the host or network
  connect,        // the connection failed otherwise
  timeout,        // no connection, or no progress, within the timeout
  tls_verify,     // the server's certificate is not trusted or not for this host
  tls_handshake,  // TLS could not be set up (not TLS on that port, versions, ciphers)
  ca_file,        // ca_file cannot be loaded
  broken,         // the connection closed or failed during the request
  other,
};
std::string_view to_string(Failure f);  // "connection refused", "timeout", "TLS verification", ...

struct Error {
  Failure kind = Failure::other;
  int os_errno = 0;    // for connect failures, 0 otherwise
  std::string detail;  // e.g. "127.0.0.1:8086: Connection refused"
  std::string evidence() const { return std::string(to_string(kind)) + ": " + detail; }
};

struct Response {
  long status = 0;
  std::string body;  // at most Options::max_body bytes; reused between requests
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view header(std::string_view name) const;  // case-insensitive; "" when absent
};

class Client {
 public:
  explicit Client(Options o);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `method` with `headers` ("Name: value") and `body` to `url`. Returns the answer (any
  // status; redirects are not followed) or the transport failure.
  pm500::expected<const Response*, Error> request(std::string_view method, std::string_view url,
                                                  std::span<const std::string> headers, std::string_view body);

  std::uint64_t connections_opened() const { return connects_; }  // keep-alive check
  const Options& options() const { return opt_; }

 private:
  struct Impl;
  Options opt_;
  std::unique_ptr<Impl> impl_;
  Response resp_;
  std::uint64_t connects_ = 0;
};

}  // namespace pm500::http
