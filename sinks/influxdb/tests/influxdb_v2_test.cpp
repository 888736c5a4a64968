// The v2 API against a local HTTP server that answers like InfluxDB 2.x does (Debian 12
// packages no 2.x server and InfluxDB 1.6 has no /api/v2 endpoints): it pins the request --
// path, query, headers, gzip body -- and the handling of 204/400/401/404/413/429/503/500 and of
// the read-backs (/api/v2/query, /api/v2/buckets). Also TLS verification against a plain port.
#include <doctest/doctest.h>

#include <httplib.h>
#include <zlib.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "common.hpp"

using namespace pm500;
using namespace pm500::test;
using namespace std::chrono_literals;
using Kind = DeliveryResult::Kind;

namespace {

std::string gunzip(const std::string& in) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return {};
  std::string out(in.size() * 20 + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

// What InfluxDB 2 answers, switchable per test.
struct FakeInflux2 {
  httplib::Server svr;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::atomic<int> status{204};
  std::string retry_after;
  std::size_t max_lines = 0;  // > 0: answer 413 to bodies with more lines
  bool query_rows = true;
  std::int64_t retention_s = 0;
  // Recorded from the last write.
  std::string path, query_org, query_bucket, query_precision, auth, encoding, content_type, body;
  std::string last_flux;
  std::vector<std::string> lines;  // every line accepted
  int writes = 0;

  FakeInflux2() {
    svr.Post("/api/v2/write", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(mu);
      ++writes;
      path = req.path;
      query_org = req.get_param_value("org");
      query_bucket = req.get_param_value("bucket");
      query_precision = req.get_param_value("precision");
      auth = req.get_header_value("Authorization");
      encoding = req.get_header_value("Content-Encoding");
      content_type = req.get_header_value("Content-Type");
      // cpp-httplib may already have inflated the body (built with zlib); accept both.
      body = req.body.size() > 2 && static_cast<unsigned char>(req.body[0]) == 0x1f ? gunzip(req.body) : req.body;
      std::size_t n = 0;
      for (char c : body) n += c == '\n';
      if (max_lines && n > max_lines) {
        res.status = 413;
        res.set_content(R"({"code":"request too large","message":"unable to read data: points batch is too large"})",
                        "application/json");
        return;
      }
      res.status = status.load();
      if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
      switch (res.status) {
        case 204: {
          std::size_t start = 0;
          for (std::size_t i = 0; i < body.size(); ++i)
            if (body[i] == '\n') {
              lines.push_back(body.substr(start, i - start));
              start = i + 1;
            }
          break;
        }
        case 400:
          res.set_content(
              R"({"code":"invalid","message":"partial write error (2 written): unable to parse 'x': bad timestamp"})",
              "application/json");
          break;
        case 401:
          res.set_content(R"({"code":"unauthorized","message":"unauthorized access"})", "application/json");
          break;
        case 404:
          res.set_content(R"({"code":"not found","message":"bucket \"meters\" not found"})", "application/json");
          break;
        case 429:
          res.set_content(R"({"code":"too many requests","message":"org exceeded write limits"})", "application/json");
          break;
        default:
          res.set_content(R"({"code":"internal error","message":"unexpected error writing points to database"})",
                          "application/json");
      }
    });
    svr.Post("/api/v2/query", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(mu);
      last_flux = req.body;
      if (req.get_header_value("Authorization") != "Token s3cret" || req.get_param_value("org") != "acme") {
        res.status = 401;
        return;
      }
      res.set_content(query_rows ? ",result,table,_start,_stop,_time,_value,_field,_measurement\r\n"
                                   ",_result,0,2024-01-01T00:00:00Z,2024-01-01T00:00:01Z,2024-01-01T00:00:00Z,230.5,pf,"
                                   "powermonitor_500\r\n\r\n"
                                 : "\r\n",
                      "text/csv");
    });
    svr.Get("/api/v2/buckets", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(mu);
      res.set_content(R"({"buckets":[{"id":"1","name":")" + req.get_param_value("name") +
                          R"(","retentionRules":[{"type":"expire","everySeconds":)" + std::to_string(retention_s) +
                          "}]}]}",
                      "application/json");
    });
    svr.set_keep_alive_max_count(1000);  // like influxd: no forced reconnects
    port = svr.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { svr.listen_after_bind(); });
    while (!svr.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakeInflux2() {
    svr.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

std::string v2(const FakeInflux2& f, const std::string& extra = "") {
  return "url = \"" + f.url() + "\"\napi = \"v2\"\norg = \"acme\"\nbucket = \"meters\"\ntoken = \"s3cret\"\n" +
         "config_error_retry_ms = 2000\n" + extra;
}

}  // namespace

TEST_CASE("v2: the write request is pinned: path, query, Token header, gzip body of line protocol") {
  FakeInflux2 f;
  Catalog cat = influx_catalog();
  Recorder rec;
  auto sink = make_influx_sink(v2(f, "precision = \"ms\"\ntags = [\"zone=b\", \"area=north 1\"]\n"), cat, &rec);
  REQUIRE(sink);
  auto batch = influx_batch(0, 4);
  REQUIRE(deliver(*sink, batch).kind == Kind::ok);
  std::lock_guard lk(f.mu);
  CHECK(f.path == "/api/v2/write");
  CHECK(f.query_org == "acme");
  CHECK(f.query_bucket == "meters");
  CHECK(f.query_precision == "ms");
  CHECK(f.auth == "Token s3cret");
  CHECK(f.encoding == "gzip");
  CHECK(f.content_type == "text/plain; charset=utf-8");
  REQUIRE(f.lines.size() == 4);
  const std::string ts = std::to_string(batch[1].source_time_ns / 1'000'000);
  const std::string last_ts = std::to_string(batch[3].source_time_ns / 1'000'000);
  CHECK(f.lines[1] ==
        "powermonitor_500,area=north\\ 1,asset=feeder\\ 2,device=mcc-2,site=plant\\ north,zone=b "
        "voltage_l1_n_v=230.125,current_l1_a=231.125,pf=232.125 " +
            ts);
  // The read-back after the first write: Flux with the measurement, every tag and the time.
  CHECK(f.last_flux.find(R"(r._measurement == \"powermonitor_500\")") != std::string::npos);
  CHECK(f.last_flux.find(R"(r[\"device\"] == \"mcc-2\")") != std::string::npos);
  CHECK(f.last_flux.find(R"(r[\"area\"] == \"north 1\")") != std::string::npos);
  CHECK(f.last_flux.find("time(v: " + last_ts + "000000)") != std::string::npos);
  CHECK_FALSE(rec.has("raise"));
}

TEST_CASE("v2: answers 400/401/404/429/503/500 are classified with the server's message; 413 splits") {
  FakeInflux2 f;
  Catalog cat = influx_catalog();
  Recorder rec;
  auto sink = make_influx_sink(v2(f, "readback_interval_s = 0\n"), cat, &rec);
  REQUIRE(sink);
  auto batch = influx_batch(0, 10);

  f.status = 400;
  auto r = deliver(*sink, batch);
  CHECK(r.kind == Kind::reject);
  CHECK(r.evidence == "HTTP 400 invalid: partial write error (2 written): unable to parse 'x': bad timestamp");

  f.status = 401;
  r = deliver(*sink, batch);
  CHECK(r.kind == Kind::retry);
  CHECK(r.retry_after == 2000ms);
  CHECK(r.reason.find("token is wrong, revoked") != std::string::npos);
  CHECK(r.evidence == "HTTP 401 unauthorized: unauthorized access");
  CHECK(rec.find("raise influxdb.write_error influxdb: HTTP 401").find("s3cret") == std::string::npos);

  f.status = 404;
  r = deliver(*sink, batch);
  CHECK(r.reason.find("bucket \"meters\" in org \"acme\"") != std::string::npos);
  CHECK(r.evidence == "HTTP 404 not found: bucket \"meters\" not found");

  f.status = 429;
  f.retry_after = "3";
  r = deliver(*sink, batch);
  CHECK(r.kind == Kind::retry);
  CHECK(r.retry_after == 3000ms);

  f.status = 503;
  {
    char date[64];
    const std::time_t when = std::time(nullptr) + 20;
    std::tm tm{};
    gmtime_r(&when, &tm);
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    f.retry_after = date;
  }
  r = deliver(*sink, batch);
  CHECK(r.kind == Kind::retry);
  CHECK(r.retry_after >= 18s);
  CHECK(r.retry_after <= 20s);

  f.retry_after.clear();
  f.status = 500;
  r = deliver(*sink, batch);
  CHECK(r.kind == Kind::retry);
  CHECK(r.retry_after == 0ms);
  CHECK(r.evidence.starts_with("HTTP 500 internal error"));

  f.status = 204;
  f.max_lines = 3;  // 10 -> 5 -> 2 + 3 ...
  r = deliver(*sink, batch);
  CHECK(r.kind == Kind::ok);
  CHECK(f.lines.size() == 10);
  CHECK(sink->counters().split_limit <= 3);
  CHECK(rec.has("clear influxdb.write_error influxdb"));
}

TEST_CASE("v2: read-backs report an invisible point and infinite retention, and clear when fixed") {
  FakeInflux2 f;
  Catalog cat = influx_catalog();
  Recorder rec;
  f.query_rows = false;
  f.retention_s = 0;
  auto sink = make_influx_sink(v2(f, "readback_interval_s = 1\n"), cat, &rec);
  REQUIRE(sink);
  CHECK(deliver(*sink, influx_batch(0, 2)).kind == Kind::ok);  // visibility
  CHECK(deliver(*sink, influx_batch(2, 2)).kind == Kind::ok);  // retention
  CHECK(rec.find("raise historian.empty_panels influxdb:").find("was not found by: from(bucket: \"meters\")") !=
        std::string::npos);
  CHECK(rec.find("raise historian.retention_disabled influxdb:").find("everySeconds 0 (infinite") != std::string::npos);
  f.query_rows = true;
  f.retention_s = 30 * 86400;
  std::this_thread::sleep_for(1100ms);
  CHECK(deliver(*sink, influx_batch(4, 2)).kind == Kind::ok);
  CHECK(deliver(*sink, influx_batch(6, 2)).kind == Kind::ok);
  CHECK(rec.has("clear historian.empty_panels influxdb"));
  CHECK(rec.has("clear historian.retention_disabled influxdb"));
  CHECK(sink->counters().readbacks == 4);
  CHECK(sink->counters().connections == 1);  // writes and read-backs share one kept-alive connection
}

TEST_CASE("TLS: verification is on by default; a plain-HTTP port fails the handshake as a TLS error") {
  FakeInflux2 f;
  Catalog cat = influx_catalog();
  auto sink = make_influx_sink("url = \"https://127.0.0.1:" + std::to_string(f.port) +
                                   "\"\napi = \"v2\"\norg = \"acme\"\nbucket = \"meters\"\ntoken = \"s3cret\"\n"
                                   "timeout_ms = 2000\n",
                               cat);
  REQUIRE(sink);
  auto r = deliver(*sink, influx_batch(0, 2));
  CHECK(r.kind == Kind::retry);
  CHECK(r.reason.find("TLS") != std::string::npos);
  CHECK(r.evidence.starts_with("TLS handshake: 127.0.0.1:"));
}
