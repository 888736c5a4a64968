// The Sparkplug sink in the real pipeline (Ring + SinkDelivery) against mosquitto over TLS, every
// message decoded by the independent decoder: a primary host's STATE gates publishing, the
// samples held meanwhile come back from the spool with is_historical = true; a broker restart
// loses no sample, and the next session is born with the next bdSeq.
#include <doctest/doctest.h>

#include <map>
#include <thread>

#include "pipeline/delivery.hpp"
#include "pipeline/ring.hpp"
#include "sinks/sparkplug/sparkplug_sink.hpp"
#include "sinks/sparkplug/tests/fixtures.hpp"

using namespace pm500;
using namespace pm500::test::sparkplug;
using pm500::sinks::sparkplug::SparkplugSink;
using namespace std::chrono_literals;

namespace {

SinkDelivery::Options delivery_options(const BrokerRig& rig) {
  SinkDelivery::Options o;
  o.name = "sparkplug";
  o.state_dir = rig.state_dir();
  o.delivery.batch_size = 50;
  o.delivery.flush_interval_ms = 20;
  o.delivery.retry_initial_ms = 100;
  o.delivery.retry_max_ms = 500;
  o.delivery.spool_fsync_interval_ms = 100;
  o.delivery.replay_rate = 0;
  o.spool_after = 300ms;
  return o;
}

// Sample n of the one meter: values n, n + 1, ... so every sample says something new.
Sample numbered(std::uint32_t n) { return s101(0, n, static_cast<double>(n)); }

// Where each sample reached the host: its source time (ms) -> the messages that carried it
// (the DBIRTH that a meter's first sample is part of, or a DDATA), and whether as history.
struct Seen {
  std::map<std::uint64_t, int> count;
  std::map<std::uint64_t, bool> historical;
};
Seen seen_samples(const std::vector<DecodedMessage>& msgs) {
  Seen s;
  for (const auto& m : msgs) {
    if (m.type() == "DDATA") {
      REQUIRE_FALSE(m.metrics.empty());
      ++s.count[*m.metrics[0].timestamp];
      s.historical[*m.metrics[0].timestamp] = m.metrics[0].historical;
    } else if (m.type() == "DBIRTH") {
      const auto* v = m.metric("Real-time voltage and current/voltage_l1_n_v");
      REQUIRE(v);
      if (!v->is_null) ++s.count[*v->timestamp];
    }
  }
  return s;
}

}  // namespace

TEST_CASE("sparkplug: nothing is born before the primary host is online; the backlog goes out as history") {
  BrokerRig rig;
  auto& sub = *rig.sub;
  const Catalog cat = meters(1);
  auto cfg = config_for(rig.broker, rig.pki);
  cfg.primary_host_id = "scada";
  cfg.report = "all";
  cfg.host_offline_alert_s = 1;
  REQUIRE(test::mosquitto_pub(rig.broker, rig.pki, "spBv1.0/STATE/scada", "{\"online\": false, \"timestamp\": 1000}",
                              kObserver, true)
              .code == 0);
  Ring ring(4096);
  auto d = SinkDelivery::create(ring, std::make_unique<SparkplugSink>(cfg, cat, &rig.conditions, rig.state_dir()),
                                delivery_options(rig));
  REQUIRE(d);
  (*d)->start();
  constexpr std::uint32_t kHeld = 100, kTotal = 200;
  for (std::uint32_t n = 0; n < kHeld; ++n) {
    ring.push(numbered(n));
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(test::eventually([&] { return (*d)->stats().spooled >= kHeld; }, 5s));
  // Offline longer than host_offline_alert_s: on the status page as mqtt.publish_failure.
  REQUIRE_MESSAGE(test::eventually(
                      [&] {
                        return rig.conditions.log().find("raise mqtt.publish_failure sparkplug/primary-host") !=
                               std::string::npos;
                      },
                      5s),
                  rig.conditions.log());
  CHECK(rig.conditions.log().find("\"scada\" has been offline") != std::string::npos);
  CHECK(sub.count() == 0);  // not even a birth
  CHECK((*d)->stats().last_error.find("primary host application \"scada\" is offline") != std::string::npos);

  REQUIRE(test::mosquitto_pub(rig.broker, rig.pki, "spBv1.0/STATE/scada", "{\"online\": true, \"timestamp\": 2000}",
                              kObserver, true)
              .code == 0);
  for (std::uint32_t n = kHeld; n < kTotal; ++n) {
    ring.push(numbered(n));
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE_MESSAGE(test::eventually([&] { return (*d)->stats().delivered >= kTotal; }, 15s), (*d)->stats().last_error);
  // What arrived while the backlog drained was appended behind it (history too); once the spool
  // is empty the sink delivers live again.
  constexpr std::uint32_t kAfter = kTotal + 20;
  for (std::uint32_t n = kTotal; n < kAfter; ++n) {
    ring.push(numbered(n));
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered >= kAfter; }, 10s));
  (*d)->stop();
  REQUIRE(test::eventually([&] { return sub.count() >= kAfter + 1; }, 10s));
  const auto msgs = sub.messages();
  CHECK(msgs[0].type() == "NBIRTH");
  CHECK(msgs[1].type() == "DBIRTH");
  const Seen seen = seen_samples(msgs);
  bool live = false;
  for (std::uint32_t n = 0; n < kAfter; ++n) {
    const std::uint64_t ms = ms_of(numbered(n));
    INFO("sample ", n);
    REQUIRE(seen.count.count(ms));
    CHECK(seen.count.at(ms) == 1);
    if (n == 0) continue;  // in the DBIRTH
    if (n < kHeld) CHECK(seen.historical.at(ms));  // held while the host was offline: history
    if (!seen.historical.at(ms)) live = true;
    else CHECK_FALSE(live);  // history first, then live, never mixed
  }
  CHECK(live);  // what came after the backlog is live again
  CHECK_FALSE(seen.historical.at(ms_of(numbered(kAfter - 1))));
  CHECK(rig.conditions.log().find("clear mqtt.publish_failure sparkplug/primary-host") != std::string::npos);
}

