// The troubleshooting guide's two remaining cloud rows, end to end: the real pm500-gateway binary
// with its embedded simulated meters and an aws_iot sink, against a stand-in for AWS IoT Core (a
// real mosquitto with mutual TLS, the certificate's CN as the identity and an ACL playing the IoT
// policy) on loopback.
//
// - aws_iot.rule_delivery_failure: what AWS IoT's rule error action republishes when a rule's
//   action fails (here an IAM AccessDenied on a Lambda action) is published to the gateway's
//   rule_error_topic while it delivers; raised with failedAction, failedResource and errorMessage,
//   cleared rule_error_hold_s after the last error message.
// - cloud.consumer_lag: a rule error whose Kinesis action was throttled
//   (ProvisionedThroughputExceededException); and the gateway's own outgoing bytes/s above the
//   configured shard capacity (kinesis_shards x 1 MiB/s over kinesis_window_s).
//
// Loopback addresses 127.0.0.71..127.0.0.79 belong to this file (one per simulated meter).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "sinks/common/tests/mqtt_broker.hpp"
#include "support/gateway.hpp"

using namespace pm500::test;

namespace {

const std::string kRuleErrorTopic = "pm500/rule-errors/gw-1";

// A stand-in for AWS IoT Core, as in sinks/aws_iot/tests/aws_iot_broker_test.cpp: the thing gw-1
// may publish its documents and shadow and read its rule error topic; the observer (playing AWS
// IoT's rule engine) reads everything and writes the rule error topic.
struct AwsStandIn {
  TempDir tmp;
  Pki pki{tmp / "pki"};
  KeyPair thing = pki.client("gw-1");
  KeyPair observer = pki.client("observer");
  Mosquitto broker{tmp / "broker",
                   &pki,
                   {.require_certificate = true,
                    .use_identity_as_username = true,
                    .acl = "user gw-1\n"
                           "topic write dt/pm500/#\n"
                           "topic write $aws/things/gw-1/shadow/update\n"
                           "topic read " +
                           kRuleErrorTopic +
                           "\n"
                           "user observer\n"
                           "topic read #\n"
                           "topic read $aws/#\n"
                           "topic write pm500/rule-errors/#\n"
                           "topic write pm500-test/ready\n"}};
  std::vector<std::string> observer_auth{"--cert", observer.crt.string(), "--key", observer.key.string()};

  AwsStandIn() { broker.start(); }

  // The [sinks.aws_iot] table for the gateway; `extra` adds or overrides keys.
  std::string sink(const std::string& extra) const {
    return "[sinks.aws_iot]\nendpoint = \"localhost\"\nport = " + std::to_string(broker.port()) +
           "\nthing_name = \"gw-1\"\ncert_file = \"" + thing.crt.string() + "\"\nkey_file = \"" + thing.key.string() +
           "\"\nca_file = \"" + pki.ca_crt().string() +
           "\"\nconnect_timeout_ms = 2000\nack_timeout_ms = 2000\n"
           "retry_initial_ms = 100\nretry_max_ms = 1000\nrule_error_topic = \"" +
           kRuleErrorTopic + "\"\n" + extra;
  }

  // The gateway's session subscribed to the rule error topic (mosquitto logs each SUBSCRIBE).
  bool gateway_subscribed() const { return broker.log().find(kRuleErrorTopic + " (QoS 1)") != std::string::npos; }

