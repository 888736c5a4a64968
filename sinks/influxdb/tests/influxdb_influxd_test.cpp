// The InfluxDB sink against a real influxd 1.6 on loopback: points land and are counted, the
// read-backs find them and report infinite retention, wrong credentials (401), a missing
// database (404), bad points (400) and an oversized body (413) are each answered as designed.
#include <doctest/doctest.h>

#include "common.hpp"
#include "influxd.hpp"

using namespace pm500;
using namespace pm500::test;
using Kind = DeliveryResult::Kind;

namespace {

std::string v1(const Influxd& db, const std::string& extra = "") {
  return "url = \"" + db.url() + "\"\napi = \"v1\"\ntimeout_ms = 5000\nconfig_error_retry_ms = 1000\n" + extra;
}

}  // namespace

TEST_CASE("influxd: points land, are counted, read back, retention reported; 404, 400 and 413 answered") {
  if (!Influxd::available()) {
    MESSAGE("influxd not installed: skipped");
    return;
  }
  Influxd db(Influxd::Options{.max_body_size = 40000});
  db.query("CREATE DATABASE pm500");
  db.query("CREATE DATABASE finite WITH DURATION 2d");
  Catalog cat = influx_catalog();

  SUBCASE("points land exactly as sent; the read-back finds the last; autogen is infinite") {
    Recorder rec;
    auto sink = make_influx_sink(v1(db, "database = \"pm500\"\n"), cat, &rec);
    REQUIRE(sink);
    CHECK(deliver(*sink, influx_batch(0, 100)).kind == Kind::ok);    // + visibility read-back
    CHECK(deliver(*sink, influx_batch(100, 100)).kind == Kind::ok);  // + retention read-back
    CHECK(deliver(*sink, influx_batch(100, 100)).kind == Kind::ok);  // the same points again: overwritten
    CHECK(db.count("pm500", "powermonitor_500", "voltage_l1_n_v") == 200);
    const auto c = sink->counters();
    CHECK(c.requests == 3);
    CHECK(c.readbacks == 2);
    CHECK(c.connections == 1);  // one kept-alive connection for writes and read-backs
    CHECK_FALSE(rec.has("raise historian.empty_panels"));
    CHECK_FALSE(rec.has("raise influxdb.write_error"));
    CHECK(rec.find("raise historian.retention_disabled influxdb:").find("\"autogen\" duration 0s (infinite") !=
          std::string::npos);
    CHECK(rec.find("raise historian.high_cardinality").empty());
    // The tags the dashboards query: measurement powermonitor_500, site, asset (and device).
    const std::string tags = db.query("SHOW TAG VALUES FROM \"powermonitor_500\" WITH KEY = \"asset\"", "pm500");
    CHECK(tags.find("feeder 1") != std::string::npos);
    CHECK(db.query("SELECT * FROM \"powermonitor_500\" WHERE \"site\" = 'plant north' AND \"device\" = 'mcc-2' LIMIT 1",
                   "pm500")
              .find("230") != std::string::npos);
  }

  SUBCASE("a database with a finite retention policy is not reported") {
    Recorder rec;
    auto sink = make_influx_sink(v1(db, "database = \"finite\"\nprecision = \"us\"\ngzip = false\n"), cat, &rec);
    REQUIRE(sink);
    CHECK(deliver(*sink, influx_batch(0, 10)).kind == Kind::ok);
    CHECK(deliver(*sink, influx_batch(10, 10)).kind == Kind::ok);
    CHECK(db.count("finite", "powermonitor_500", "pf") == 20);
    CHECK(sink->counters().readbacks == 2);
    CHECK_FALSE(rec.has("raise historian.retention_disabled"));
    CHECK_FALSE(rec.has("raise historian.empty_panels"));
  }

  SUBCASE("missing database: 404 answered as retry naming the database, reported, then cleared") {
    Recorder rec;
    auto sink = make_influx_sink(v1(db, "database = \"nope\"\n"), cat, &rec);
    REQUIRE(sink);
    auto r = deliver(*sink, influx_batch(0, 5));
    CHECK(r.kind == Kind::retry);
    CHECK(r.reason.find("database \"nope\"") != std::string::npos);
    CHECK(r.reason.find("CREATE DATABASE") != std::string::npos);
    CHECK(r.evidence.find("HTTP 404") != std::string::npos);
    CHECK(r.evidence.find("database not found") != std::string::npos);  // the server's own words
    CHECK(r.retry_after == std::chrono::milliseconds(1000));
    CHECK(rec.find("raise influxdb.write_error influxdb: HTTP 404").find("nope") != std::string::npos);
    db.query("CREATE DATABASE nope");
    CHECK(deliver(*sink, influx_batch(0, 5)).kind == Kind::ok);
    CHECK(rec.has("clear influxdb.write_error influxdb"));
  }

  SUBCASE("bad points: 400 (field type conflict) is a reject with the server's message") {
    // Field types are fixed per shard: a string "pf" in the samples' shard (same week).
    const std::int64_t t = influx_sample(0).source_time_ns - 1000;
    REQUIRE(db.write("pm500", "powermonitor_500,asset=feeder\\ 1,device=mcc-1,site=plant\\ north pf=\"text\" " +
                                  std::to_string(t) + "\n") == 204);
    Recorder rec;
    auto sink = make_influx_sink(v1(db, "database = \"pm500\"\n"), cat, &rec);
    REQUIRE(sink);
    auto r = deliver(*sink, influx_batch(0, 4));
    CHECK(r.kind == Kind::reject);
    CHECK(r.evidence.find("HTTP 400") != std::string::npos);
    CHECK(r.evidence.find("field type conflict") != std::string::npos);
    CHECK(r.reason.find("dead-letter") != std::string::npos);
  }

  SUBCASE("413: the batch is split and delivered in halves; the learned size is kept") {
    Recorder rec;
    // 18 values per point (~450 bytes): 400 points (~180 kB) exceed max-body-size 40 000 until
    // cut to 50 points (~23 kB). influxd limits the body as sent, so without gzip here.
    auto sink = make_influx_sink(v1(db, "database = \"pm500\"\nreadback_interval_s = 0\ngzip = false\n"), cat, &rec);
    REQUIRE(sink);
    auto big = influx_batch(1000, 400, 18);
    CHECK(deliver(*sink, big).kind == Kind::ok);
    auto c = sink->counters();
    CHECK(c.splits >= 3);
    REQUIRE(c.split_limit > 0);
    CHECK(c.split_limit <= 100);
    CHECK(c.points == 400);
    CHECK(db.count("pm500", "powermonitor_500", "value_17") == 400);
    const auto requests = c.requests;
    CHECK(deliver(*sink, influx_batch(2000, 400, 18)).kind == Kind::ok);
    CHECK(sink->counters().splits == c.splits);  // cut before sending: no new 413
    CHECK(sink->counters().requests - requests == 400 / c.split_limit + (400 % c.split_limit ? 1 : 0));
    CHECK(db.count("pm500", "powermonitor_500", "value_17") == 800);
  }
}

