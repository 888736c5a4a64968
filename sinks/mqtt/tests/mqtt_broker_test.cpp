// The MQTT sink against a real mosquitto over TLS: samples arrive with their JSON, the status
// topic is retained, TLS and credential failures are reported as such (with the condition
// mqtt.publish_failure), MQTT 5 reports an unauthorized publish, a broker stopped for a
// while and restarted loses no sample through the real pipeline (SinkDelivery + Ring), and a
// broker stalled mid-batch (SIGSTOP) costs no duplicate of an acknowledged sample, and kill -9
// during replay re-sends no more than the spool's persistence interval allows.
#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "sinks/common/tests/broker_staller.hpp"
#include "sinks/common/tests/mqtt_broker.hpp"
#include "pipeline/delivery.hpp"
#include "pipeline/ring.hpp"
#include "pipeline/spool.hpp"
#include "sinks/mqtt/mqtt_sink.hpp"
#include "sinks/mqtt/tests/fixtures.hpp"

using namespace pm500;
using namespace pm500::sinks::mqtt;
using namespace std::chrono_literals;

namespace {

class Recorder : public ConditionSink {
 public:
  void raise(std::string_view id, std::string_view subject, std::string_view evidence) override {
    std::lock_guard lk(mu_);
    events_.push_back("raise " + std::string(id) + " " + std::string(subject) + ": " + std::string(evidence));
  }
  void clear(std::string_view id, std::string_view subject) override {
    std::lock_guard lk(mu_);
    events_.push_back("clear " + std::string(id) + " " + std::string(subject));
  }
  std::string all() {
    std::lock_guard lk(mu_);
    std::string s;
    for (auto& e : events_) s += e + "\n";
    return s;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

Catalog catalog() { return test::mqtt::two_devices(); }

Sample sample(std::uint32_t n, std::uint32_t device = 0) {
  return test::mqtt::numbered(n, device, 1'714'564'800'123'000'000);
}

MqttSinkConfig config_for(const test::Mosquitto& b, const test::Pki& pki) {
  MqttSinkConfig c;
  c.url = b.url();
  c.ca_file = pki.ca_crt().string();
  c.username = "gw";
  c.password = "gw-secret";
  c.client_id = "pm500-test-gw";
  c.connect_timeout_ms = 3000;
  c.ack_timeout_ms = 3000;
  return c;
}

const std::vector<std::string> kSubAuth{"-u", "observer", "-P", "observer-secret"};

std::map<std::string, std::string> users() { return {{"gw", "gw-secret"}, {"observer", "observer-secret"}}; }

// "sequence":N from a payload line.
long sequence_of(const std::string& line) {
  const auto p = line.find("\"sequence\":");
  return p == std::string::npos ? -1 : std::stol(line.substr(p + 11));
}

}  // namespace

TEST_CASE("mqtt sink: samples arrive over TLS as JSON; status retained; packed mode") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  test::Mosquitto broker(tmp / "broker", &pki, {.users = users()});
  broker.start();
  test::Subscriber sub(broker, pki, "pm500/#", kSubAuth);
  REQUIRE(sub.ready(kSubAuth));

  Catalog cat = catalog();
  Recorder rec;
  {
    MqttSink sink(config_for(broker, pki), cat, &rec);
    std::vector<Sample> batch;
    for (std::uint32_t i = 0; i < 10; ++i) batch.push_back(sample(i, i % 2));
    auto r = sink.deliver(batch);
    INFO(r.reason, " ", r.evidence);
    REQUIRE(r.kind == DeliveryResult::Kind::ok);
    CHECK(sink.published() == 10);
    REQUIRE(test::eventually([&] { return sub.lines().size() >= 11; }, 5s));
    const auto lines = sub.lines();
    CHECK(lines[0] == "pm500/status/pm500-test-gw online");
    CHECK(lines[1] ==
          "pm500/plant/feeder 1/mcc-1/101 {\"device\":\"mcc-1\",\"site\":\"plant\",\"asset\":\"feeder 1\","
          "\"time\":\"2024-05-01T12:00:00.123Z\",\"time_ms\":1714564800123,\"assembly\":101,\"sequence\":0,\"flags\":0,"
          "\"values\":{\"voltage_l1_n_v\":230.5,\"current_l1_a\":0}}");
    CHECK(lines[2].starts_with("pm500/plant/feeder 1/mcc-2/101 {\"device\":\"mcc-2\""));
  }
  // A clean shutdown published "offline", retained: a late subscriber sees it.
  auto st = test::run({test::which("mosquitto_sub").value(), "-h", "localhost", "-p", std::to_string(broker.port()),
                       "--cafile", pki.ca_crt().string(), "-u", "observer", "-P", "observer-secret", "-t",
                       "pm500/status/#", "-C", "1", "-W", "5"},
                      10s);
  CHECK(st.output.find("offline") != std::string::npos);
  CHECK(rec.all().find("raise") == std::string::npos);

