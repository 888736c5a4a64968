// HTTP transport for the InfluxDB sink: one http::Client reused for every request, so the TCP
// (and TLS) connection is kept alive between batches; gzip with one reused zlib stream.
// Blocking; used only from the sink's delivery thread. Credentials go into headers or the
// client's basic auth, never into URLs, so nothing that is logged carries a secret.
#pragma once

#include <string>
#include <string_view>

#include "http/client.hpp"
#include "sinks/influxdb/errors.hpp"

namespace pm500::influx {

// The gateway's HTTP client (src/http): one kept-alive connection, TLS, timeouts.
using HttpOptions = http::Options;
using HttpClient = http::Client;
using HttpResponse = http::Response;

// What classify_http needs from an answer: status, body, Retry-After and X-Influxdb-Error.
HttpAnswer answer_of(const HttpResponse& r);

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
