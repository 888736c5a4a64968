// What an InfluxDB answer means for delivery: HTTP status and body, or a transport
// failure, turned into ok / retry / reject with a reason that names the cause and the fix, and
// evidence (`HTTP 401: unauthorized access`, `connection refused: 127.0.0.1:8086: Connection refused`) for diagnosis.
//
//   204            ok
//   400            reject: bad points or a partial write; the server's message goes with them to
//                  the dead-letter file. Never retried.
//   401/403        retry slowly (config_error_retry_ms): credentials wrong or token revoked
//   404            retry slowly: the database or bucket is missing (named)
//   413            handled by the sink (it splits the batch); here only for a single point
//   429/503        retry after Retry-After (seconds or HTTP-date) when the server sent one
//   other 5xx      retry with the pipeline's backoff
//   transport      retry; resolve failure vs refused vs timeout vs TLS named apart
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "http/client.hpp"
#include "pipeline/sink.hpp"

namespace pm500::influx {

// What the classifier needs to know about the request it judges.
struct WriteTarget {
  std::string api;       // "v1" or "v2"
  std::string url;       // base URL, no credentials
  std::string database;  // v1
  std::string retention_policy;
  std::string org, bucket;  // v2
  bool has_token = false, has_password = false;
  std::chrono::milliseconds config_error_retry{30000};
  std::chrono::milliseconds timeout{10000};  // the request timeout, named when it expires
  std::string where() const;  // `database "pm500"` or `bucket "b" in org "o"`
};

struct HttpAnswer {
  long status = 0;
  std::string_view body;
  std::string_view retry_after;   // header value, "" when absent
  std::string_view influx_error;  // X-Influxdb-Error header (1.x), "" when absent
};

DeliveryResult classify_http(const HttpAnswer& a, const WriteTarget& t, std::int64_t now_unix_s);

// A transport failure: its kind (refused, DNS, timeout, TLS...) and the system's words.
using TransportFailure = http::Error;
DeliveryResult classify_transport(const TransportFailure& f, const WriteTarget& t);

}  // namespace pm500::influx
