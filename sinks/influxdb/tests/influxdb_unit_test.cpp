// Pure parts of the InfluxDB sink: Retry-After and error-body parsing, HTTP and transport
// classification, read-back answer parsing, series accounting, configuration, README/sample.
#include <doctest/doctest.h>

#include "common.hpp"
#include "sinks/influxdb/cardinality.hpp"
#include "sinks/influxdb/errors.hpp"
#include "sinks/influxdb/response.hpp"
#include "support/support.hpp"

using namespace pm500;
using namespace pm500::influx;
using namespace std::chrono_literals;
using Kind = DeliveryResult::Kind;

TEST_CASE("Retry-After: delay-seconds, the three HTTP-date forms, clamping, garbage") {
  const std::int64_t t = 1445412480;  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT") == t);
  CHECK(parse_http_date("Wednesday, 21-Oct-15 07:28:00 GMT") == t);
  CHECK(parse_http_date("Wed Oct 21 07:28:00 2015") == t);
  CHECK(parse_http_date("Thu, 29 Feb 2024 23:59:59 GMT") == 1709251199);
  CHECK(parse_retry_after("120", 0) == 120s);
  CHECK(parse_retry_after(" 7 \r\n", 0) == 7s);
  CHECK(parse_retry_after("0", 0) == 0s);
  CHECK(parse_retry_after("99999999999999999999999", 0) == kMaxRetryAfter);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", t - 30) == 30s);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", t + 30) == 0s);  // in the past
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", t - 86400) == kMaxRetryAfter);
  for (const char* bad :
       {"", "-1", "1.5", "soon", "Wed, 21 Oct 2015 07:28:00", "Wed, 21 Foo 2015 07:28:00 GMT",
        "Wed, 41 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 25:28:00 GMT", "Wed, 21 Oct 15 07:28 GMT x"})
    CHECK_MESSAGE(!parse_retry_after(bad, t), bad);
}

TEST_CASE("error bodies: 1.x {error}, 2.x {code,message}, not JSON, empty") {
  auto v1 = parse_error_body(R"({"error":"partial write: field type conflict: input field \"pf\" dropped=1"})");
  CHECK(v1.message == "partial write: field type conflict: input field \"pf\" dropped=1");
  auto v2 = parse_error_body(R"({"code":"unauthorized","message":"unauthorized access"})");
  CHECK(v2.code == "unauthorized");
  CHECK(v2.text() == "unauthorized access");
  auto html = parse_error_body("<html>\n<body>Bad Gateway</body></html>");
  CHECK(html.message.empty());
  CHECK(html.text() == "<html> <body>Bad Gateway</body></html>");
  CHECK(parse_error_body("").text().empty());
  CHECK(parse_error_body("{\"error\": ").text() == "{\"error\":");
  CHECK(parse_error_body(std::string(1000, 'x')).text().size() == 303);
}