TEST_CASE("sparkplug: a broker restart loses no sample; the next session has the next bdSeq") {
  BrokerRig rig;
  auto& sub = *rig.sub;
  const Catalog cat = meters(1);
  auto cfg = config_for(rig.broker, rig.pki);
  cfg.report = "all";
  cfg.connect_timeout_ms = 1000;
  Ring ring(4096);
  auto d = SinkDelivery::create(ring, std::make_unique<SparkplugSink>(cfg, cat, &rig.conditions, rig.state_dir()),
                                delivery_options(rig));
  REQUIRE(d);
  (*d)->start();
  // ~100 samples/s for 6 s; the broker is away from 1.5 s to 3.5 s.
  constexpr std::uint32_t kTotal = 600;
  const auto start = std::chrono::steady_clock::now();
  bool stopped = false, restarted = false;
  for (std::uint32_t n = 0; n < kTotal; ++n) {
    ring.push(numbered(n));
    std::this_thread::sleep_for(10ms);
    const auto t = std::chrono::steady_clock::now() - start;
    if (!stopped && t > 1500ms) {
      rig.broker.stop();
      stopped = true;
    }
    if (!restarted && t > 3500ms) {
      rig.broker.start();
      restarted = true;
    }
  }
  REQUIRE_MESSAGE(test::eventually([&] { return (*d)->stats().delivered >= kTotal; }, 20s), (*d)->stats().last_error);
  (*d)->stop();
  const auto stats = (*d)->stats();
  CHECK(stats.spooled > 0);
  std::map<std::uint64_t, int> count;
  std::vector<DecodedMessage> msgs;
  REQUIRE(test::eventually(
      [&] {
        msgs = sub.messages();
        count = seen_samples(msgs).count;
        return count.size() >= kTotal;
      },
      15s));
  std::size_t duplicates = 0;
  for (std::uint32_t n = 0; n < kTotal; ++n) {
    const std::uint64_t ms = ms_of(numbered(n));
    CHECK_MESSAGE(count.count(ms), "sample ", n, " lost");
    if (count.count(ms)) duplicates += static_cast<std::size_t>(count[ms] - 1);
  }
  MESSAGE("broker restart: ", kTotal, " samples, ", count.size(), " distinct received, ", duplicates,
          " duplicates, retries ", stats.retries, ", spooled ", stats.spooled);
  // At least once: a message the broker took but whose PUBACK the restart cut off is sent again
  // (a retry skips everything acknowledged), so at most the messages in flight at the failure.
  CHECK(duplicates <= static_cast<std::size_t>(cfg.max_inflight));
  // Two sessions, each born with its own bdSeq, seq from 0 in each.
  std::vector<std::uint64_t> births;
  for (const auto& m : msgs)
    if (m.type() == "NBIRTH") births.push_back(m.metric("bdSeq")->value.integer);
  REQUIRE(births.size() >= 2);
  CHECK(births[0] == 0u);
  CHECK(births[1] > births[0]);
  CHECK(rig.conditions.log().find("raise mqtt.publish_failure sparkplug:") != std::string::npos);
  CHECK(rig.conditions.log().find("clear mqtt.publish_failure sparkplug") != std::string::npos);
}