  // Packed: one message per device per batch, samples in order.
  auto cfg = config_for(broker, pki);
  cfg.pack = true;
  cfg.status_topic = "";
  cfg.topic = "pm500/packed/{device}";
  MqttSink packed(cfg, cat, &rec);
  std::vector<Sample> batch;
  for (std::uint32_t i = 0; i < 6; ++i) batch.push_back(sample(100 + i, i / 3));
  REQUIRE(packed.deliver(batch).kind == DeliveryResult::Kind::ok);
  std::vector<std::string> packed_lines;
  REQUIRE(test::eventually(
      [&] {
        packed_lines.clear();
        for (const auto& l : sub.lines())
          if (l.starts_with("pm500/packed/")) packed_lines.push_back(l);
        return packed_lines.size() >= 2;
      },
      5s));
  CHECK(packed_lines.size() == 2);
  const std::string& p0 = packed_lines[0];
  CHECK(p0.starts_with("pm500/packed/mcc-1 {\"device\":\"mcc-1\",\"site\":\"plant\",\"asset\":\"feeder 1\",\"samples\":[{\"time\":"));
  CHECK(p0.find("\"sequence\":100") < p0.find("\"sequence\":101"));
  CHECK(p0.find("\"sequence\":102") != std::string::npos);
  CHECK(p0.find("\"sequence\":103") == std::string::npos);
  CHECK(packed_lines[1].starts_with("pm500/packed/mcc-2 "));
}

TEST_CASE("mqtt sink: wrong CA, wrong password and unauthorized publish are reported as such") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  test::Mosquitto broker(tmp / "broker", &pki,
                         {.users = users(), .acl = "user gw\ntopic write pm500/#\nuser observer\ntopic read #\n"});
  broker.start();
  Catalog cat = catalog();
  std::vector<Sample> batch{sample(1)};

  SUBCASE("wrong CA") {
    Recorder rec;
    auto cfg = config_for(broker, pki);
    cfg.ca_file = pki.other_ca_crt().string();
    MqttSink sink(cfg, cat, &rec);
    auto r = sink.deliver(batch);
    CHECK(r.kind == DeliveryResult::Kind::retry);
    CHECK(r.reason.find("TLS certificate verify failed") != std::string::npos);
    CHECK(r.reason.find("unknown CA") != std::string::npos);
    CHECK(r.evidence.find("certificate verify failed") != std::string::npos);
    CHECK(rec.all().find("raise mqtt.publish_failure mqtt: TLS certificate verify failed") != std::string::npos);
  }
  SUBCASE("wrong password") {
    Recorder rec;
    auto cfg = config_for(broker, pki);
    cfg.password = "not-the-password";
    MqttSink sink(cfg, cat, &rec);
    auto r = sink.deliver(batch);
    CHECK(r.kind == DeliveryResult::Kind::retry);
    CHECK(r.reason.find("authentication refused") != std::string::npos);
    CHECK(r.evidence.find("CONNACK return code 5") != std::string::npos);
    CHECK(rec.all().find("raise mqtt.publish_failure mqtt: authentication refused") != std::string::npos);
    CHECK(rec.all().find("not-the-password") == std::string::npos);
    // Fixed credentials: the next attempt delivers and the condition clears.
  }
  SUBCASE("MQTT 5: publish not authorized (PUBACK 0x87), then recovery clears the condition") {
    Recorder rec;
    auto cfg = config_for(broker, pki);
    cfg.protocol = "5";
    cfg.topic = "forbidden/{device}";
    cfg.status_topic = "";
    {
      MqttSink sink(cfg, cat, &rec);
      auto r = sink.deliver(batch);
      CHECK(r.kind == DeliveryResult::Kind::retry);
      CHECK(r.reason.find("publish refused") != std::string::npos);
      CHECK(r.evidence.find("0x87") != std::string::npos);
    }
    cfg.topic = "pm500/{device}";
    MqttSink ok_sink(cfg, cat, &rec);
    CHECK(ok_sink.deliver(batch).kind == DeliveryResult::Kind::ok);
    CHECK(rec.all().find("raise mqtt.publish_failure mqtt: publish refused") != std::string::npos);
  }
}

