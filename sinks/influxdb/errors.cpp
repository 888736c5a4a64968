#include "sinks/influxdb/errors.hpp"

#include "sinks/influxdb/response.hpp"

namespace pm500::influx {
namespace {

using std::chrono::milliseconds;

std::string evidence_of(long status, const ErrorBody& e) {
  std::string s = "HTTP " + std::to_string(status);
  if (!e.code.empty()) s += " " + e.code;
  if (auto t = e.text(); !t.empty()) s += ": " + t;
  return s;
}

}  // namespace

std::string WriteTarget::where() const {
  if (api == "v2") return "bucket \"" + bucket + "\" in org \"" + org + "\"";
  std::string s = "database \"" + database + "\"";
  if (!retention_policy.empty()) s += " (retention policy \"" + retention_policy + "\")";
  return s;
}

DeliveryResult classify_http(const HttpAnswer& a, const WriteTarget& t, std::int64_t now_unix_s) {
  if (a.status >= 200 && a.status < 300) return DeliveryResult::ok();
  ErrorBody e = parse_error_body(a.body);
  if (e.message.empty() && e.raw.empty() && !a.influx_error.empty()) e.message = printable(a.influx_error, 1000);
  const std::string ev = evidence_of(a.status, e);
  const std::string said = e.text().empty() ? std::string() : " (server: \"" + e.text() + "\")";
  const std::string host = t.url;

  switch (a.status) {
    case 400:
      return DeliveryResult::reject(
          "InfluxDB at " + host + " refused these points as invalid or wrote them only partly" + said +
              "; they are in the dead-letter file: fix the field types or names it reports (a field's type "
              "cannot change within a shard), then re-import them if needed",
          ev);
    case 401:
    case 403: {
      std::string fix =
          t.api == "v2" ? "the token is wrong, revoked or lacks write permission on the " + t.where() +
                              ": create a token with write access (`influx auth create --write-bucket ...`) and set "
                              "token (e.g. token = \"${INFLUX_TOKEN}\")"
          : t.has_token
              ? "the token is wrong or revoked, or lacks write permission on the " + t.where() + ": set a valid token"
          : t.has_password ? "the username or password is wrong, or the user may not write to the " + t.where() +
                                 ": fix username/password (`GRANT WRITE ON ... TO ...`)"
                           : "the server requires authentication: set username and password (v1) or token";
      return DeliveryResult::retry("InfluxDB at " + host + " refused the credentials (HTTP " +
                                       std::to_string(a.status) + ")" + said + ": " + fix +
                                       "; samples are spooled meanwhile and nothing is lost",
                                   ev, t.config_error_retry);
    }
    case 404: {
      std::string fix =
          t.api == "v2"
              ? "create it (`influx bucket create -n " + t.bucket + " -o " + t.org + "`) or correct bucket/org"
              : "create it (`CREATE DATABASE \"" + t.database + "\"`) or correct database" +
                    (t.retention_policy.empty() ? std::string() : std::string("/retention_policy"));
      return DeliveryResult::retry("InfluxDB at " + host + " has no " + t.where() + said + ": " + fix +
                                       "; samples are spooled meanwhile and nothing is lost",
                                   ev, t.config_error_retry);
    }
    case 413:
      return DeliveryResult::reject("InfluxDB at " + host + " refuses even a single point as too large" + said +
                                        ": raise the server's max-body-size ([http] max-body-size in influxdb.conf)",
                                    ev);
    case 429:
    case 503: {
      milliseconds after{0};
      if (auto r = parse_retry_after(a.retry_after, now_unix_s)) after = *r;
      std::string when = a.retry_after.empty() ? std::string("; retrying with backoff")
                                               : "; retrying after " + std::to_string(after.count() / 1000) +
                                                     " s as its Retry-After asks";
      std::string why = a.status == 429 ? "is rate-limiting writes (HTTP 429)" : "is unavailable (HTTP 503)";
      return DeliveryResult::retry(
          "InfluxDB at " + host + " " + why + said + when + "; check the server's load, limits or plan quota",
          ev + (a.retry_after.empty() ? std::string() : ", Retry-After: " + printable(a.retry_after, 64)), after);
    }
    default:
      break;
  }
  if (a.status >= 500)
    return DeliveryResult::retry("InfluxDB at " + host + " failed with a server error (HTTP " +
                                     std::to_string(a.status) + ")" + said +
                                     "; retrying with backoff: check the server's log and disk space",
                                 ev);
  // Other statuses (3xx redirects, 405, 411, ...) mean the URL does not point at InfluxDB's API.
  return DeliveryResult::retry("InfluxDB at " + host + " answered HTTP " + std::to_string(a.status) + said +
                                   ": check that url points at the InfluxDB HTTP API (scheme, host, port, no path)",
                               ev, t.config_error_retry);
}

DeliveryResult classify_transport(const TransportFailure& f, const WriteTarget& t) {
  using http::Failure;
  const std::string host = t.url;
  std::string reason;
  switch (f.kind) {
    case Failure::resolve:
      reason = "cannot resolve the host name of " + host + ": check the url and the gateway's DNS";
      break;
    case Failure::refused:
      reason = "connection to " + host + " refused: InfluxDB is not running or not listening on that port";
      break;
    case Failure::unreachable:
      reason = "no route to " + host + ": check the network, VLAN and firewall between the gateway and InfluxDB";
      break;
    case Failure::connect:
      reason = "cannot connect to " + host + ": check that InfluxDB is running and reachable";
      break;
    case Failure::timeout:
      reason = "no answer from " + host + " within " + std::to_string(t.timeout.count()) +
               " ms: InfluxDB is overloaded or a firewall drops packets; raise timeout_ms if writes are merely slow";
      break;
    case Failure::tls_verify:
      reason = "TLS: the certificate of " + host +
               " could not be verified: set ca_file to the CA that signed it, or fix the host name in url";
      break;
    case Failure::tls_handshake:
      reason = "TLS handshake with " + host +
               " failed: check that the server speaks TLS on that port and its "
               "certificate and protocol versions";
      break;
    case Failure::ca_file:
      reason = "TLS: ca_file cannot be read as a PEM CA bundle: check the path and the file's format";
      break;
    case Failure::broken:
      reason = "the connection to " + host + " broke during the request: InfluxDB restarted or a proxy closed it";
      break;
    case Failure::bad_url:
      reason = "url \"" + host + "\" is not a valid http:// or https:// URL: fix url";
      break;
    case Failure::other:
      reason = "request to " + host + " failed: " + f.detail;
      break;
  }
  return DeliveryResult::retry(reason + "; samples are spooled meanwhile and nothing is lost", f.evidence());
}

}  // namespace pm500::influx
