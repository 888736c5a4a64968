// [sinks.influxdb]: the InfluxDB sink's settings, declared once in influxdb_options() (plugin.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/options.hpp"
#include "pm500/expected.hpp"
#include "sinks/influxdb/errors.hpp"
#include "sinks/influxdb/transport.hpp"

namespace pm500::sinks {

struct InfluxSinkConfig {
  std::string url;                 // required: http(s)://host:port of the HTTP API, no path
  std::string api = "v1";          // v1: /write?db=&rp=   v2: /api/v2/write?org=&bucket=
  std::string database = "pm500";  // v1
  std::string retention_policy;    // v1; "" = the database's default policy
  std::string username;            // v1 basic auth
  std::string password;            // v1 basic auth (secret)
  std::string token;               // v2 (and v1 on 1.8+/2.x compatibility): Authorization: Token
  std::string org;                 // v2
  std::string bucket;              // v2
  std::string precision = "ns";    // ns, us, ms, s
  std::string measurement = "powermonitor_500";
  bool device_tag = true;                      // tag `device` beside `site` and `asset`
  std::vector<std::string> tags;               // constant extra tags, "key=value"
  bool sequence_field = false;                 // add the CIP sequence count as field `sequence`
  bool gzip = true;                            // Content-Encoding: gzip
  std::int64_t timeout_ms = 10000;             // per HTTP request, connect included
  std::string ca_file;                         // PEM CA bundle for https; "" = system store
  bool insecure_skip_verify = false;           // do not verify the server's certificate (warned)
  std::int64_t config_error_retry_ms = 30000;  // retry interval after 401/403/404
  std::int64_t readback_interval_s = 600;      // diagnostic read-backs; 0 = off
  std::int64_t max_series = 10000;             // more distinct series written raises high_cardinality
};

const config::Options<InfluxSinkConfig>& influxdb_options();

// Cross-key checks the options table cannot express (v2 needs org, bucket and token; tags parse;
// url scheme). Returns every problem, each naming the key and the fix; empty when valid.
std::vector<std::string> validate(const InfluxSinkConfig& c);

// How the sink and its probe (`pm500-gateway check`) reach InfluxDB, built in one place so the
// probe tries exactly what delivery will do.
struct InfluxEndpoint {
  std::string base_url;      // url without trailing slashes
  std::string write_url;     // /write (v1) or /api/v2/write (v2) with database or org and bucket, precision
  std::string auth_header;   // "Authorization: Token ..." (v2, or a 1.8 token), "" without a token
  influx::HttpOptions http;  // timeout, TLS, and HTTP basic auth for a v1 user
  influx::WriteTarget target;  // where writes go, as error texts name it (`database "pm500"`)
};
InfluxEndpoint influx_endpoint(const InfluxSinkConfig& c);

// "key=value" tags, sorted by key (as the line-protocol encoder wants them).
pm500::expected<std::vector<std::pair<std::string, std::string>>, std::string> parse_tags(
    const std::vector<std::string>& tags);

}  // namespace pm500::sinks