TEST_CASE("mqtt sink: broker stopped and restarted -- no sample lost, duplicates counted") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  test::Mosquitto broker(tmp / "broker", &pki, {.users = users()});
  broker.start();
  test::Subscriber sub(broker, pki, "pm500/#", kSubAuth);
  REQUIRE(sub.ready(kSubAuth));

  Catalog cat = catalog();
  Recorder rec;
  Ring ring(4096);
  auto cfg = config_for(broker, pki);
  cfg.status_topic = "";
  cfg.connect_timeout_ms = 1000;
  SinkDelivery::Options o;
  o.name = "mqtt";
  o.state_dir = tmp / "state";
  o.conditions = &rec;
  o.delivery.batch_size = 50;
  o.delivery.flush_interval_ms = 20;
  o.delivery.retry_initial_ms = 100;
  o.delivery.retry_max_ms = 500;
  o.delivery.spool_fsync_interval_ms = 100;
  o.delivery.replay_rate = 0;
  o.spool_after = 500ms;
  auto d = SinkDelivery::create(ring, std::make_unique<MqttSink>(cfg, cat, &rec), o);
  REQUIRE(d);
  (*d)->start();

  // ~100 samples/s for 9 s; the broker is away from 2 s to 5 s.
  constexpr std::uint32_t kTotal = 900;
  std::uint32_t pushed = 0;
  const auto start = std::chrono::steady_clock::now();
  bool stopped = false, restarted = false;
  while (pushed < kTotal) {
    ring.push(sample(pushed++));
    std::this_thread::sleep_for(10ms);
    const auto t = std::chrono::steady_clock::now() - start;
    if (!stopped && t > 2s) {
      broker.stop();
      stopped = true;
    }
    if (!restarted && t > 5s) {
      broker.start();
      restarted = true;
    }
  }
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered >= kTotal; }, 20s));
  (*d)->stop();
  const auto stats = (*d)->stats();
  INFO("delivered ", stats.delivered, " spooled ", stats.spooled, " replayed ", stats.replayed, " retries ", stats.retries,
       " last error: ", stats.last_error);
  CHECK(stats.spooled > 0);
  CHECK(stats.retries > 0);

  // Every sample reached the subscriber at least once.
  std::map<long, int> seen;
  REQUIRE(test::eventually(
      [&] {
        seen.clear();
        for (const auto& l : sub.lines()) ++seen[sequence_of(l)];
        return seen.size() >= kTotal;
      },
      15s));
  std::size_t duplicates = 0;
  for (std::uint32_t i = 0; i < kTotal; ++i) {
    CHECK_MESSAGE(seen.count(static_cast<long>(i)), "sample ", i, " lost");
    if (seen.count(static_cast<long>(i))) duplicates += static_cast<std::size_t>(seen[static_cast<long>(i)] - 1);
  }
  MESSAGE("broker restart: ", kTotal, " samples, ", seen.size(), " distinct received, ", duplicates,
          " duplicates (QoS 1 at-least-once), retries ", stats.retries, ", spooled ", stats.spooled);
  // At-least-once: duplicates only from batches cut by the outage, never more than a few batches.
  CHECK(duplicates <= 4 * static_cast<std::size_t>(o.delivery.batch_size));
  const std::string events = rec.all();
  CHECK(events.find("raise mqtt.publish_failure mqtt:") != std::string::npos);
  CHECK(events.find("clear mqtt.publish_failure mqtt") != std::string::npos);
}

