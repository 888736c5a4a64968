#include "sinks/influxdb/probe.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "sinks/influxdb/errors.hpp"
#include "sinks/influxdb/readback.hpp"
#include "sinks/influxdb/response.hpp"
#include "sinks/influxdb/transport.hpp"

namespace pm500::sinks {
namespace {

using R = SinkProbeResult::Result;

// The delivery reasons end by reassuring about the spool; a check delivers nothing.
std::string without_spool_note(std::string s) {
  static constexpr std::string_view kNote = "; samples are spooled meanwhile and nothing is lost";
  if (auto p = s.rfind(kNote); p != std::string::npos && p + kNote.size() == s.size()) s.erase(p);
  return s;
}


}  // namespace

std::vector<SinkProbeResult> probe_influxdb(const InfluxSinkConfig& cfg) {
  std::vector<SinkProbeResult> out;
  if (auto problems = validate(cfg); !problems.empty()) {
    for (const auto& p : problems) out.push_back({R::fail, "configuration", p, ""});
    return out;
  }
  const InfluxEndpoint ep = influx_endpoint(cfg);
  const std::string& base = ep.base_url;
  const influx::WriteTarget& target = ep.target;
  const bool https = cfg.url.starts_with("https://");
  if (https && !cfg.ca_file.empty() && ::access(cfg.ca_file.c_str(), R_OK) != 0) {
    out.push_back({R::fail, "TLS ca_file " + cfg.ca_file,
                   std::string("cannot be read: ") + std::strerror(errno) +
                       "; point ca_file at the PEM file of the CA that signed the server's certificate",
                   ""});
    return out;
  }

  influx::HttpClient http(ep.http);

  // 1. The server: /ping needs no credentials in 1.x or 2.x, so a failure here is the network,
  //    TLS or the URL, never the token.
  auto ping = http.request("GET", base + "/ping", {}, {});
  if (!ping) {
    auto r = influx::classify_transport(ping.error(), target);
    out.push_back({R::fail, "connect " + base, without_spool_note(r.reason) + " (" + r.evidence + ")", ""});
    return out;
  }
  if ((*ping)->status != 204 && (*ping)->status != 200) {
    out.push_back({R::fail, "connect " + base,
                   "GET /ping answered HTTP " + std::to_string((*ping)->status) +
                       ": this is not InfluxDB's HTTP API; check url (scheme, host, port, no path)",
                   ""});
    return out;
  }
  out.push_back({R::ok, "connect " + base, "/ping answered HTTP " + std::to_string((*ping)->status), ""});
  if (https) {
    if (cfg.insecure_skip_verify)
      out.push_back({R::warn, "TLS",
                     "insecure_skip_verify = true: the server's certificate is NOT verified; set ca_file instead", ""});
    else
      out.push_back({R::ok, "TLS",
                     "server certificate verified against " +
                         (cfg.ca_file.empty() ? std::string("the system CA store") : cfg.ca_file),
                     ""});
  }

  // 2. Credentials and destination: an empty write to the sink's own write URL is authenticated,
  //    authorised and routed to the database (and retention policy) or bucket like a real one.
  std::vector<std::string> headers{"Content-Type: text/plain; charset=utf-8"};
  if (!ep.auth_header.empty()) headers.push_back(ep.auth_header);
  auto w = http.request("POST", ep.write_url, headers, {});
  if (!w) {
    auto r = influx::classify_transport(w.error(), target);
    out.push_back({R::fail, "write to " + target.where(), without_spool_note(r.reason) + " (" + r.evidence + ")", ""});
    return out;
  }
  const influx::HttpResponse& a = **w;
  const influx::ErrorBody body = influx::parse_error_body(a.body);
  const std::string said = body.text().empty() ? std::string(a.header("X-Influxdb-Error")) : body.text();
  // 2.x refuses an empty body with 400 "writing requires points" -- after authentication and the
  // bucket lookup, so it proves both as well as a 204 does.
  const bool accepted =
      (a.status >= 200 && a.status < 300) || (a.status == 400 && said.find("requires points") != std::string::npos);
  const std::string who = cfg.api == "v2"         ? "token"
                          : !cfg.username.empty() ? "user \"" + cfg.username + "\""
                          : !cfg.token.empty()    ? "token"
                                                  : "no credentials";
  if (accepted) {
    out.push_back({R::ok, "authenticate", who + " accepted with write access", ""});
    out.push_back({R::ok, target.where() + " exists", "an empty write answered HTTP " + std::to_string(a.status), ""});
  } else if (a.status == 500 && said.find("retention policy not found") != std::string::npos) {
    out.push_back({R::fail, target.where() + " exists",
                   "InfluxDB at " + base + ": " + said + ": create it (`CREATE RETENTION POLICY \"" +
                       cfg.retention_policy + "\" ON \"" + cfg.database +
                       "\" DURATION 90d REPLICATION 1`) or correct retention_policy",
                   ""});
    return out;
  } else {
    const DeliveryResult r =
        influx::classify_http(influx::answer_of(a), target, static_cast<std::int64_t>(std::time(nullptr)));
    const std::string what = (a.status == 401 || a.status == 403) ? std::string("authenticate")
                             : a.status == 404                    ? target.where() + " exists"
                                                                  : "write to " + target.where();
    out.push_back({R::fail, what, without_spool_note(r.reason) + " (" + r.evidence + ")", ""});
    return out;
  }

  // 3. Retention: an infinite one fills the disk (historian.retention_disabled). Reading it
  //    needs read access, which a write-only user lacks: then it is unknown, not a failure.
  influx::ReadBack rb(cfg, base, http, ep.auth_header);
  const influx::Finding f = rb.retention();
  switch (f.state) {
    case influx::Finding::fine:
      out.push_back({R::ok, "retention", f.evidence, ""});
      break;
    case influx::Finding::problem:
      out.push_back({R::warn, "retention", f.evidence, "historian.retention_disabled"});
      break;
    case influx::Finding::unknown:
      out.push_back({R::warn, "retention", "could not be read: " + f.evidence, ""});
      break;
  }
  return out;
}

}  // namespace pm500::sinks
