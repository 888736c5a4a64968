// The InfluxDB sink's probe (`pm500-gateway check`) against a real influxd 1.6 with
// authentication on: the right database passes every step and reports its infinite retention,
// a missing database, a retention policy that does not exist and a wrong password each fail at
// the step that names them -- and the probe writes no point.
#include <doctest/doctest.h>

#include "influxd.hpp"
#include "sinks/influxdb/probe.hpp"

using namespace pm500;
using namespace pm500::test;
using R = SinkProbeResult::Result;

namespace {

const SinkProbeResult* step(const std::vector<SinkProbeResult>& rs, const std::string& what) {
  for (const auto& r : rs)
    if (r.what == what) return &r;
  return nullptr;
}

std::string dump(const std::vector<SinkProbeResult>& rs) {
  std::string s;
  for (const auto& r : rs)
    s += (r.result == R::ok     ? "ok "
          : r.result == R::warn ? "warn "
                                : "fail ") +
         r.what + ": " + r.detail + " [" + r.failure_id + "]\n";
  return s;
}

}  // namespace

TEST_CASE("influxd: the probe passes the right database and fails a missing one, a missing policy, a bad password") {
  if (!Influxd::available()) {
    MESSAGE("influxd not installed: skipped");
    return;
  }
  Influxd db(Influxd::Options{.auth = true});
  db.query("CREATE DATABASE pm500");
  db.query("CREATE DATABASE finite WITH DURATION 2d");
  sinks::InfluxSinkConfig cfg;
  cfg.url = db.url();
  cfg.api = "v1";
  cfg.username = Influxd::kAdmin;
  cfg.password = Influxd::kAdminPassword;
  cfg.timeout_ms = 5000;

  SUBCASE("the right database: every step passes; its infinite retention is a warning") {
    cfg.database = "pm500";
    auto rs = sinks::probe_influxdb(cfg);
    INFO(dump(rs));
    REQUIRE(step(rs, "connect " + db.url()));
    CHECK(step(rs, "connect " + db.url())->result == R::ok);
    REQUIRE(step(rs, "authenticate"));
    CHECK(step(rs, "authenticate")->result == R::ok);
    REQUIRE(step(rs, "database \"pm500\" exists"));
    CHECK(step(rs, "database \"pm500\" exists")->result == R::ok);
    REQUIRE(step(rs, "retention"));
    CHECK(step(rs, "retention")->result == R::warn);
    CHECK(step(rs, "retention")->failure_id == "historian.retention_disabled");
    CHECK(step(rs, "retention")->detail.find("infinite") != std::string::npos);
    // The empty write stored nothing.
    CHECK(db.query("SHOW MEASUREMENTS", "pm500").find("series") == std::string::npos);
  }

  SUBCASE("a database with a finite retention: no warning") {
    cfg.database = "finite";
    auto rs = sinks::probe_influxdb(cfg);
    INFO(dump(rs));
    for (const auto& r : rs) CHECK(r.result == R::ok);
  }

  SUBCASE("a missing database fails at its own step, with the command that creates it") {
    cfg.database = "pm5000";
    auto rs = sinks::probe_influxdb(cfg);
    INFO(dump(rs));
    REQUIRE(step(rs, "database \"pm5000\" exists"));
    CHECK(step(rs, "database \"pm5000\" exists")->result == R::fail);
    CHECK(step(rs, "database \"pm5000\" exists")->detail.find("CREATE DATABASE") != std::string::npos);
    CHECK(rs.back().what == "database \"pm5000\" exists");
  }

  SUBCASE("a retention policy that does not exist fails with the command that creates it") {
    cfg.database = "pm500";
    cfg.retention_policy = "ninety_days";
    auto rs = sinks::probe_influxdb(cfg);
    INFO(dump(rs));
    CHECK(rs.back().result == R::fail);
    CHECK(rs.back().detail.find("CREATE RETENTION POLICY \"ninety_days\"") != std::string::npos);
  }

  SUBCASE("a wrong password fails at authenticate") {
    cfg.database = "pm500";
    cfg.password = "not-the-password";
    auto rs = sinks::probe_influxdb(cfg);
    INFO(dump(rs));
    REQUIRE(step(rs, "authenticate"));
    CHECK(step(rs, "authenticate")->result == R::fail);
    CHECK(step(rs, "authenticate")->detail.find("HTTP 401") != std::string::npos);
  }
}