namespace {

// How often each sequence arrived at the subscriber (every sample of a packed message counted),
// waiting until every one of 0..n-1 did.
std::map<long, int> receive_all(const test::Subscriber& sub, std::uint32_t n) {
  std::map<long, int> seen;
  test::eventually(
      [&] {
        seen.clear();
        for (const auto& l : sub.lines())
          for (auto p = l.find("\"sequence\":"); p != std::string::npos; p = l.find("\"sequence\":", p + 1))
            ++seen[sequence_of(l.substr(p))];
        return seen.size() >= n;
      },
      15s);
  return seen;
}

std::size_t duplicates_in(const std::map<long, int>& seen, std::uint32_t n) {
  std::size_t d = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    auto it = seen.find(static_cast<long>(i));
    CHECK_MESSAGE(it != seen.end(), "sample ", i, " lost");
    if (it != seen.end()) d += static_cast<std::size_t>(it->second - 1);
  }
  return d;
}

// The sink's broker settings with the observer's credentials (for the staller's subscription).
mqttc::SessionSettings observer_settings(const MqttSinkConfig& cfg) {
  auto s = session_settings(cfg);
  s.username = "observer";
  s.password = "observer-secret";
  return s;
}

}  // namespace

// One PUBACK timeout in the middle of a batch used to cost the whole batch again (281 duplicates
// measured at a loaded broker). The broker is stopped (SIGSTOP) after 300 of 3000 samples (or
// the second of ten packed documents) went through: the publishes in flight time out, the sink
// answers retry, the broker continues (SIGCONT) and the retry publishes only what had no PUBACK.
TEST_CASE("mqtt sink: a PUBACK timeout mid-batch -- the retry publishes only what was not acknowledged") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  test::Mosquitto broker(tmp / "broker", &pki, {.users = users()});
  broker.start();
  test::Subscriber sub(broker, pki, "pm500/#", kSubAuth);
  REQUIRE(sub.ready(kSubAuth));

  Catalog cat = catalog();
  for (int n = 3; n <= 10; ++n) {
    cat.devices.push_back(cat.devices[0]);
    cat.devices.back().name = "mcc-" + std::to_string(n);
  }
  Recorder rec;
  auto cfg = config_for(broker, pki);
  cfg.status_topic = "";
  cfg.ack_timeout_ms = 1000;
  cfg.max_inflight = 20;
  constexpr std::uint32_t kBatch = 3000;
  std::vector<Sample> batch;
  long stall_after = 300;
  std::size_t at_least_acked = 0, in_flight_samples = 0;
  SUBCASE("one message per sample") {
    for (std::uint32_t i = 0; i < kBatch; ++i) batch.push_back(sample(i, i % 2));
    // The broker forwarded 300: the sink, at most max_inflight ahead, had 280 PUBACKs by then.
    at_least_acked = 300 - static_cast<std::size_t>(cfg.max_inflight);
    in_flight_samples = static_cast<std::size_t>(cfg.max_inflight);
  }
  SUBCASE("packed: one message per device per batch") {
    cfg.pack = true;
    cfg.max_inflight = 1;  // the documents go one after the other
    // Ten devices, ten documents of 300 samples; the broker stalls after forwarding the second,
    // which the sink sent only after the first one's PUBACK.
    for (std::uint32_t i = 0; i < kBatch; ++i) batch.push_back(sample(i, i / (kBatch / 10)));
    stall_after = 2;
    at_least_acked = kBatch / 10;
    in_flight_samples = kBatch / 10;
  }
  test::BrokerStaller staller(broker, observer_settings(cfg), "pm500/#", stall_after);

  MqttSink sink(cfg, cat, &rec);
  const auto first = sink.deliver(batch);
  INFO("first attempt: ", first.reason, " | ", first.evidence);
  REQUIRE(staller.stopped());
  CHECK(first.kind == DeliveryResult::Kind::retry);
  CHECK(first.reason.find("no PUBACK") != std::string::npos);
  const std::size_t acknowledged = sink.remembered_acknowledged();
  CHECK(acknowledged >= at_least_acked);
  CHECK(acknowledged < kBatch);

  staller.resume();
  const auto second = sink.deliver(batch);
  INFO("second attempt: ", second.reason, " | ", second.evidence);
  REQUIRE(second.kind == DeliveryResult::Kind::ok);
  CHECK(sink.skipped_acknowledged() == acknowledged);
  CHECK(sink.remembered_acknowledged() == 0);
  if (!cfg.pack) CHECK(sink.published() == kBatch - acknowledged);

  const auto seen = receive_all(sub, kBatch);
  const std::size_t duplicates = duplicates_in(seen, kBatch);
  MESSAGE("PUBACK timeout mid-batch", std::string(cfg.pack ? " (packed)" : ""), ": ", kBatch, " samples, ", acknowledged,
          " acknowledged before the broker stalled, ", duplicates, " duplicates");
  // Only publishes in flight when the broker stalled may arrive twice: the broker forwards them
  // when it continues, and the retry sends them again. An acknowledged sample never does.
  CHECK(duplicates <= in_flight_samples);
  CHECK(duplicates <= kBatch - acknowledged);
  CHECK(rec.all().find("clear mqtt.publish_failure mqtt") != std::string::npos);
}

