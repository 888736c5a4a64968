// Outage and recovery through the real pipeline: Ring -> SinkDelivery -> InfluxSink -> influxd.
// influxd is stopped mid-run and restarted; afterwards every point is present exactly once
// (InfluxDB overwrites identical points, so at-least-once with source timestamps is exactly-once).
#include <doctest/doctest.h>

#include <thread>

#include "common.hpp"
#include "influxd.hpp"
#include "pipeline/delivery.hpp"
#include "pipeline/ring.hpp"

using namespace pm500;
using namespace pm500::test;
using namespace std::chrono_literals;

TEST_CASE("influxd stopped mid-run, then restarted: every point arrives exactly once") {
  if (!Influxd::available()) {
    MESSAGE("influxd not installed: skipped");
    return;
  }
  Influxd db;
  db.query("CREATE DATABASE pm500");
  Catalog cat = influx_catalog();
  TempDir state;
  Recorder rec;
  auto sink = make_influx_sink(
      "url = \"" + db.url() + "\"\ndatabase = \"pm500\"\ntimeout_ms = 1000\nreadback_interval_s = 0\n", cat, &rec);
  REQUIRE(sink);

  Ring ring(8192);
  SinkDelivery::Options o;
  o.name = "influxdb";
  o.state_dir = state.path();
  o.delivery.batch_size = 200;
  o.delivery.flush_interval_ms = 20;
  o.delivery.retry_initial_ms = 50;
  o.delivery.retry_max_ms = 300;
  o.delivery.spool_fsync_interval_ms = 100;
  o.delivery.replay_rate = 0;
  o.poll_interval = 2ms;
  o.spool_after = 300ms;
  o.stop_timeout = 10s;
  o.conditions = &rec;
  auto d = SinkDelivery::create(ring, std::move(sink), o);
  REQUIRE(d);
  (*d)->start();

  // 6 000 samples at ~2 000/s in three phases: up, down (influxd stopped), up again.
  constexpr std::uint64_t kN = 6000;
  std::uint64_t n = 0;
  auto produce = [&](std::uint64_t until) {
    for (; n < until; ++n) {
      ring.push(influx_sample(n, static_cast<std::uint32_t>(n % 2)));
      if (n % 20 == 0) std::this_thread::sleep_for(10ms);
    }
  };
  produce(2000);
  db.stop();
  produce(4000);                    // ~1 s of samples while influxd is down
  std::this_thread::sleep_for(2s);  // and a few seconds more outage
  auto during = (*d)->stats();
  CHECK(during.retries > 0);
  CHECK(during.spooled > 0);  // the spool took the samples
  db.start();
  produce(kN);

  const bool all = eventually([&] { return (*d)->stats().delivered >= kN; }, 20s);
  auto st = (*d)->stats();
  CHECK_MESSAGE(all, "delivered " << st.delivered << " of " << kN << "; last error: " << st.last_error);
  (*d)->stop();
  st = (*d)->stats();
  CHECK(st.delivered == kN);
  CHECK(st.rejected == 0);
  CHECK(st.dropped_overrun == 0);
  CHECK(st.spool_backlog == 0);
  CHECK(db.count("pm500", "powermonitor_500", "voltage_l1_n_v") == static_cast<std::int64_t>(kN));
  // The outage was reported with the transport's evidence (refused while influxd was down).
  const std::string ev = rec.find("raise influxdb.write_error");
  CHECK(ev.find("connection refused: 127.0.0.1:") != std::string::npos);
  CHECK(ev.find("refused") != std::string::npos);
  CHECK(rec.has("clear influxdb.write_error"));
}
