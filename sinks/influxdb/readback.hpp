// Read-backs for diagnosis, run by the sink on its delivery thread at a low rate (after the first
// successful write, then every readback_interval_s), one request per delivery so a delivery is
// never held up by more than one request timeout:
//   visible    the last point written is found again by measurement, tags and time
//              (v1 /query InfluxQL, v2 /api/v2/query Flux)          -> historian.empty_panels
//   retention  the database's retention policy or the bucket's expire rule
//              (v1 SHOW RETENTION POLICIES, v2 /api/v2/buckets)       -> historian.retention_disabled
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/catalog.hpp"
#include "sinks/influxdb/influxdb_config.hpp"
#include "sinks/influxdb/transport.hpp"

namespace pm500::influx {

struct Finding {
  enum State { fine, problem, unknown } state = unknown;
  std::string evidence;  // what was asked and found (or why nothing could be concluded)
};

// The tag set and time of a written point, as the query must match it.
struct PointKey {
  std::vector<std::pair<std::string, std::string>> tags;  // non-empty values only
  std::int64_t time_ns = 0;                               // after truncation to the write precision
};

class ReadBack {
 public:
  // `auth_header` is "Authorization: Token ..." or "" (basic auth lives in the HttpClient).
  ReadBack(const sinks::InfluxSinkConfig& cfg, std::string base_url, HttpClient& http, std::string auth_header);

  Finding visible(const PointKey& p);
  Finding retention();

  // The queries as text, for tests and evidence.
  std::string influxql_visible(const PointKey& p) const;
  std::string flux_visible(const PointKey& p) const;

 private:
  Finding fail_request(const char* what, const pm500::expected<const HttpResponse*, TransportFailure>& r);

  const sinks::InfluxSinkConfig& cfg_;
  std::string base_;
  HttpClient& http_;
  std::vector<std::string> headers_;
};

}  // namespace pm500::influx