  // AWS IoT's rule engine republishing a failure document to the error topic.
  RunResult rule_error(const std::string& document) const {
    return mosquitto_pub(broker, pki, kRuleErrorTopic, document, observer_auth);
  }
};

struct GatewayRun : SimulatedGateway {
  GatewayRun(const std::string& first_address, int meters, int rpi_ms, const std::string& assemblies,
             const std::string& sinks)
      : SimulatedGateway(first_address, meters, sinks, rpi_ms, assemblies) {}
};

bool has_line(Process& gw, const std::string& text) {
  return gw.log().find(text) != std::string::npos;
}

// The value of pm500_failure_active{id="<id>",level="L3"} in /metrics ("1", "0"), or "" when absent.
// The status server rebuilds its view at most every so often: right after a RAISED or CLEARED
// line, poll with eventually().
std::string failure_active(const std::string& base, const std::string& id) {
  const std::string m = http_get(base + "/metrics").output;
  const std::string series = "\npm500_failure_active{id=\"" + id + "\",level=\"L3\"} ";
  const auto p = m.find(series);
  if (p == std::string::npos) return {};
  const auto v = p + series.size();
  return m.substr(v, m.find('\n', v) - v);
}

// The current evidence of an active failure mode in /api/status (refreshed on every raise while
// it stays active), or "" when it is not listed.
std::string status_evidence(const std::string& base, const std::string& id, const std::string& subject) {
  const std::string j = http_get(base + "/api/status").output;
  const auto p = j.find("{\"id\":\"" + id + "\",\"subject\":\"" + subject + "\"");
  if (p == std::string::npos) return {};
  const auto e = j.find("\"evidence\":\"", p);
  if (e == std::string::npos) return {};
  const auto v = e + 12;
  return j.substr(v, j.find('"', v) - v);
}

// Documents the observer received: how many, and their payload bytes.
struct Received {
  std::size_t documents = 0, bytes = 0;
};
Received received(const Subscriber& sub) {
  Received r;
  for (const auto& l : sub.lines()) {
    const auto sp = l.find(' ');
    if (sp == std::string::npos) continue;
    ++r.documents;
    r.bytes += l.size() - sp - 1;
  }
  return r;
}

// "outgoing <records> records/s and <bytes> bytes/s exceed ..." -> the two rates (-1 when absent).
std::pair<double, double> rates(const std::string& evidence) {
  double records = -1, bytes = -1;
  const auto p = evidence.find("outgoing ");
  if (p == std::string::npos ||
      std::sscanf(evidence.c_str() + p, "outgoing %lf records/s and %lf bytes/s", &records, &bytes) != 2)
    return {-1, -1};
  return {records, bytes};
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One meter, three assemblies every 100 ms: a few kB/s, far below one shard.
const std::string kLightLoad = "101, 102, 107";

}  // namespace

TEST_SUITE("cloud rows e2e") {
  TEST_CASE(
      "aws_iot.rule_delivery_failure: an IAM AccessDenied from a rule's Lambda action is raised with failedAction, "
      "failedResource and errorMessage; no consumer lag; cleared rule_error_hold_s after the last error") {
    AwsStandIn s;
    Subscriber data(s.broker, s.pki, "dt/#", s.observer_auth, "e2e-cloud-data-1");
    REQUIRE(data.ready(s.observer_auth));
    // rule_error_hold_s = 10 is the option's minimum. kinesis_shards = 1 arms the rate side of
    // cloud.consumer_lag, so its absence below means something.
    GatewayRun run(
        "127.0.0.71", 1, 100, kLightLoad,
        s.sink("flush_interval_ms = 100\nrule_error_hold_s = 10\nkinesis_shards = 1\nkinesis_window_s = 2\n"));
    Process gw(run.args());
    const std::string base = status_url(gw);
    REQUIRE(!base.empty());
    // The gateway delivers and watches the rule error topic.
    REQUIRE_MESSAGE(eventually([&] { return received(data).documents >= 3 && s.gateway_subscribed(); }, 15s),
                    (gw.log() + s.broker.log()));
    CHECK(failure_active(base, "aws_iot.rule_delivery_failure") == "0");

    // What AWS IoT's rule engine republishes to the rule's error action when the rule's IAM role
    // may not invoke the Lambda function.
    const std::string error_message =
        "Failed to invoke lambda function. Received Client error from Lambda: User: "
        "arn:aws:sts::123456789012:assumed-role/pm500-iot-rule-role/pm500_enrich is not authorized to perform: "
        "lambda:InvokeFunction on resource: arn:aws:lambda:eu-west-1:123456789012:function:pm500-enrich because no "
        "identity-based policy allows the lambda:InvokeFunction action (Service: AWSLambda; Status Code: 403; Error "
        "Code: AccessDeniedException)";
    const std::string document =
        R"({"ruleName":"pm500_enrich","topic":"dt/pm500/test-site/mcc-1","cloudwatchTraceId":"5e1c7f3a-6b0e-4c58-9d47-2f1f0c0a9b11","clientId":"gw-1","base64OriginalPayload":"eyJ0aGluZyI6Imd3LTEifQ==","failures":[{"failedAction":"LambdaAction","failedResource":"arn:aws:lambda:eu-west-1:123456789012:function:pm500-enrich","errorMessage":")" +
        error_message + R"("}]})";
    const auto published = Clock::now();
    REQUIRE(s.rule_error(document).code == 0);

    REQUIRE_MESSAGE(wait_raised(gw, "aws_iot.rule_delivery_failure", "aws_iot", 10s), gw.log());
    const std::string evidence = raised_evidence(gw, "aws_iot.rule_delivery_failure", "aws_iot");
    CHECK(evidence.starts_with("rule pm500_enrich on topic dt/pm500/test-site/mcc-1: "));
    CHECK(evidence.find("failedAction LambdaAction") != std::string::npos);
    CHECK(evidence.find("failedResource arn:aws:lambda:eu-west-1:123456789012:function:pm500-enrich") !=
          std::string::npos);
    CHECK(evidence.find("errorMessage " + error_message) != std::string::npos);
    CHECK(eventually([&] { return failure_active(base, "aws_iot.rule_delivery_failure") == "1"; }, 3s));
    CHECK(status_evidence(base, "aws_iot.rule_delivery_failure", "aws_iot") == evidence);
    // An authorization failure is not a throughput problem, and the gateway's rate is far below
    // the one shard configured.
    CHECK(failure_active(base, "cloud.consumer_lag") == "0");
    CHECK_FALSE(has_line(gw, "RAISED cloud.consumer_lag"));
    CHECK_FALSE(has_line(gw, "RAISED aws_iot.connect_failure"));

    // Still reported halfway through the hold; the samples keep flowing (the failure is in the
    // cloud, after AWS IoT accepted them).
    const std::size_t docs_at_raise = received(data).documents;
    std::this_thread::sleep_for(5s - (Clock::now() - published));
    CHECK(failure_active(base, "aws_iot.rule_delivery_failure") == "1");
    CHECK_FALSE(has_line(gw, "CLEARED aws_iot.rule_delivery_failure"));
    CHECK(received(data).documents > docs_at_raise);

    // No further error message: cleared once rule_error_hold_s (10 s) has passed.
    REQUIRE_MESSAGE(wait_cleared(gw, "aws_iot.rule_delivery_failure", "aws_iot", 15s), gw.log());
    const double cleared_after = seconds_since(published);
    CHECK(cleared_after >= 10.0);
    CHECK(cleared_after < 14.0);
    CHECK(eventually([&] { return failure_active(base, "aws_iot.rule_delivery_failure") == "0"; }, 3s));
    CHECK(status_evidence(base, "aws_iot.rule_delivery_failure", "aws_iot").empty());
    CHECK_FALSE(has_line(gw, "RAISED cloud.consumer_lag"));
    MESSAGE("rule_delivery_failure cleared ", cleared_after, " s after the error message");
  }

  TEST_CASE(
      "cloud.consumer_lag: a rule error with a Kinesis ProvisionedThroughputExceededException raises it naming the "
      "throttled stream (and rule_delivery_failure); both clear after the hold") {
    AwsStandIn s;
    Subscriber data(s.broker, s.pki, "dt/#", s.observer_auth, "e2e-cloud-data-2");
    REQUIRE(data.ready(s.observer_auth));
    GatewayRun run("127.0.0.72", 1, 100, kLightLoad, s.sink("flush_interval_ms = 100\nrule_error_hold_s = 10\n"));
    Process gw(run.args());
    const std::string base = status_url(gw);
    REQUIRE(!base.empty());
    REQUIRE_MESSAGE(eventually([&] { return received(data).documents >= 3 && s.gateway_subscribed(); }, 15s),
                    (gw.log() + s.broker.log()));

    const std::string error_message =
        "Failed to send message to Kinesis. The error received was ProvisionedThroughputExceededException: Rate "
        "exceeded for shard shardId-000000000000 in stream pm500-stream under account 123456789012. (Service: "
        "AmazonKinesis; Status Code: 400; Request ID: c2a3b8e4-1d5f-4b7e-9a0c-6f2e8d1b3a57)";
    const std::string document =
        R"({"ruleName":"pm500_to_kinesis","topic":"dt/pm500/test-site/mcc-1","cloudwatchTraceId":"0b9d6e2c-7a41-4f3e-8c15-d2e6a9f0b384","clientId":"gw-1","base64OriginalPayload":"eyJ0aGluZyI6Imd3LTEifQ==","failures":[{"failedAction":"KinesisAction","failedResource":"pm500-stream","errorMessage":")" +
        error_message + R"("}]})";
    const auto published = Clock::now();
    REQUIRE(s.rule_error(document).code == 0);

    REQUIRE_MESSAGE(wait_raised(gw, "cloud.consumer_lag", "aws_iot", 10s), gw.log());
    const std::string lag = raised_evidence(gw, "cloud.consumer_lag", "aws_iot");
    CHECK(lag.starts_with("rule pm500_to_kinesis: KinesisAction on pm500-stream is throttled ("));
    CHECK(lag.find("ProvisionedThroughputExceededException") != std::string::npos);
    CHECK(lag.find("the stream has too few shards for the gateway's rate") != std::string::npos);
    CHECK(eventually([&] { return failure_active(base, "cloud.consumer_lag") == "1"; }, 3s));
    // The rule's delivery failed too, as the sink reports it.
    REQUIRE(wait_raised(gw, "aws_iot.rule_delivery_failure", "aws_iot", 5s));
    const std::string rule = raised_evidence(gw, "aws_iot.rule_delivery_failure", "aws_iot");
    CHECK(
        rule.starts_with("rule pm500_to_kinesis on topic dt/pm500/test-site/mcc-1: failedAction KinesisAction, "
                         "failedResource pm500-stream, errorMessage Failed to send message to Kinesis."));
    CHECK(failure_active(base, "aws_iot.rule_delivery_failure") == "1");

    std::this_thread::sleep_for(5s - (Clock::now() - published));
    CHECK(failure_active(base, "cloud.consumer_lag") == "1");

    REQUIRE_MESSAGE(wait_cleared(gw, "cloud.consumer_lag", "aws_iot", 15s), gw.log());
    const double cleared_after = seconds_since(published);
    CHECK(cleared_after >= 10.0);
    CHECK(cleared_after < 14.0);
    REQUIRE(wait_cleared(gw, "aws_iot.rule_delivery_failure", "aws_iot", 2s));
    CHECK(eventually([&] { return failure_active(base, "cloud.consumer_lag") == "0"; }, 3s));
    CHECK(failure_active(base, "aws_iot.rule_delivery_failure") == "0");
    MESSAGE("consumer_lag cleared ", cleared_after, " s after the error message");
  }

  TEST_CASE(
      "cloud.consumer_lag: seven meters at 10 ms push more bytes/s than kinesis_shards = 1 takes (1 MiB/s); "
      "raised with the measured rates; kinesis_shards = 8 stays quiet under the same load") {
    // The rate side counts documents (one Kinesis record per message) and their bytes. The records
    // side cannot be provoked through the gateway: publishes_per_second is at most 100 (AWS IoT's
    // per-connection limit) while one shard takes 1000 records/s. The bytes side can: seven meters
    // with every assembly 101..108 at a 10 ms RPI send some 3 MB/s of documents.
    const std::string load = "flush_interval_ms = 500\nbatch_size = 20000\nkinesis_window_s = 2\n";
    const std::string assemblies = "101, 102, 103, 104, 105, 106, 107, 108";
    AwsStandIn s;
    {
      Subscriber data(s.broker, s.pki, "dt/#", s.observer_auth, "e2e-cloud-data-3");
      REQUIRE(data.ready(s.observer_auth));
      GatewayRun run("127.0.0.73", 7, 10, assemblies, s.sink(load + "kinesis_shards = 1\n"));
      Process gw(run.args());
      const std::string base = status_url(gw);
      REQUIRE(!base.empty());
      REQUIRE_MESSAGE(wait_raised(gw, "cloud.consumer_lag", "aws_iot", 10s), gw.log());
      const std::string evidence = raised_evidence(gw, "cloud.consumer_lag", "aws_iot");
      CHECK(evidence.find(" bytes/s exceed 1 shard(s): 1000 records/s, 1048576 bytes/s") != std::string::npos);
      const auto [records, bytes] = rates(evidence);
      CHECK(bytes > 1048576);
      CHECK(records > 0);
      CHECK(records < 1000);  // the bytes side raised it
      CHECK(eventually([&] { return failure_active(base, "cloud.consumer_lag") == "1"; }, 3s));
      CHECK_FALSE(has_line(gw, "RAISED aws_iot.rule_delivery_failure"));  // no rule error involved

      // Sustained, not a first burst: over a further 3 s (more than the 2 s window) the observer
      // receives more than 1 MiB/s, and the evidence, refreshed with every batch, still says so.
      const Received r0 = received(data);
      const auto t0 = Clock::now();
      std::this_thread::sleep_for(3s);
      const Received r1 = received(data);
      const double observed = static_cast<double>(r1.bytes - r0.bytes) / seconds_since(t0);
      CHECK(observed > 1048576);
      const auto [records_now, bytes_now] = rates(status_evidence(base, "cloud.consumer_lag", "aws_iot"));
      CHECK(bytes_now > 1048576);
      CHECK(failure_active(base, "cloud.consumer_lag") == "1");
      MESSAGE("kinesis_shards = 1: raised with ", records, " records/s and ", bytes, " bytes/s; 3 s later ",
              records_now, " records/s and ", bytes_now, " bytes/s; observer received ", observed, " bytes/s (",
              r1.documents - r0.documents, " documents)");
    }
    {
      // The same load against eight shards (8 MiB/s): below capacity, nothing raised.
      Subscriber data(s.broker, s.pki, "dt/#", s.observer_auth, "e2e-cloud-data-4");
      REQUIRE(data.ready(s.observer_auth));
      GatewayRun run("127.0.0.73", 7, 10, assemblies, s.sink(load + "kinesis_shards = 8\n"));
      Process gw(run.args());
      const std::string base = status_url(gw);
      REQUIRE(!base.empty());
      REQUIRE_MESSAGE(eventually([&] { return received(data).documents > 0; }, 10s), gw.log());
      const Received r0 = received(data);
      const auto t0 = Clock::now();
      std::this_thread::sleep_for(3s);  // more than the window: several checks ran
      const Received r1 = received(data);
      const double observed = static_cast<double>(r1.bytes - r0.bytes) / seconds_since(t0);
      CHECK(observed > 1048576);  // the same load as above
      CHECK_FALSE(has_line(gw, "RAISED cloud.consumer_lag"));
      CHECK(failure_active(base, "cloud.consumer_lag") == "0");
      MESSAGE("kinesis_shards = 8: observer received ", observed, " bytes/s, nothing raised");
    }
  }
}  // TEST_SUITE