TEST_CASE("influxd with authentication: wrong credentials are a 401 reported with the fix; right ones write") {
  if (!Influxd::available()) return;
  Influxd db(Influxd::Options{.auth = true});
  db.query("CREATE DATABASE pm500");
  db.query("CREATE USER writer WITH PASSWORD 'right'");
  db.query("GRANT ALL ON pm500 TO writer");
  Catalog cat = influx_catalog();

  Recorder rec;
  auto bad = make_influx_sink(v1(db, "database = \"pm500\"\nusername = \"writer\"\npassword = \"wrong\"\n"), cat, &rec);
  REQUIRE(bad);
  auto r = deliver(*bad, influx_batch(0, 5));
  CHECK(r.kind == Kind::retry);
  CHECK(r.evidence.find("HTTP 401") != std::string::npos);
  CHECK(r.reason.find("username or password") != std::string::npos);
  CHECK(r.reason.find("wrong") != std::string::npos);
  CHECK(r.retry_after == std::chrono::milliseconds(1000));  // slowly: config_error_retry_ms
  const std::string raised = rec.find("raise influxdb.write_error influxdb: HTTP 401");
  CHECK(!raised.empty());
  CHECK(raised.find("right") == std::string::npos);  // secrets are never in reasons or evidence

  auto none = make_influx_sink(v1(db, "database = \"pm500\"\n"), cat, &rec);
  auto r2 = deliver(*none, influx_batch(0, 5));
  CHECK(r2.kind == Kind::retry);
  CHECK(r2.reason.find("requires authentication") != std::string::npos);

  auto good =
      make_influx_sink(v1(db, "database = \"pm500\"\nusername = \"writer\"\npassword = \"right\"\n"), cat, &rec);
  CHECK(deliver(*good, influx_batch(0, 5)).kind == Kind::ok);
  CHECK(db.count("pm500", "powermonitor_500", "pf") == 5);
}
