// The AWS IoT sink without a broker: configuration, README = sample.toml, rule error parsing,
// document packing under the payload limit, the token bucket, the throughput meter, the shadow.
#include <doctest/doctest.h>

#include "config/config.hpp"
#include "pipeline/sink_plugin.hpp"
#include "sinks/aws_iot/config.hpp"
#include "sinks/aws_iot/documents.hpp"
#include "sinks/aws_iot/errors.hpp"
#include "sinks/aws_iot/rate.hpp"
#include "sinks/aws_iot/rule_error.hpp"
#include "sinks/aws_iot/shadow.hpp"
#include "sinks/aws_iot/transport.hpp"
#include "support/support.hpp"

namespace pm500 {
extern const SinkPlugin aws_iot_sink_plugin;
}

using namespace pm500;
using namespace pm500::sinks::aws_iot;
using namespace std::chrono_literals;

namespace {

config::LoadResult load(const std::string& text) {
  const std::vector<config::SinkSchema> schemas{aws_iot_sink_plugin.schema};
  return config::load_string(text, "test.toml", schemas, [](const char*) -> const char* { return "from-env"; });
}

std::string all_errors(const config::LoadResult& r) {
  std::string s;
  if (!r)
    for (auto& d : r.error()) s += d.str() + "\n";
  return s;
}

const char* kMinimal =
    "[sinks.aws_iot]\nendpoint = \"x-ats.iot.eu-west-1.amazonaws.com\"\nthing_name = \"gw\"\ncert_file = \"c\"\n"
    "key_file = \"k\"\nca_file = \"ca\"\n";

}  // namespace

TEST_CASE("aws_iot: README embeds sample.toml verbatim, and sample.toml loads") {
  const std::string readme = test::read_file(test::source_dir() / "sinks/aws_iot/README.md");
  const std::string sample = test::read_file(test::source_dir() / "sinks/aws_iot/sample.toml");
  REQUIRE(!sample.empty());
  CHECK(readme.find("```toml\n" + sample + "```") != std::string::npos);
  auto cfg = load(sample);
  INFO(all_errors(cfg));
  REQUIRE(cfg);
  CHECK(std::any_cast<const AwsIotConfig&>(cfg->sinks[0].settings).thing_name == "pm500-gw-plant-1");
}

