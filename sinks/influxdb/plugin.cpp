// The InfluxDB sink's configuration table, checks and factory (glue; the work is in
// influxdb_sink.cpp, transport.cpp, errors.cpp and readback.cpp).
#include <algorithm>
#include <any>

#include "pipeline/sink_plugin.hpp"
#include "sinks/influxdb/influxdb_config.hpp"
#include "sinks/influxdb/influxdb_sink.hpp"
#include "sinks/influxdb/probe.hpp"

namespace pm500 {
namespace sinks {

const config::Options<InfluxSinkConfig>& influxdb_options() {
  using C = InfluxSinkConfig;
  static const config::Options<C> o{
      config::string("url", &C::url, "InfluxDB HTTP API base URL (http:// or https://, host and port, no path).")
          .must()
          .eg("\"http://127.0.0.1:8086\""),
      config::choice("api", &C::api, {"v1", "v2"},
                     "v1: /write?db=&rp= (InfluxDB 1.x); v2: /api/v2/write?org=&bucket= (InfluxDB 2.x, Cloud)."),
      config::string("database", &C::database, "v1: database to write to (must exist)."),
      config::string("retention_policy", &C::retention_policy, "v1: retention policy; \"\" = the database's default."),
      config::string("username", &C::username, "v1: user for HTTP basic authentication; \"\" = none."),
      config::string("password", &C::password, "v1: that user's password (use ${VAR}).").secret_value(),
      config::string("token", &C::token,
                     "v2: API token with write access to the bucket (use ${VAR}); v1: sent as `Authorization: Token`.")
          .secret_value(),
      config::string("org", &C::org, "v2: organization name."),
      config::string("bucket", &C::bucket, "v2: bucket to write to (must exist)."),
      config::choice("precision", &C::precision, {"ns", "us", "ms", "s"},
                     "Timestamp precision written (the sample's source time, truncated)."),
      config::string("measurement", &C::measurement, "Measurement name; dashboards query it."),
      config::boolean("device_tag", &C::device_tag, "Tag `device` (the device name) beside `site` and `asset`."),
      config::string_list("tags", &C::tags,
                          "Constant extra tags \"key=value\" on every point (never values that change per sample).")
          .eg("[\"area=north\"]"),
      config::boolean("sequence_field", &C::sequence_field, "Add the CIP sequence count as integer field `sequence`."),
      config::boolean("gzip", &C::gzip, "Compress request bodies (Content-Encoding: gzip)."),
      config::integer("timeout_ms", &C::timeout_ms, 100, 600000, "Timeout of one HTTP request, connect included."),
      config::string("ca_file", &C::ca_file, "https: PEM file of the CA that signed the server; \"\" = system store."),
      config::boolean("insecure_skip_verify", &C::insecure_skip_verify,
                      "https: do not verify the server's certificate (logged as a warning; for tests only)."),
      config::integer(
          "config_error_retry_ms", &C::config_error_retry_ms, 1000, 3600000,
          "Retry interval while credentials are refused (401/403) or the database/bucket is missing (404)."),
      config::integer("readback_interval_s", &C::readback_interval_s, 0, 86400,
                      "Diagnostic read-backs (point visible, retention, cardinality) after the first write and then "
                      "at this interval; 0 = off."),
      config::integer("max_series", &C::max_series, 1, 100000000,
                      "Raise historian.high_cardinality when the gateway writes more distinct series than this."),
  };
  return o;
}

pm500::expected<std::vector<std::pair<std::string, std::string>>, std::string> parse_tags(
    const std::vector<std::string>& tags) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : tags) {
    const auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == t.size())
      return pm500::unexpected("tags: \"" + t + "\" is not \"key=value\" with a non-empty key and value");
    std::string k = t.substr(0, eq), v = t.substr(eq + 1);
    if (k.find_first_of("\r\n") != std::string::npos || v.find_first_of("\r\n") != std::string::npos)
      return pm500::unexpected("tags: \"" + k + "\" contains a newline, which line protocol cannot carry");
    if (k == "site" || k == "asset" || k == "device" || k == lp::kQualityTag || k == "time" || k == "_measurement" ||
        k == "_field")
      return pm500::unexpected("tags: \"" + k +
                               "\" is reserved (site, asset, device come from the configuration, quality marks "
                               "suspect samples; "
                               "time, _measurement, _field are InfluxDB's): choose another key");
    for (const auto& [ok, ov] : out)
      if (ok == k) return pm500::unexpected("tags: key \"" + k + "\" is given twice");
    out.emplace_back(std::move(k), std::move(v));
  }
  std::sort(out.begin(), out.end());
  return out;
}