// Streaming (Sink::stream(), the pipeline's healthy path): new samples go out while earlier
// ones wait for their PUBACK, up to max_inflight, and a stream that breaks hands back only what
// the broker did not acknowledge. The test plays the pipeline's part: it keeps the unconfirmed
// samples, drops the confirmed ones from the front, and retries the rest through deliver().
TEST_CASE("mqtt sink: streams past unacknowledged publishes; a broken stream resends only what had no PUBACK") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  test::Mosquitto broker(tmp / "broker", &pki, {.users = users()});
  broker.start();
  test::Subscriber sub(broker, pki, "pm500/#", kSubAuth);
  REQUIRE(sub.ready(kSubAuth));

  Catalog cat = catalog();
  Recorder rec;
  auto cfg = config_for(broker, pki);
  cfg.status_topic = "";
  cfg.ack_timeout_ms = 1000;
  cfg.max_inflight = 20;
  MqttSink sink(cfg, cat, &rec);
  std::atomic<int> wakes{0};
  sink.set_waker([&] { wakes.fetch_add(1); });

  std::vector<Sample> pending;
  std::size_t sent = 0, confirmed_total = 0;
  std::optional<DeliveryResult> failure;
  auto pump = [&] {
    const StreamProgress p = sink.stream(pending, sent);
    REQUIRE(p.confirmed <= p.sent);
    REQUIRE(p.sent <= pending.size());
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(p.confirmed));
    confirmed_total += p.confirmed;
    sent = p.sent - p.confirmed;
    if (p.failure) failure = p.failure;
    return p;
  };
  std::uint32_t next = 0;
  auto add = [&](std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i, ++next) pending.push_back(sample(next, next % 2));
  };

  // Connected and flowing.
  add(1);
  pump();
  REQUIRE(test::eventually([&] { return pump(), pending.empty(); }, 5s));
  CHECK(wakes.load() >= 1);  // the PUBACK woke the (pretend) delivery thread

  // The broker stalls: the sink still publishes a full window without waiting for a PUBACK,
  // and no more than that.
  REQUIRE(broker.signal(SIGSTOP));
  add(100);
  const StreamProgress out = pump();
  CHECK(out.sent == static_cast<std::size_t>(cfg.max_inflight));
  CHECK(out.confirmed == 0);
  CHECK(sink.in_flight() == static_cast<std::size_t>(cfg.max_inflight));
  CHECK(pump().sent == static_cast<std::size_t>(cfg.max_inflight));  // window full: nothing more
  REQUIRE(broker.signal(SIGCONT));
  REQUIRE(test::eventually([&] { return pump(), pending.empty() || failure; }, 10s));
  REQUIRE_FALSE(failure);
  CHECK(confirmed_total == 101);

  // A stall longer than ack_timeout breaks the stream: the unacknowledged samples come back,
  // and the retry through deliver() skips the ones whose PUBACK did arrive.
  test::BrokerStaller staller(broker, observer_settings(cfg), "pm500/#", 10);
  add(200);
  REQUIRE(test::eventually([&] { return pump(), failure.has_value(); }, 10s));
  CHECK(failure->kind == DeliveryResult::Kind::retry);
  CHECK(rec.all().find("raise mqtt.publish_failure") != std::string::npos);
  CHECK(sink.in_flight() == 0);
  REQUIRE_FALSE(pending.empty());
  const std::size_t acknowledged = sink.remembered_acknowledged();
  CHECK(acknowledged < pending.size());
  staller.resume();
  const auto retry = sink.deliver(pending);
  INFO("retry: ", retry.reason, " | ", retry.evidence);
  REQUIRE(retry.kind == DeliveryResult::Kind::ok);
  CHECK(sink.skipped_acknowledged() == acknowledged);
  confirmed_total += pending.size();
  CHECK(confirmed_total == 301);

  const auto seen = receive_all(sub, 301);
  const std::size_t duplicates = duplicates_in(seen, 301);
  // Only publishes in flight when the broker stalled may arrive twice.
  CHECK(duplicates <= static_cast<std::size_t>(cfg.max_inflight));
}