TEST_CASE("aws_iot: configuration rejects QoS 2, oversized payloads, missing files and bad topics") {
  auto r = load(std::string(kMinimal) + "qos = 2\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("qos = 2 is out of range 0..1") != std::string::npos);
  r = load(std::string(kMinimal) + "max_payload_kb = 256\npublishes_per_second = 500\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("max_payload_kb") != std::string::npos);
  CHECK(all_errors(r).find("publishes_per_second") != std::string::npos);
  r = load("[sinks.aws_iot]\nendpoint = \"x\"\nthing_name = \"gw\"\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("cert_file") != std::string::npos);
  r = load(std::string(kMinimal) + "topic = \"dt/{assembly}\"\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("{assembly}") != std::string::npos);
  r = load("[sinks.aws_iot]\nendpoint = \"mqtts://x/\"\nthing_name = \"gw\"\ncert_file = \"c\"\nkey_file = \"k\"\nca_file = \"ca\"\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("host name only") != std::string::npos);
  CHECK(load(kMinimal));
}

TEST_CASE("aws_iot: port 443 offers ALPN x-amzn-mqtt-ca; Basic Ingest topics") {
  AwsIotConfig c;
  c.endpoint = "x-ats.iot.eu-west-1.amazonaws.com";
  c.thing_name = "gw";
  c.port = 443;
  auto s = session_settings(c);
  REQUIRE(s.tls.alpn.size() == 1);
  CHECK(s.tls.alpn[0] == "x-amzn-mqtt-ca");
  CHECK(s.client_id == "gw");
  CHECK(s.endpoint.tls);
  c.port = 8883;
  CHECK(session_settings(c).tls.alpn.empty());
  CHECK(publish_topic(c, "dt/a") == "dt/a");
  c.basic_ingest_rule = "pm500_ingest";
  CHECK(publish_topic(c, "dt/a") == "$aws/rules/pm500_ingest/dt/a");
  CHECK(shadow_update_topic("gw") == "$aws/things/gw/shadow/update");
}

TEST_CASE("aws_iot: rule error messages") {
  const std::string msg = R"({"ruleName":"pm500_to_kinesis","topic":"dt/pm500/plant/mcc-1","cloudwatchTraceId":"x",
    "clientId":"gw","base64OriginalPayload":"e30=","failures":[{"failedAction":"KinesisAction",
    "failedResource":"pm500-stream","errorMessage":"Failed to send message to Kinesis. The error received was ProvisionedThroughputExceededException: Rate exceeded for shard"}]})";
  auto e = parse_rule_error(msg);
  REQUIRE(e);
  CHECK(e->rule_name == "pm500_to_kinesis");
  CHECK(e->topic == "dt/pm500/plant/mcc-1");
  REQUIRE(e->failures.size() == 1);
  CHECK(e->failures[0].failed_action == "KinesisAction");
  CHECK(e->failures[0].failed_resource == "pm500-stream");
  CHECK(is_throughput_error(e->failures[0]));
  CHECK(throughput_marker(e->failures[0]) == "ProvisionedThroughputExceeded");
  const std::string ev = evidence(*e);
  CHECK(ev.find("failedAction KinesisAction") != std::string::npos);
  CHECK(ev.find("errorMessage Failed to send message to Kinesis") != std::string::npos);

  auto s3 = parse_rule_error(R"({"ruleName":"r","failures":[{"failedAction":"S3Action","failedResource":"b","errorMessage":"Access Denied"}]})");
  REQUIRE(s3);
  CHECK_FALSE(is_throughput_error(s3->failures[0]));

  CHECK_FALSE(parse_rule_error("not json"));
  CHECK_FALSE(parse_rule_error("[1,2]"));
  CHECK_FALSE(parse_rule_error(R"({"temperature":21})"));
  CHECK_FALSE(parse_rule_error(""));
  auto odd = parse_rule_error(R"({"ruleName":"r","failures":[1,"x",{"failedAction":5}]})");
  REQUIRE(odd);
  CHECK(odd->failures.size() == 1);
  // Evidence stays one bounded line whatever the message holds.
  auto nl = parse_rule_error(R"({"ruleName":"a\nb","failures":[{"errorMessage":")" + std::string(5000, 'x') + R"("}]})");
  REQUIRE(nl);
  const std::string nl_ev = evidence(*nl);
  CHECK(nl_ev.find('\n') == std::string::npos);
  CHECK(nl_ev.size() < 1200);
}

TEST_CASE("aws_iot: documents per device, split under the payload limit, order kept") {
  Catalog cat;
  DeviceMeta m;
  m.name = "mcc-1";
  m.site = "plant";
  m.asset = "a";
  cat.devices.push_back(m);
  m.name = "mcc-2";
  cat.devices.push_back(m);
  std::vector<Sample> batch;
  for (std::uint32_t i = 0; i < 400; ++i) {
    Sample s;
    s.source_time_ns = 1'700'000'000'000'000'000 + i * 1'000'000ll;
    s.device = i % 2;
    s.assembly = 102;
    s.sequence = static_cast<std::uint16_t>(i);
    s.count = 18;
    for (auto& v : s.values) v = 12345.678901 + i;
    batch.push_back(s);
  }
  std::vector<Document> docs;
  pack_documents(batch, cat, "gw", 128 * 1024, docs);
  REQUIRE(docs.size() == 2);
  CHECK(docs[0].device == 0);
  CHECK(docs[0].samples == 200);
  CHECK(docs[0].payload.starts_with(R"({"thing":"gw","device":"mcc-1","site":"plant","asset":"a","samples":[{"time":)"));
  CHECK(docs[0].payload.ends_with("}]}"));

  pack_documents(batch, cat, "gw", 8 * 1024, docs);
  std::size_t total = 0;
  int last_seq = -1;
  for (const auto& d : docs) {
    CHECK(d.payload.size() <= 8 * 1024);
    total += d.samples;
    if (d.device == 0) {
      const auto p = d.payload.find("\"sequence\":");
      const int seq = std::stoi(d.payload.substr(p + 11));
      CHECK(seq > last_seq);
      last_seq = seq;
    }
  }
  CHECK(total == 400);
  CHECK(docs.size() > 4);
}

TEST_CASE("aws_iot: token bucket holds 100 publishes/s; meter compares with shard capacity") {
  TokenBucket b(100, 100);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) CHECK(b.take(t0) == std::chrono::steady_clock::duration::zero());
  const auto wait = b.take(t0);
  CHECK(wait > 9ms);
  CHECK(wait < 11ms);
  // A second later the bucket is full again, no more.
  for (int i = 0; i < 99; ++i) b.take(t0 + 1s);
  CHECK(b.take(t0 + 1s + 10ms) == std::chrono::steady_clock::duration::zero());

  ThroughputMeter m(10s);
  for (int i = 0; i <= 10; ++i) m.add(t0 + std::chrono::seconds(i), 1500, 2'000'000);
  // 11 events over 10 s: the first one's records left before the interval measured.
  CHECK(m.records_per_s(t0 + 10s) == doctest::Approx(1500).epsilon(0.001));
  CHECK(m.bytes_per_s(t0 + 10s) > 1048576.0);
  CHECK(m.records_per_s(t0 + 100s) == 0);
}

TEST_CASE("aws_iot: shadow document; removed devices become null; version bumps only on change") {
  ShadowState s;
  s.set_gateway_version("0.1.0");
  s.set_device("mcc-1", "connected");
  s.set_device("mcc-2", "no owner (0x0119)");
  s.set_failure_modes({"mqtt.publish_failure", "eip.no_response"});
  const auto v = s.version();
  s.set_device("mcc-1", "connected");
  s.set_failure_modes({"eip.no_response", "mqtt.publish_failure"});
  CHECK(s.version() == v);
  std::set<std::string> reported;
  CHECK(s.update_document({}, &reported) ==
        R"j({"state":{"reported":{"gateway":{"version":"0.1.0"},"devices":{"mcc-1":"connected","mcc-2":"no owner (0x0119)"},"failure_modes":["eip.no_response","mqtt.publish_failure"]}}})j");
  s.remove_device("mcc-2");
  CHECK(s.version() != v);
  CHECK(s.update_document(reported, nullptr).find(R"("mcc-2":null)") != std::string::npos);
}

TEST_CASE("aws_iot: AWS causes in the errors") {
  using mqttc::ErrorKind;
  auto e = explain({ErrorKind::closed_after_connect, "closed", "EOF after CONNECT"}, "gw-1");
  CHECK(e.reason.find("iot:Connect") != std::string::npos);
  CHECK(e.reason.find("\"gw-1\"") != std::string::npos);
  e = explain({ErrorKind::closed_after_publish, "closed after PUBLISH to \"dt/x\"", ""}, "gw-1");
  CHECK(e.reason.find("iot:Publish") != std::string::npos);
  CHECK(to_delivery_result(e).kind == DeliveryResult::Kind::retry);
}
