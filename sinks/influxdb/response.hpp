// Pure parsers for what an InfluxDB server answers: the JSON error body and Retry-After.
// No network, no HTTP client: the fuzz target (fuzz/influxdb_response_fuzz.cpp) links only this file
// and simdjson. Malformed input is an empty result, never an exception or a crash.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pm500::influx {

// The longest wait a server may ask for; a larger Retry-After is clamped to it, so a bogus
// header cannot park the sink for days (the spool keeps the samples meanwhile).
inline constexpr std::chrono::seconds kMaxRetryAfter{3600};

// Retry-After (RFC 9110 section 10.2.3): delay-seconds, or an HTTP-date (IMF-fixdate, or the
// obsolete RFC 850 and asctime forms). `now_unix_s` is the current time for dates. Returns the
// wait (0 for a date in the past, at most kMaxRetryAfter), or nullopt when the value is malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::int64_t now_unix_s);

// An HTTP-date as seconds since the epoch (UTC), or nullopt.
std::optional<std::int64_t> parse_http_date(std::string_view value);

// InfluxDB's error body: 1.x answers {"error":"..."}, 2.x {"code":"...","message":"..."}
// (partial writes add "line" or "err" in some versions). `message` is empty when the body is
// not such JSON; `raw` then carries the body's printable text, shortened.
struct ErrorBody {
  std::string code;     // 2.x "code", e.g. "unauthorized", "not found", "invalid"
  std::string message;  // 1.x "error" or 2.x "message"
  std::string raw;      // printable prefix of a body that was not InfluxDB JSON
  // The server's own words for humans: message, else raw, else "".
  std::string text() const { return message.empty() ? raw : message; }
};
ErrorBody parse_error_body(std::string_view body);

// Read-back answers (see readback.hpp). Each returns nullopt when the answer is not what the
// server should send (then nothing is concluded), with `error` set when the server said why.
//
// InfluxQL (v1 /query) JSON: does the first statement's result have at least one row?
std::optional<bool> v1_query_has_rows(std::string_view body, std::string* error = nullptr);
// SHOW RETENTION POLICIES: the duration of policy `name` ("" = the default policy), e.g. "0s".
struct RetentionPolicy {
  std::string name;
  std::string duration;  // InfluxQL duration text; "0s" = infinite
  bool infinite() const { return duration == "0s" || duration == "0"; }
};
std::optional<RetentionPolicy> v1_retention_policy(std::string_view body, std::string_view name,
                                                   std::string* error = nullptr);
// /api/v2/buckets JSON: the expire rule of bucket `name` in seconds (0 = infinite).
std::optional<std::int64_t> v2_bucket_retention_s(std::string_view body, std::string_view name);
// Flux annotated CSV: true when it carries at least one data row.
bool v2_csv_has_rows(std::string_view body);

// Up to `max` bytes of `s` with control characters replaced by spaces (for logs and evidence).
std::string printable(std::string_view s, std::size_t max = 300);

}  // namespace pm500::influx