// The same through the pipeline: SinkDelivery retries the failed batch from memory (a short
// stall), or after spool_after from the spool (read back as it was written), and either way the
// acknowledged samples are not sent again.
TEST_CASE("mqtt sink: through the pipeline, a broker stalled mid-batch resends no acknowledged sample") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  test::Mosquitto broker(tmp / "broker", &pki, {.users = users()});
  broker.start();
  test::Subscriber sub(broker, pki, "pm500/#", kSubAuth);
  REQUIRE(sub.ready(kSubAuth));

  Catalog cat = catalog();
  Recorder rec;
  auto cfg = config_for(broker, pki);
  cfg.status_topic = "";
  cfg.ack_timeout_ms = 1000;
  cfg.connect_timeout_ms = 2000;  // attempts while the broker is stalled each wait this long (twice: the probe)
  cfg.max_inflight = 20;
  SinkDelivery::Options o;
  o.name = "mqtt";
  o.state_dir = tmp / "state";
  o.conditions = &rec;
  o.delivery.batch_size = 2000;
  o.delivery.flush_interval_ms = 20;
  o.delivery.retry_initial_ms = 100;
  o.delivery.retry_max_ms = 300;
  o.delivery.spool_fsync_interval_ms = 100;
  o.delivery.replay_rate = 0;
  bool from_spool = false;
  SUBCASE("retried from memory") { o.spool_after = 20s; }
  SUBCASE("retried from the spool") {
    from_spool = true;
    o.spool_after = 300ms;
  }
  test::BrokerStaller staller(broker, observer_settings(cfg), "pm500/#", 300);

  Ring ring(8192);
  auto d = SinkDelivery::create(ring, std::make_unique<MqttSink>(cfg, cat, &rec), o);
  REQUIRE(d);
  constexpr std::uint32_t kTotal = 2000;
  for (std::uint32_t i = 0; i < kTotal; ++i) ring.push(sample(i, i % 2));
  (*d)->start();  // one batch of 2000

  REQUIRE(test::eventually([&] { return staller.stopped(); }, 10s));
  if (from_spool)
    REQUIRE(test::eventually([&] { return (*d)->stats().state == SinkState::spooling && (*d)->stats().spooled > 0; }, 15s));
  else
    REQUIRE(test::eventually([&] { return (*d)->stats().retries >= 1; }, 5s));
  staller.resume();
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered >= kTotal; }, 15s));
  (*d)->stop();
  const auto stats = (*d)->stats();
  INFO("delivered ", stats.delivered, " spooled ", stats.spooled, " replayed ", stats.replayed, " retries ",
       stats.retries, " last error: ", stats.last_error);
  CHECK(stats.retries >= 1);
  CHECK(stats.delivered == kTotal);
  // Live samples stream: what the broker acknowledged before it stalled (at most the 300 it
  // forwarded and the window behind them) is delivered live; the rest is retried.
  if (from_spool) {
    CHECK(stats.replayed > 0);
    CHECK(stats.delivered - stats.replayed <= 300 + static_cast<std::size_t>(cfg.max_inflight));
  } else {
    CHECK(stats.spooled == 0);
  }

  const auto seen = receive_all(sub, kTotal);
  const std::size_t duplicates = duplicates_in(seen, kTotal);
  MESSAGE("pipeline, broker stalled after 300 samples, retried from ", std::string(from_spool ? "the spool" : "memory"), ": ",
          kTotal, " samples, ", duplicates, " duplicates");
  CHECK(duplicates <= static_cast<std::size_t>(cfg.max_inflight));
}

