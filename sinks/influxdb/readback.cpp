#include "sinks/influxdb/readback.hpp"

#include "sinks/influxdb/response.hpp"

namespace pm500::influx {
namespace {

// InfluxQL: "identifier" and 'string literal', each escaping its quote and the backslash.
std::string quoted(std::string_view s, char q) {
  std::string out(1, q);
  for (char c : s) {
    if (c == q || c == '\\') out += '\\';
    out += c;
  }
  out += q;
  return out;
}

// A JSON string (for the v2 query body).
std::string json_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace

ReadBack::ReadBack(const sinks::InfluxSinkConfig& cfg, std::string base_url, HttpClient& http, std::string auth_header)
    : cfg_(cfg), base_(std::move(base_url)), http_(http) {
  if (!auth_header.empty()) headers_.push_back(std::move(auth_header));
}

std::string ReadBack::influxql_visible(const PointKey& p) const {
  std::string from = quoted(cfg_.measurement, '"');
  if (!cfg_.retention_policy.empty())
    from = quoted(cfg_.database, '"') + "." + quoted(cfg_.retention_policy, '"') + "." + from;
  std::string q = "SELECT * FROM " + from + " WHERE time >= " + std::to_string(p.time_ns) +
                  " AND time <= " + std::to_string(p.time_ns);
  for (const auto& [k, v] : p.tags) q += " AND " + quoted(k, '"') + " = " + quoted(v, '\'');
  return q + " LIMIT 1";
}

std::string ReadBack::flux_visible(const PointKey& p) const {
  std::string q = "from(bucket: " + json_string(cfg_.bucket) +
                  ") |> range(start: time(v: " + std::to_string(p.time_ns) +
                  "), stop: time(v: " + std::to_string(p.time_ns + 1) +
                  ")) |> filter(fn: (r) => r._measurement == " + json_string(cfg_.measurement);
  for (const auto& [k, v] : p.tags) q += " and r[" + json_string(k) + "] == " + json_string(v);
  return q + ") |> limit(n: 1)";
}

Finding ReadBack::fail_request(const char* what, const pm500::expected<const HttpResponse*, TransportFailure>& r) {
  Finding f;
  if (!r) {
    f.evidence = std::string(what) + ": " + r.error().evidence();
  } else {
    ErrorBody e = parse_error_body((*r)->body);
    f.evidence = std::string(what) + ": HTTP " + std::to_string((*r)->status);
    if (!e.text().empty()) f.evidence += ": " + e.text();
    if ((*r)->status == 401 || (*r)->status == 403)
      f.evidence +=
          " (the credentials may write but not read: grant read access for the diagnostic read-backs, or "
          "set readback_interval_s = 0)";
  }
  return f;
}

Finding ReadBack::visible(const PointKey& p) {
  Finding f;
  if (cfg_.api == "v1") {
    const std::string q = influxql_visible(p);
    const std::string url = base_ + "/query?db=" + url_encode(cfg_.database) + "&epoch=ns&q=" + url_encode(q);
    auto r = http_.request("GET", url, headers_, {});
    if (!r || (*r)->status != 200) return fail_request("read-back query", r);
    std::string err;
    auto rows = v1_query_has_rows((*r)->body, &err);
    if (!rows)
      return {Finding::unknown, "read-back query " + q + " failed: " + (err.empty() ? "unexpected answer" : err)};
    if (*rows) return {Finding::fine, "point found by: " + q};
    return {Finding::problem, "the point just written (HTTP 204) was not found by: " + q + " (database \"" +
                                  cfg_.database + "\"); dashboards querying these names will be empty"};
  }
  const std::string q = flux_visible(p);
  const std::string body = "{\"query\": " + json_string(q) + ", \"type\": \"flux\"}";
  std::vector<std::string> h = headers_;
  h.push_back("Content-Type: application/json");
  h.push_back("Accept: application/csv");
  auto r = http_.request("POST", base_ + "/api/v2/query?org=" + url_encode(cfg_.org), h, body);
  if (!r || (*r)->status != 200) return fail_request("read-back query", r);
  if (v2_csv_has_rows((*r)->body)) return {Finding::fine, "point found by: " + q};
  return {Finding::problem, "the point just written (HTTP 204) was not found by: " + q + " (org \"" + cfg_.org +
                                "\"); dashboards querying these names will be empty"};
}

Finding ReadBack::retention() {
  if (cfg_.api == "v1") {
    const std::string q = "SHOW RETENTION POLICIES ON " + quoted(cfg_.database, '"');
    auto r = http_.request("GET", base_ + "/query?q=" + url_encode(q), headers_, {});
    if (!r || (*r)->status != 200) return fail_request("retention read-back", r);
    std::string err;
    auto rp = v1_retention_policy((*r)->body, cfg_.retention_policy, &err);
    if (!rp)
      return {Finding::unknown, q + ": " + (err.empty() ? "policy \"" + cfg_.retention_policy + "\" not found" : err)};
    const std::string what =
        "database \"" + cfg_.database + "\" retention policy \"" + rp->name + "\" duration " + rp->duration;
    if (rp->infinite()) return {Finding::problem, what + " (infinite: data is never deleted)"};
    return {Finding::fine, what};
  }
  auto r = http_.request(
      "GET", base_ + "/api/v2/buckets?org=" + url_encode(cfg_.org) + "&name=" + url_encode(cfg_.bucket), headers_, {});
  if (!r || (*r)->status != 200) return fail_request("retention read-back", r);
  auto every = v2_bucket_retention_s((*r)->body, cfg_.bucket);
  if (!every) return {Finding::unknown, "bucket \"" + cfg_.bucket + "\" not in the /api/v2/buckets answer"};
  const std::string what = "bucket \"" + cfg_.bucket + "\" retention everySeconds " + std::to_string(*every);
  if (*every == 0) return {Finding::problem, what + " (infinite: data is never deleted)"};
  return {Finding::fine, what};
}

}  // namespace pm500::influx
