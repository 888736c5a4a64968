// HTTP transport for the InfluxDB sink: one libcurl easy handle reused for every request, so the
// TCP (and TLS) connection is kept alive between batches; gzip with one reused zlib stream.
// Blocking; used only from the sink's delivery thread. Credentials go into headers or curl's
// auth options, never into URLs, so nothing that is logged carries a secret.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pm500/expected.hpp"
#include "sinks/influxdb/errors.hpp"

typedef void CURL;  // NOLINT: curl's own typedef (curl/curl.h), kept out of this header
struct curl_slist;

namespace pm500::influx {

struct HttpOptions {
  std::chrono::milliseconds timeout{10000};  // whole request, connect included
  std::string ca_file;                       // "" = the system's CA store
  bool insecure_skip_verify = false;
  std::string username, password;  // HTTP basic auth (v1), "" = none
};

struct HttpResponse {
  long status = 0;
  std::string body;          // reused between requests
  std::string retry_after;   // Retry-After header value
  std::string influx_error;  // X-Influxdb-Error header value (1.x)
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions o);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` (GET or POST) with `headers` ("Name: value") and `body`. Returns the answer
  // (any status) or the transport failure.
  pm500::expected<const HttpResponse*, TransportFailure> request(const char* method, const std::string& url,
                                                                 std::span<const std::string> headers,
                                                                 std::string_view body);

  std::uint64_t connections_opened() const;  // TCP connects so far (keep-alive check)

 private:
  static std::size_t on_body(char* p, std::size_t size, std::size_t n, void* self);
  static std::size_t on_header(char* p, std::size_t size, std::size_t n, void* self);

  HttpOptions opt_;
  CURL* curl_ = nullptr;
  char errbuf_[256] = {};
  HttpResponse resp_;
  std::uint64_t connects_ = 0;
};

// gzip (RFC 1952) with one deflate stream reused for every body (deflateReset, no re-allocation).
class Gzip {
 public:
  explicit Gzip(int level = 1);
  ~Gzip();
  Gzip(const Gzip&) = delete;
  Gzip& operator=(const Gzip&) = delete;
  // Compresses `in` into `out` (replacing its content). False only on a zlib failure.
  bool compress(std::string_view in, std::string& out);

 private:
  struct Stream;
  Stream* z_;
};

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view s);

}  // namespace pm500::influx