// kill -9 while the spool is replayed: what the next run sends again is bounded by how often the
// spool's acknowledged offset is persisted. Replay at R samples/s in batches of B, offset
// persisted every I ms: the crash forgets the acknowledgements of at most I ms (plus the one
// deliver() running when the interval ran out) and of the batch in flight, so the broker sees at
// most R*I/1000 + 2*B samples twice (sinks/mqtt/README.md, "After a crash").
TEST_CASE("mqtt sink: kill -9 during replay -- duplicates within R x spool_fsync_interval_ms + 2 batches") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  test::Mosquitto broker(tmp / "broker", &pki, {.users = users()});
  broker.start();
  test::Subscriber sub(broker, pki, "pm500/#", kSubAuth);
  REQUIRE(sub.ready(kSubAuth));

  constexpr std::uint32_t kTotal = 4000;
  constexpr long kRate = 1000, kBatch = 100, kFsyncMs = 300;
  const test::fs::path state = tmp / "state";
  {
    auto spool = Spool::open({.dir = state / "sinks" / "mqtt" / "spool"});
    REQUIRE(spool);
    std::vector<Sample> all;
    for (std::uint32_t i = 0; i < kTotal; ++i) all.push_back(sample(i, i % 2));
    REQUIRE((*spool)->append(all));
    REQUIRE((*spool)->sync());
  }
  auto child = [&] {
    return std::make_unique<test::Process>(std::vector<std::string>{
        PM500_MQTT_REPLAY_CHILD, state.string(), broker.url(), pki.ca_crt().string(), "gw", "gw-secret",
        std::to_string(kRate), std::to_string(kBatch), std::to_string(kFsyncMs)});
  };
  auto distinct = [&] {
    std::set<long> s;
    for (const auto& l : sub.lines()) s.insert(sequence_of(l));
    return s.size();
  };

  // First run: killed with SIGKILL in the middle of the replay (after ~1.5 s of it).
  auto first = child();
  REQUIRE_MESSAGE(test::eventually([&] { return distinct() >= 1500; }, 10s), first->log());
  REQUIRE(first->signal(SIGKILL));
  REQUIRE(first->wait(5s).value_or(0) == 128 + SIGKILL);
  const std::size_t at_kill = distinct();

  // Second run: replays from the persisted offset to the end.
  auto second = child();
  const auto seen = receive_all(sub, kTotal);
  second->signal(SIGTERM);
  CHECK(second->wait(10s).value_or(-1) == 0);
  const std::size_t duplicates = duplicates_in(seen, kTotal);
  const std::size_t bound = static_cast<std::size_t>(kRate * kFsyncMs / 1000 + 2 * kBatch);
  MESSAGE("kill -9 during replay at ", kRate, " samples/s, batch ", kBatch, ", spool_fsync_interval_ms ", kFsyncMs,
          ": ", at_kill, " of ", kTotal, " received before the kill, ", duplicates, " duplicates (bound ", bound, ")");
  INFO("second run: ", second->log());
  CHECK(duplicates <= bound);
}
