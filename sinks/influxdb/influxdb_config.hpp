// [sinks.influxdb]: the InfluxDB sink's settings, declared once in influxdb_options() (plugin.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/options.hpp"
#include "pm500/expected.hpp"
#include "sinks/influxdb/errors.hpp"

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

// Where writes go, as the error classification names it (`database "pm500"`), for `base_url`.
influx::WriteTarget write_target(const InfluxSinkConfig& c, const std::string& base_url);

// "key=value" tags, sorted by key (as the line-protocol encoder wants them).
pm500::expected<std::vector<std::pair<std::string, std::string>>, std::string> parse_tags(
    const std::vector<std::string>& tags);

}  // namespace pm500::sinks