InfluxEndpoint influx_endpoint(const InfluxSinkConfig& c) {
  InfluxEndpoint e;
  e.base_url = c.url;
  while (!e.base_url.empty() && e.base_url.back() == '/') e.base_url.pop_back();
  // 1.x spells microseconds "u", 2.x "us".
  const std::string precision = c.api == "v1" && c.precision == "us" ? std::string("u") : c.precision;
  if (c.api == "v2") {
    e.write_url = e.base_url + "/api/v2/write?org=" + influx::url_encode(c.org) +
                  "&bucket=" + influx::url_encode(c.bucket) + "&precision=" + precision;
  } else {
    e.write_url = e.base_url + "/write?db=" + influx::url_encode(c.database);
    if (!c.retention_policy.empty()) e.write_url += "&rp=" + influx::url_encode(c.retention_policy);
    e.write_url += "&precision=" + precision;
  }
  if (!c.token.empty()) e.auth_header = "Authorization: Token " + c.token;
  e.http = influx::HttpOptions{std::chrono::milliseconds(c.timeout_ms), c.ca_file, c.insecure_skip_verify,
                               c.api == "v1" ? c.username : std::string(), c.api == "v1" ? c.password : std::string()};
  e.target = {c.api,   e.base_url, c.database,       c.retention_policy,
              c.org,   c.bucket,   !c.token.empty(), !c.password.empty(),
              std::chrono::milliseconds(c.config_error_retry_ms)};
  e.target.timeout = std::chrono::milliseconds(c.timeout_ms);
  return e;
}

std::vector<std::string> validate(const InfluxSinkConfig& c) {
  std::vector<std::string> e;
  if (!c.url.starts_with("http://") && !c.url.starts_with("https://"))
    e.push_back("url = \"" + c.url + "\" must start with http:// or https://, e.g. \"http://127.0.0.1:8086\"");
  if (c.measurement.empty() || c.measurement.find_first_of("\r\n") != std::string::npos)
    e.push_back("measurement must be a non-empty name without newlines (dashboards query \"powermonitor_500\")");
  if (c.api == "v1") {
    if (c.database.empty()) e.push_back("api = \"v1\" needs database: the InfluxDB database to write to");
    if (!c.password.empty() && c.username.empty()) e.push_back("password is set but username is empty: set both");
    if (!c.token.empty() && !c.username.empty())
      e.push_back("set either username/password or token for api = \"v1\", not both");
  } else {
    if (c.org.empty()) e.push_back("api = \"v2\" needs org: the organization that owns the bucket");
    if (c.bucket.empty()) e.push_back("api = \"v2\" needs bucket: the bucket to write to");
    if (c.token.empty())
      e.push_back("api = \"v2\" needs token: an API token with write access (token = \"${INFLUX_TOKEN}\")");
    if (!c.username.empty() || !c.password.empty())
      e.push_back("username/password are for api = \"v1\"; api = \"v2\" authenticates with token");
  }
  if (!c.insecure_skip_verify && !c.ca_file.empty() && c.url.starts_with("http://"))
    e.push_back("ca_file is set but url is plain http://: use https:// or remove ca_file");
  if (auto t = parse_tags(c.tags); !t) e.push_back(t.error());
  return e;
}

}  // namespace sinks

extern const SinkPlugin influxdb_sink_plugin;  // external linkage for the generated registry
const SinkPlugin influxdb_sink_plugin{
    config::SinkSchema{
        "influxdb",
        "InfluxDB line protocol over HTTP(S): v1 /write or v2 /api/v2/write, gzip, keep-alive, read-back checks.",
        [](config::TableReader& r) {
          sinks::InfluxSinkConfig c;
          r.read(sinks::influxdb_options(), c);
          return std::any(c);
        },
        [](const std::any& a) {
          return config::dump(sinks::influxdb_options(), std::any_cast<const sinks::InfluxSinkConfig&>(a));
        },
        [] { return config::describe(sinks::influxdb_options()); },
    },
    [](const config::SinkSection& section, const SinkEnv& env) -> pm500::expected<std::unique_ptr<Sink>, std::string> {
      const auto* cfg = std::any_cast<sinks::InfluxSinkConfig>(&section.settings);
      if (!cfg) return pm500::unexpected(std::string("sinks.influxdb: settings were not read by the influxdb schema"));
      if (auto problems = sinks::validate(*cfg); !problems.empty()) {
        std::string msg;
        for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + ("sinks." + section.type + "." + p);
        return pm500::unexpected(std::move(msg));
      }
      return std::unique_ptr<Sink>(std::make_unique<sinks::InfluxSink>(
          *cfg, env.catalog, env.conditions, section.type.empty() ? "influxdb" : section.type));
    },
    [](const config::SinkSection& section, const SinkEnv&) -> std::vector<SinkProbeResult> {
      const auto* cfg = std::any_cast<sinks::InfluxSinkConfig>(&section.settings);
      if (!cfg) return {{SinkProbeResult::Result::fail, "settings", "not read by the influxdb sink's schema", ""}};
      return sinks::probe_influxdb(*cfg);
    },
};

}  // namespace pm500
