#include "influxd.hpp"

#include <simdjson.h>

#include <csignal>
#include <stdexcept>
#include <vector>

#include "sinks/influxdb/transport.hpp"

namespace pm500::test {

Influxd::Influxd(Options o) : opt_(o), http_port_(free_tcp_port()), rpc_port_(free_tcp_port()) {
  while (rpc_port_ == http_port_) rpc_port_ = free_tcp_port();
  std::string conf =
      "reporting-disabled = true\n"
      "bind-address = \"127.0.0.1:" +
      std::to_string(rpc_port_) +
      "\"\n"
      "[meta]\n  dir = \"" +
      (dir_ / "meta").string() +
      "\"\n"
      "[data]\n  dir = \"" +
      (dir_ / "data").string() +
      "\"\n"
      "  wal-dir = \"" +
      (dir_ / "wal").string() +
      "\"\n"
      "  query-log-enabled = false\n"
      "[monitor]\n  store-enabled = false\n"
      "[continuous_queries]\n  enabled = false\n"
      "[subscriber]\n  enabled = false\n"
      "[http]\n  bind-address = \"127.0.0.1:" +
      std::to_string(http_port_) +
      "\"\n"
      "  log-enabled = false\n"
      "  auth-enabled = " +
      (opt_.auth ? "true" : "false") + "\n";
  if (opt_.max_body_size > 0) conf += "  max-body-size = " + std::to_string(opt_.max_body_size) + "\n";
  write_file(dir_ / "influxdb.conf", conf);
  start();
}

Influxd::~Influxd() {
  stop();
}

bool Influxd::available() {
  return fs::exists("/usr/bin/influxd");
}

void Influxd::start() {
  proc_ = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/influxd", "run", "-config", (dir_ / "influxdb.conf").string()},
      std::vector<std::string>{"HOME=" + dir_.path().string()});
  influx::HttpClient http(influx::HttpOptions{std::chrono::milliseconds(500), "", false, "", ""});
  const bool up = eventually(
      [&] {
        auto r = http.request("GET", url() + "/ping", {}, {});
        return r && (*r)->status == 204;
      },
      std::chrono::seconds(20));
  if (!up) throw std::runtime_error("influxd did not start:\n" + proc_->log());
  if (opt_.auth && !admin_created_) {
    // With auth on and no user yet, influxd accepts exactly this statement unauthenticated.
    influx::HttpClient anon(influx::HttpOptions{std::chrono::milliseconds(5000), "", false, "", ""});
    const std::string q =
        std::string("CREATE USER ") + kAdmin + " WITH PASSWORD '" + kAdminPassword + "' WITH ALL PRIVILEGES";
    auto r = anon.request("POST", url() + "/query?q=" + influx::url_encode(q), {}, "");
    if (!r || (*r)->status != 200) throw std::runtime_error("cannot create the influxd admin user");
    admin_created_ = true;
  }
}

void Influxd::stop() {
  if (!proc_) return;
  proc_->signal(SIGTERM);
  proc_->wait(std::chrono::seconds(10));
  proc_.reset();
}

std::string Influxd::query(const std::string& q, const std::string& db) {
  influx::HttpClient http(influx::HttpOptions{std::chrono::milliseconds(10000), "", false, opt_.auth ? kAdmin : "",
                                              opt_.auth ? kAdminPassword : ""});
  std::string u = url() + "/query?q=" + influx::url_encode(q);
  if (!db.empty()) u += "&db=" + influx::url_encode(db);
  auto r = http.request("POST", u, {}, "");
  if (!r) throw std::runtime_error("influxd query failed: " + r.error().evidence());
  return (*r)->body;
}

long Influxd::write(const std::string& db, const std::string& lines) {
  influx::HttpClient http(influx::HttpOptions{std::chrono::milliseconds(10000), "", false, opt_.auth ? kAdmin : "",
                                              opt_.auth ? kAdminPassword : ""});
  auto r = http.request("POST", url() + "/write?db=" + influx::url_encode(db), {}, lines);
  return r ? (*r)->status : -1;
}

std::int64_t Influxd::count(const std::string& db, const std::string& measurement, const std::string& field) {
  const std::string body = query("SELECT COUNT(\"" + field + "\") FROM \"" + measurement + "\"", db);
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(body).get(doc) != simdjson::SUCCESS) return -1;
  std::int64_t n = 0;
  // {"results":[{"statement_id":0,"series":[{"columns":["time","count"],"values":[[0,123]]}]}]}
  if (doc.at_pointer("/results/0/series/0/values/0/1").get_int64().get(n) != simdjson::SUCCESS) {
    std::uint64_t u = 0;
    double d = 0;
    if (doc.at_pointer("/results/0/series/0/values/0/1").get_uint64().get(u) == simdjson::SUCCESS)
      return static_cast<std::int64_t>(u);
    if (doc.at_pointer("/results/0/series/0/values/0/1").get_double().get(d) == simdjson::SUCCESS)
      return static_cast<std::int64_t>(d);
    return 0;  // no series: no points
  }
  return n;
}

}  // namespace pm500::test