TEST_CASE("HTTP answers are classified with cause, fix and evidence") {
  WriteTarget v1{"v1", "http://h:8086", "pm500", "", "", "", false, true, 30s};
  WriteTarget v2{"v2", "https://cloud", "", "", "acme", "meters", true, false, 30s};
  CHECK(classify_http({204, "", "", ""}, v1, 0).kind == Kind::ok);

  auto r400 = classify_http({400, R"({"error":"unable to parse 'x': missing fields"})", "", ""}, v1, 0);
  CHECK(r400.kind == Kind::reject);
  CHECK(r400.evidence == "HTTP 400: unable to parse 'x': missing fields");

  auto r401 = classify_http({401, R"({"code":"unauthorized","message":"unauthorized access"})", "", ""}, v2, 0);
  CHECK(r401.kind == Kind::retry);
  CHECK(r401.retry_after == 30s);
  CHECK(r401.evidence == "HTTP 401 unauthorized: unauthorized access");
  CHECK(r401.reason.find("token is wrong, revoked") != std::string::npos);
  CHECK(r401.reason.find("bucket \"meters\" in org \"acme\"") != std::string::npos);
  CHECK(classify_http({403, "", "", ""}, v1, 0).reason.find("username or password") != std::string::npos);

  auto r404 = classify_http({404, R"({"code":"not found","message":"bucket \"meters\" not found"})", "", ""}, v2, 0);
  CHECK(r404.kind == Kind::retry);
  CHECK(r404.reason.find("influx bucket create -n meters -o acme") != std::string::npos);
  auto r404v1 = classify_http({404, "", "", "database not found: \"pm500\""}, v1, 0);
  CHECK(r404v1.evidence == "HTTP 404: database not found: \"pm500\"");  // from X-Influxdb-Error
  CHECK(r404v1.reason.find("CREATE DATABASE \"pm500\"") != std::string::npos);

  auto r429 = classify_http({429, "", "17", ""}, v2, 0);
  CHECK(r429.kind == Kind::retry);
  CHECK(r429.retry_after == 17s);
  CHECK(r429.evidence == "HTTP 429, Retry-After: 17");
  auto r503 = classify_http({503, "", "Wed, 21 Oct 2015 07:28:00 GMT", ""}, v1, 1445412480 - 5);
  CHECK(r503.retry_after == 5s);
  CHECK(classify_http({503, "", "", ""}, v1, 0).retry_after == 0ms);
  auto r500 = classify_http({500, R"({"error":"timeout"})", "", ""}, v1, 0);
  CHECK(r500.kind == Kind::retry);
  CHECK(r500.retry_after == 0ms);
  CHECK(r500.evidence == "HTTP 500: timeout");
  CHECK(classify_http({413, "", "", ""}, v1, 0).kind == Kind::reject);  // a single point (the sink splits)
  CHECK(classify_http({301, "", "", ""}, v1, 0).reason.find("check that url points") != std::string::npos);
}

TEST_CASE("transport failures: resolve, refused, unreachable, timeout, TLS named apart") {
  WriteTarget t{"v1", "http://influx:8086", "pm500", "", "", "", false, false, 30s, 1500ms};
  using http::Failure;
  auto f = [&](Failure k) { return classify_transport({k, 0, "detail"}, t); };
  CHECK(f(Failure::resolve).reason.find("cannot resolve") != std::string::npos);
  CHECK(f(Failure::refused).reason.find("refused") != std::string::npos);
  CHECK(f(Failure::unreachable).reason.find("no route") != std::string::npos);
  CHECK(f(Failure::timeout).reason.find("within 1500 ms") != std::string::npos);
  CHECK(f(Failure::tls_verify).reason.find("ca_file") != std::string::npos);
  CHECK(f(Failure::tls_handshake).reason.find("TLS handshake") != std::string::npos);
  CHECK(f(Failure::ca_file).reason.find("PEM CA bundle") != std::string::npos);
  CHECK(f(Failure::broken).reason.find("broke during the request") != std::string::npos);
  auto r = f(Failure::refused);
  CHECK(r.kind == Kind::retry);
  CHECK(r.evidence == "connection refused: detail");
}

TEST_CASE("read-back answers: InfluxQL rows and errors, retention policies, buckets, Flux CSV") {
  CHECK(v1_query_has_rows(
            R"({"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","v"],"values":[[1,2]]}]}]})") ==
        true);
  CHECK(v1_query_has_rows(R"({"results":[{"statement_id":0}]})") == false);
  std::string err;
  CHECK_FALSE(v1_query_has_rows(R"({"results":[{"statement_id":0,"error":"database not found: x"}]})", &err));
  CHECK(err == "database not found: x");
  CHECK_FALSE(v1_query_has_rows("nonsense"));

  const char* rps =
      R"({"results":[{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","default"],
    "values":[["autogen","0s","168h0m0s",1,false],["week","168h0m0s","24h0m0s",1,true]]}]}]})";
  auto def = v1_retention_policy(rps, "");
  REQUIRE(def);
  CHECK(def->name == "week");
  CHECK_FALSE(def->infinite());
  auto autogen = v1_retention_policy(rps, "autogen");
  REQUIRE(autogen);
  CHECK(autogen->infinite());
  CHECK_FALSE(v1_retention_policy(rps, "missing"));

  CHECK(v2_bucket_retention_s(R"({"buckets":[{"name":"b","retentionRules":[{"type":"expire","everySeconds":86400}]}]})",
                              "b") == 86400);
  CHECK(v2_bucket_retention_s(R"({"buckets":[{"name":"b","retentionRules":[]}]})", "b") == 0);
  CHECK(v2_bucket_retention_s(R"({"buckets":[{"name":"b"}]})", "b") == 0);
  CHECK_FALSE(v2_bucket_retention_s(R"({"buckets":[]})", "b"));

  CHECK(v2_csv_has_rows(",result,table,_time,_value\r\n,_result,0,2024-01-01T00:00:00Z,1\r\n\r\n"));
  CHECK_FALSE(v2_csv_has_rows("\r\n"));
  CHECK_FALSE(v2_csv_has_rows(",result,table,_time,_value\r\n"));
  CHECK_FALSE(v2_csv_has_rows("#datatype,string\n#group,false\n"));
}

