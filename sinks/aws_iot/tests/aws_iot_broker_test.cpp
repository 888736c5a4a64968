// The AWS IoT sink against a stand-in for AWS IoT Core: mosquitto with require_certificate,
// use_identity_as_username (the certificate's CN is the identity, as the thing is on AWS) and an
// ACL playing the IoT policy. Documents and shadow updates arrive; certificate problems are
// caught before any connection; a missing publish right is detected (MQTT 5 reason 0x87, since
// mosquitto silently drops unauthorized MQTT 3.1.1 publishes); a rule error message is surfaced;
// the connection closed after CONNECT / PUBLISH is recognised (TLS stand-in, see README); after
// a PUBACK timeout mid-batch the retry publishes only the samples not acknowledged.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "sinks/aws_iot/aws_iot_sink.hpp"
#include "sinks/aws_iot/transport.hpp"
#include "sinks/common/tests/broker_staller.hpp"
#include "sinks/common/tests/mqtt_broker.hpp"
#include "sinks/common/tests/policy_server.hpp"

using namespace pm500;
using namespace pm500::sinks::aws_iot;
using namespace std::chrono_literals;

namespace {

class Recorder : public ConditionSink {
 public:
  void raise(std::string_view id, std::string_view subject, std::string_view evidence) override {
    std::lock_guard lk(mu_);
    events_ += "raise " + std::string(id) + " " + std::string(subject) + ": " + std::string(evidence) + "\n";
  }
  void clear(std::string_view id, std::string_view subject) override {
    std::lock_guard lk(mu_);
    events_ += "clear " + std::string(id) + " " + std::string(subject) + "\n";
  }
  std::string all() {
    std::lock_guard lk(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::string events_;
};

Catalog catalog() {
  Catalog c;
  DeviceMeta m;
  m.name = "mcc-1";
  m.site = "plant";
  m.asset = "feeder 1";
  m.fields[1] = {"voltage_l1_n_v"};
  c.devices.push_back(m);
  m.name = "mcc-2";
  c.devices.push_back(m);
  return c;
}

std::vector<Sample> batch(std::uint32_t n) {
  std::vector<Sample> v;
  for (std::uint32_t i = 0; i < n; ++i) {
    Sample s;
    s.source_time_ns = 1'714'564'800'000'000'000 + static_cast<std::int64_t>(i) * 1'000'000;
    s.device = i % 2;
    s.assembly = 101;
    s.sequence = static_cast<std::uint16_t>(i);
    s.count = 1;
    s.values[0] = 230.0 + i;
    v.push_back(s);
  }
  return v;
}

struct StandIn {
  test::TempDir tmp;
  test::Pki pki{tmp / "pki"};
  test::KeyPair thing = pki.client("gw-1");
  test::KeyPair observer = pki.client("observer");
  test::Mosquitto broker{tmp / "broker", &pki,
                         {.require_certificate = true,
                          .use_identity_as_username = true,
                          .acl = "user gw-1\n"
                                 "topic write dt/pm500/#\n"
                                 "topic write $aws/things/gw-1/shadow/update\n"
                                 "topic read pm500/rule-errors/gw-1\n"
                                 "user observer\n"
                                 "topic read #\n"
                                 "topic read $aws/#\n"
                                 "topic write pm500/rule-errors/#\n"
                                 "topic write pm500-test/ready\n"}};
  std::vector<std::string> observer_auth{"--cert", observer.crt.string(), "--key", observer.key.string()};

  StandIn() { broker.start(); }

  AwsIotConfig config() const {
    AwsIotConfig c;
    c.endpoint = "localhost";  // the test's loopback stand-in for <prefix>-ats.iot.<region>.amazonaws.com
    c.port = broker.port();
    c.thing_name = "gw-1";
    c.cert_file = thing.crt.string();
    c.key_file = thing.key.string();
    c.ca_file = pki.ca_crt().string();
    c.connect_timeout_ms = 3000;
    c.ack_timeout_ms = 3000;
    c.rule_error_topic = "pm500/rule-errors/gw-1";
    return c;
  }
};

}  // namespace

TEST_CASE("aws_iot: documents and shadow updates arrive over mutual TLS; a rule error is surfaced") {
  StandIn s;
  test::Subscriber data(s.broker, s.pki, "dt/#", s.observer_auth, "obs-data");
  test::Subscriber shadow(s.broker, s.pki, "$aws/things/#", s.observer_auth, "obs-shadow");
  REQUIRE(data.ready(s.observer_auth));
  REQUIRE(shadow.ready(s.observer_auth));

  Catalog cat = catalog();
  Recorder rec;
  AwsIotSink sink(s.config(), cat, &rec);
  sink.shadow().set_gateway_version("0.1.0");
  sink.shadow().set_device("mcc-1", "connected");
  sink.shadow().set_device("mcc-2", "no owner (0x0119)");

  auto r = sink.deliver(batch(20));
  INFO(r.reason, " | ", r.evidence, "\n", rec.all());
  REQUIRE(r.kind == DeliveryResult::Kind::ok);
  CHECK(sink.documents_published() == 2);
  REQUIRE(test::eventually([&] { return data.lines().size() >= 2; }, 5s));
  const auto lines = data.lines();
  CHECK(lines[0].starts_with(R"(dt/pm500/plant/mcc-1 {"thing":"gw-1","device":"mcc-1","site":"plant","asset":"feeder 1","samples":[{"time":"2024-05-01T12:00:00.000Z")"));
  CHECK(lines[0].find("\"sequence\":18") != std::string::npos);
  CHECK(lines[0].find("\"sequence\":1,") == std::string::npos);
  CHECK(lines[1].starts_with("dt/pm500/plant/mcc-2 "));

  REQUIRE(test::eventually([&] { return !shadow.lines().empty(); }, 5s));
  CHECK(shadow.lines()[0] ==
        R"j($aws/things/gw-1/shadow/update {"state":{"reported":{"gateway":{"version":"0.1.0"},"devices":{"mcc-1":"connected","mcc-2":"no owner (0x0119)"},"failure_modes":[]}}})j");
  // No change, no update; a change, one update.
  REQUIRE(sink.deliver(batch(2)).kind == DeliveryResult::Kind::ok);
  sink.shadow().set_failure_modes({"aws_iot.rule_delivery_failure"});
  REQUIRE(sink.deliver(batch(2)).kind == DeliveryResult::Kind::ok);
  REQUIRE(test::eventually([&] { return shadow.lines().size() >= 2; }, 5s));
  CHECK(shadow.lines().size() == 2);
  CHECK(shadow.lines()[1].find(R"("failure_modes":["aws_iot.rule_delivery_failure"])") != std::string::npos);

  // AWS IoT's rule error action republishes a failure document to the error topic.
  const std::string rule_error =
      R"j({"ruleName":"pm500_to_kinesis","topic":"dt/pm500/plant/mcc-1","clientId":"gw-1","failures":[{"failedAction":"KinesisAction","failedResource":"pm500-stream","errorMessage":"Failed to send message to Kinesis. The error received was ProvisionedThroughputExceededException (Service: Kinesis; Status Code: 400)"}]})j";
  REQUIRE(test::mosquitto_pub(s.broker, s.pki, "pm500/rule-errors/gw-1", rule_error, s.observer_auth).code == 0);
  REQUIRE(test::eventually([&] { return sink.rule_errors() > 0; }, 5s));
  const std::string events = rec.all();
  CHECK(events.find("raise aws_iot.rule_delivery_failure aws_iot: rule pm500_to_kinesis on topic dt/pm500/plant/mcc-1: "
                    "failedAction KinesisAction, failedResource pm500-stream, errorMessage Failed to send message to Kinesis") !=
        std::string::npos);
  CHECK(events.find("raise cloud.consumer_lag aws_iot: rule pm500_to_kinesis: KinesisAction on pm500-stream is throttled") !=
        std::string::npos);
  CHECK(events.find("aws_iot.connect_failure") == std::string::npos);
}

TEST_CASE("aws_iot: missing, expired and mismatched certificates are caught before connecting") {
  StandIn s;
  Catalog cat = catalog();
  auto expired = s.pki.client("gw-1", false, "20200101000000Z", "20210101000000Z");
  auto other = s.pki.client("gw-2");
  const auto connections = [&] {
    const std::string log = s.broker.log();
    std::size_t n = 0;
    for (auto p = log.find("New connection"); p != std::string::npos; p = log.find("New connection", p + 1)) ++n;
    return n;
  };
  const std::size_t before = connections();

  struct Case {
    const char* what;
    std::function<void(AwsIotConfig&)> change;
    const char* expect;
  };
  const std::vector<Case> cases{
      {"missing", [&](AwsIotConfig& c) { c.cert_file = (s.tmp / "nope.pem.crt").string(); }, "nope.pem.crt: file not found"},
      {"expired", [&](AwsIotConfig& c) { c.cert_file = expired.crt.string(); c.key_file = expired.key.string(); },
       "certificate expired on"},
      {"mismatched", [&](AwsIotConfig& c) { c.key_file = other.key.string(); }, "does not match cert_file"},
      {"CA unparsable", [&](AwsIotConfig& c) { c.ca_file = s.thing.key.string(); }, "holds no PEM CA certificate"},
  };
  for (const auto& k : cases) {
    CAPTURE(k.what);
    Recorder rec;
    auto cfg = s.config();
    k.change(cfg);
    AwsIotSink sink(cfg, cat, &rec);
    auto r = sink.deliver(batch(2));
    CHECK(r.kind == DeliveryResult::Kind::retry);
    CHECK(r.reason.find("certificate files unusable") != std::string::npos);
    CHECK(r.reason.find(k.expect) != std::string::npos);
    CHECK(rec.all().find("raise aws_iot.connect_failure aws_iot: certificate files unusable") != std::string::npos);
  }
  CHECK(connections() == before);  // nothing reached the broker
}

TEST_CASE("aws_iot: a thing without publish rights on its topic is detected (MQTT 5 reason 0x87)") {
  StandIn s;
  Catalog cat = catalog();
  Recorder rec;
  auto cfg = s.config();
  cfg.protocol = "5";
  cfg.topic = "forbidden/{device}";
  AwsIotSink sink(cfg, cat, &rec);
  auto r = sink.deliver(batch(2));
  INFO(r.reason, " | ", r.evidence);
  CHECK(r.kind == DeliveryResult::Kind::retry);
  CHECK(r.reason.find("iot:Publish") != std::string::npos);
  CHECK(r.reason.find("forbidden/mcc-1") != std::string::npos);
  CHECK(r.evidence.find("PUBACK reason code 0x87 (not authorized)") != std::string::npos);
  CHECK(rec.all().find("raise aws_iot.connect_failure aws_iot: publish refused") != std::string::npos);
  // With the right topic the same thing delivers, and the condition clears.
  cfg.topic = "dt/pm500/{site}/{device}";
  AwsIotSink fixed(cfg, cat, &rec);
  CHECK(fixed.deliver(batch(2)).kind == DeliveryResult::Kind::ok);
}

TEST_CASE("aws_iot: connection closed right after CONNECT (iot:Connect) and after PUBLISH (iot:Publish)") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  auto thing = pki.client("gw-1");
  Catalog cat = catalog();
  auto cfg_for = [&](int port) {
    AwsIotConfig c;
    c.endpoint = "localhost";
    c.port = port;
    c.thing_name = "gw-1";
    c.cert_file = thing.crt.string();
    c.key_file = thing.key.string();
    c.ca_file = pki.ca_crt().string();
    c.connect_timeout_ms = 2000;
    c.ack_timeout_ms = 2000;
    c.shadow = false;
    return c;
  };
  SUBCASE("after CONNECT") {
    test::PolicyServer server(pki, test::PolicyServer::Mode::close_after_connect);
    Recorder rec;
    AwsIotSink sink(cfg_for(server.port()), cat, &rec);
    auto r = sink.deliver(batch(2));
    INFO(r.reason, " | ", r.evidence);
    CHECK(r.kind == DeliveryResult::Kind::retry);
    CHECK(r.reason.find("connection closed after CONNECT") != std::string::npos);
    CHECK(r.reason.find("lacks iot:Connect for client id \"gw-1\"") != std::string::npos);
    CHECK(rec.all().find("raise aws_iot.connect_failure aws_iot: connection closed after CONNECT") != std::string::npos);
  }
  SUBCASE("after PUBLISH") {
    test::PolicyServer server(pki, test::PolicyServer::Mode::close_after_publish);
    Recorder rec;
    AwsIotSink sink(cfg_for(server.port()), cat, &rec);
    auto r = sink.deliver(batch(2));
    INFO(r.reason, " | ", r.evidence);
    CHECK(r.kind == DeliveryResult::Kind::retry);
    CHECK(r.reason.find("connection closed after PUBLISH") != std::string::npos);
    CHECK(r.reason.find("lacks iot:Publish") != std::string::npos);
    CHECK(r.reason.find("dt/pm500/plant/mcc-1") != std::string::npos);
  }
}

TEST_CASE("aws_iot: a rule error's hold expires while the broker is away, not only after the next delivery") {
  StandIn s;
  Catalog cat = catalog();
  Recorder rec;
  auto cfg = s.config();
  cfg.rule_error_hold_s = 10;  // the smallest the configuration allows
  AwsIotSink sink(cfg, cat, &rec);
  REQUIRE(sink.deliver(batch(2)).kind == DeliveryResult::Kind::ok);
  const std::string rule_error =
      R"({"ruleName":"r","topic":"dt/pm500/plant/mcc-1","failures":[{"failedAction":"LambdaAction","failedResource":"f","errorMessage":"AccessDeniedException"}]})";
  REQUIRE(test::mosquitto_pub(s.broker, s.pki, "pm500/rule-errors/gw-1", rule_error, s.observer_auth).code == 0);
  REQUIRE(test::eventually([&] { return sink.rule_errors() > 0; }, 5s));
  s.broker.stop();
  std::this_thread::sleep_for(10500ms);
  CHECK(sink.deliver(batch(2)).kind != DeliveryResult::Kind::ok);  // the broker is still away
  const std::string events = rec.all();
  CHECK(events.find("raise aws_iot.rule_delivery_failure") != std::string::npos);
  CHECK(events.find("clear aws_iot.rule_delivery_failure") != std::string::npos);
}

// A PUBACK timeout in the middle of a batch: the stand-in stalls (SIGSTOP) after forwarding some
// of the batch's documents, the sink answers retry, the broker continues (SIGCONT) and the retry
// publishes only the samples whose documents had no PUBACK, packed into new documents. The
// documents cross from the first device to the second, so the mapping from acknowledged
// documents back to samples is checked across a device boundary.
TEST_CASE("aws_iot: a PUBACK timeout mid-batch -- the retry publishes only the samples not acknowledged") {
  StandIn s;
  test::Subscriber data(s.broker, s.pki, "dt/#", s.observer_auth, "obs-data");
  REQUIRE(data.ready(s.observer_auth));
  Catalog cat = catalog();
  Recorder rec;
  auto cfg = s.config();
  cfg.shadow = false;
  cfg.rule_error_topic = "";
  cfg.ack_timeout_ms = 1000;
  cfg.max_payload_kb = 8;  // many small documents
  cfg.max_inflight = 1;    // one after the other: the stall leaves exactly the documents before it acknowledged

  constexpr std::uint32_t kSamples = 2000;
  const auto samples = batch(kSamples);
  std::vector<Document> docs;
  pack_documents(samples, cat, cfg.thing_name, static_cast<std::size_t>(cfg.max_payload_kb) * 1024, docs);
  REQUIRE(docs.size() >= 8);
  std::size_t first_device_docs = 0, largest = 0;
  for (const auto& d : docs) {
    first_device_docs += d.device == 0 ? 1 : 0;
    largest = std::max(largest, d.samples);
  }
  // Stall once the broker forwarded the second device's second document.
  const long stall_after = static_cast<long>(first_device_docs) + 2;
  REQUIRE(static_cast<std::size_t>(stall_after) < docs.size());

  auto staller_settings = session_settings(cfg);
  staller_settings.tls.cert_file = s.observer.crt.string();
  staller_settings.tls.key_file = s.observer.key.string();
  test::BrokerStaller staller(s.broker, staller_settings, "dt/#", stall_after);

  AwsIotSink sink(cfg, cat, &rec);
  const auto first = sink.deliver(samples);
  INFO("first attempt: ", first.reason, " | ", first.evidence);
  REQUIRE(staller.stopped());
  CHECK(first.kind == DeliveryResult::Kind::retry);
  const std::uint64_t acked_docs = sink.documents_published();
  CHECK(acked_docs == 0);  // counted only for a delivered batch
  staller.resume();
  const auto second = sink.deliver(samples);
  INFO("second attempt: ", second.reason, " | ", second.evidence);
  REQUIRE(second.kind == DeliveryResult::Kind::ok);
  // The documents the stall left acknowledged: at least those before the last one forwarded.
  std::size_t at_least = 0;
  for (long k = 0; k + 1 < stall_after; ++k) at_least += docs[static_cast<std::size_t>(k)].samples;
  CHECK(sink.skipped_acknowledged() >= at_least);
  CHECK(sink.skipped_acknowledged() < kSamples);

  std::map<long, int> seen;
  REQUIRE(test::eventually(
      [&] {
        seen.clear();
        for (const auto& l : data.lines())
          for (auto p = l.find("\"sequence\":"); p != std::string::npos; p = l.find("\"sequence\":", p + 1))
            ++seen[std::stol(l.substr(p + 11))];
        return seen.size() >= kSamples;
      },
      15s));
  std::size_t duplicates = 0;
  for (std::uint32_t i = 0; i < kSamples; ++i) {
    auto it = seen.find(static_cast<long>(i));
    CHECK_MESSAGE(it != seen.end(), "sample ", i, " lost");
    if (it != seen.end()) duplicates += static_cast<std::size_t>(it->second - 1);
  }
  MESSAGE("aws_iot PUBACK timeout mid-batch: ", kSamples, " samples in ", docs.size(), " documents, ",
          sink.skipped_acknowledged(), " samples acknowledged before the stall, ", duplicates, " duplicates");
  // At most the one document in flight when the broker stalled arrives twice.
  CHECK(duplicates <= largest);
  CHECK(duplicates <= kSamples - sink.skipped_acknowledged());
}