TEST_CASE("series accounting: series keys, a tag changing every sample, too many series") {
  CHECK(series_key("m,a=b\\ c,d=e f=1 123") == "m,a=b\\ c,d=e");
  CHECK(series_key("m\\\\ x=1") == "m\\\\");
  CHECK(series_key("noseparator") == "noseparator");

  SeriesTracker steady(100);
  for (int i = 0; i < 50; ++i) steady.observe(static_cast<std::uint32_t>(i % 2), i % 2 ? "m,device=b" : "m,device=a");
  auto v = steady.verdict_and_reset();
  CHECK_FALSE(v.high);
  CHECK(steady.series() == 2);

  SeriesTracker changing(1000);
  for (int i = 0; i < 50; ++i) changing.observe(0, "m,device=a,ts=" + std::to_string(i));
  v = changing.verdict_and_reset();
  CHECK(v.high);
  CHECK(v.evidence.find("changed 49 times in 50 samples") != std::string::npos);
  CHECK(v.evidence.find("\"m,device=a,ts=0\" then \"m,device=a,ts=1\"") != std::string::npos);
  changing.observe(0, "m,device=a,ts=49");  // a quiet window afterwards clears it
  CHECK_FALSE(changing.verdict_and_reset().high);

  SeriesTracker many(10);
  for (int i = 0; i < 30; ++i) many.observe(static_cast<std::uint32_t>(i), "m,device=" + std::to_string(i));
  v = many.verdict_and_reset();
  CHECK(v.high);
  CHECK(v.evidence.find("distinct series written (max_series = 10)") != std::string::npos);
}

TEST_CASE("configuration: sample.toml loads, README embeds it, checks name the key and the fix, secrets redacted") {
  const std::string sample = test::read_file(test::source_dir() / "sinks/influxdb/sample.toml");
  const std::string readme = test::read_file(test::source_dir() / "sinks/influxdb/README.md");
  REQUIRE(!sample.empty());
  CHECK(readme.find("```toml\n" + sample + "```") != std::string::npos);
  const std::vector<config::SinkSchema> schemas{influxdb_sink_plugin.schema};
  auto cfg = config::load_string(sample, "sample.toml", schemas, [](const char*) -> const char* { return "tok"; });
  if (!cfg)
    for (auto& d : cfg.error()) FAIL(d.str());
  REQUIRE(cfg);
  REQUIRE(cfg->sinks.size() == 1);

  auto bad =
      config::load_string("[sinks.influxdb]\nurl = \"http://x\"\napi = \"v3\"\ntimeot_ms = 5\n", "bad.toml", schemas);
  REQUIRE_FALSE(bad);
  std::string all;
  for (auto& d : bad.error()) all += d.str() + "\n";
  CHECK(all.find("timeot_ms") != std::string::npos);
  CHECK(all.find("v3") != std::string::npos);
  auto missing = config::load_string("[sinks.influxdb]\napi = \"v1\"\n", "m.toml", schemas);
  REQUIRE_FALSE(missing);

  sinks::InfluxSinkConfig c;
  c.url = "influx:8086";
  c.api = "v2";
  c.username = "u";
  c.tags = {"site=x", "novalue="};
  auto problems = sinks::validate(c);
  std::string p;
  for (auto& s : problems) p += s + "\n";
  CHECK(p.find("must start with http:// or https://") != std::string::npos);
  CHECK(p.find("needs org") != std::string::npos);
  CHECK(p.find("needs bucket") != std::string::npos);
  CHECK(p.find("needs token") != std::string::npos);
  CHECK(p.find("authenticates with token") != std::string::npos);
  CHECK(p.find("\"site\" is reserved") != std::string::npos);

  auto tags = sinks::parse_tags({"zone=b", "area=a b"});
  REQUIRE(tags);
  CHECK((*tags)[0].first == "area");
  CHECK_FALSE(sinks::parse_tags({"a=1", "a=2"}));

  auto secret = config::load_string(
      "[sinks.influxdb]\nurl = \"http://127.0.0.1:1\"\npassword = \"hunter2\"\nusername = \"u\"\n"
      "token = \"\"\n",
      "s.toml", schemas);
  REQUIRE(secret);
  const std::string dump = influxdb_sink_plugin.schema.dump(secret->sinks[0].settings);
  CHECK(dump.find("hunter2") == std::string::npos);
  CHECK(dump.find("password = \"<redacted>\"") != std::string::npos);
}

TEST_CASE("write URLs: v1 with retention policy and precision spelled for 1.x, v2 with org and bucket encoded") {
  Catalog cat = test::influx_catalog();
  auto a = test::make_influx_sink(
      "url = \"http://127.0.0.1:1/\"\ndatabase = \"my db\"\nretention_policy = \"rp&1\"\n"
      "precision = \"us\"\n",
      cat);
  REQUIRE(a);
  CHECK(a->write_url() == "http://127.0.0.1:1/write?db=my%20db&rp=rp%261&precision=u");
  auto b = test::make_influx_sink(
      "url = \"https://h\"\napi = \"v2\"\norg = \"a b\"\nbucket = \"m/x\"\ntoken = \"t\"\n"
      "precision = \"ms\"\n",
      cat);
  REQUIRE(b);
  CHECK(b->write_url() == "https://h/api/v2/write?org=a%20b&bucket=m%2Fx&precision=ms");
}

TEST_CASE("real transport failures on loopback: refused, timeout, TLS to a plain port") {
  Catalog cat = test::influx_catalog();
  const int closed = test::free_tcp_port();
  auto refused = test::make_influx_sink("url = \"http://127.0.0.1:" + std::to_string(closed) + "\"\n", cat);
  auto r = test::deliver(*refused, test::influx_batch(0, 3));
  CHECK(r.kind == Kind::retry);
  CHECK(r.reason.find("refused") != std::string::npos);
  CHECK(r.evidence.starts_with("connection refused: 127.0.0.1:" + std::to_string(closed) + ": Connection refused"));

  // A socket that listens but never answers: connect succeeds (backlog), the request times out.
  test::SilentListener silent;
  const std::string port = std::to_string(silent.port());
  auto slow = test::make_influx_sink("url = \"http://127.0.0.1:" + port + "\"\ntimeout_ms = 300\n", cat);
  auto t0 = std::chrono::steady_clock::now();
  r = test::deliver(*slow, test::influx_batch(0, 3));
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(r.kind == Kind::retry);
  CHECK(r.reason.find("no answer from http://127.0.0.1:" + port + " within 300 ms") != std::string::npos);
  CHECK(r.evidence.starts_with("timeout: 127.0.0.1:" + port + ": no progress reading the answer"));
}

TEST_CASE("configuration: the generated example and reference for [sinks.influxdb] read back and hide secrets") {
  const std::vector<config::SinkSchema> schemas{influxdb_sink_plugin.schema};
  const std::string example = config::example_toml(schemas);
  CHECK(example.find("[sinks.influxdb]") != std::string::npos);
  CHECK(example.find("url = \"http://127.0.0.1:8086\"") != std::string::npos);
  const std::string ref = config::markdown_reference(schemas);
  CHECK(ref.find("insecure_skip_verify") != std::string::npos);
  CHECK(ref.find("config_error_retry_ms") != std::string::npos);
}
