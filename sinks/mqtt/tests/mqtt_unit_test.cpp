// The MQTT sink without a broker: configuration (sample.toml, README, validation), topic
// templates, payloads (single and packed), the error-to-answer mapping, and which samples of a
// failed batch a retry skips (mqttc::AckedSamples).
#include <doctest/doctest.h>

#include "config/config.hpp"
#include "pipeline/sink_plugin.hpp"
#include "sinks/mqtt/errors.hpp"
#include "sinks/mqtt/mqtt_sink.hpp"
#include "sinks/common/mqtt/acked_samples.hpp"
#include "sinks/common/mqtt/topic_template.hpp"
#include "support/support.hpp"
#include "sinks/mqtt/tests/fixtures.hpp"

namespace pm500 {
extern const SinkPlugin mqtt_sink_plugin;
}

using namespace pm500;
using namespace pm500::sinks::mqtt;
using pm500::mqttc::TopicTemplate;
using pm500::mqttc::substitute;

namespace {

std::string all_errors(const config::LoadResult& r) {
  std::string s;
  if (!r)
    for (auto& d : r.error()) s += d.str() + "\n";
  return s;
}

// sample.toml reads its secrets from the environment; the test supplies them.
config::LoadResult load(const std::string& text) {
  const std::vector<config::SinkSchema> schemas{mqtt_sink_plugin.schema};
  return config::load_string(text, "test.toml", schemas, [](const char*) -> const char* { return "from-env"; });
}

}  // namespace

TEST_CASE("mqtt sink: README embeds sample.toml verbatim, and sample.toml loads") {
  const std::string readme = test::read_file(test::source_dir() / "sinks/mqtt/README.md");
  const std::string sample = test::read_file(test::source_dir() / "sinks/mqtt/sample.toml");
  REQUIRE(!sample.empty());
  CHECK(readme.find("```toml\n" + sample + "```") != std::string::npos);
  auto cfg = load(sample);
  INFO(all_errors(cfg));
  REQUIRE(cfg);
  REQUIRE(cfg->sinks.size() == 1);
  const auto& c = std::any_cast<const MqttSinkConfig&>(cfg->sinks[0].settings);
  CHECK(c.qos == 1);
  CHECK(c.tls_verify);
}

TEST_CASE("mqtt sink: configuration errors name the key") {
  auto r = load("[sinks.mqtt]\nurl = \"mqtts://b:8883\"\nqos = 2\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("qos") != std::string::npos);
  r = load("[sinks.mqtt]\nurl = \"http://b\"\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("not an MQTT URL") != std::string::npos);
  r = load("[sinks.mqtt]\nurl = \"mqtts://b\"\ntopic = \"pm500/{plant}/#\"\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("wildcards") != std::string::npos);
  r = load("[sinks.mqtt]\nurl = \"mqtts://b\"\ncert_file = \"c.pem\"\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("key_file") != std::string::npos);
  r = load("[sinks.mqtt]\nurl = \"mqtt://broker.example\"\npassword = \"pw\"\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("clear text") != std::string::npos);
  r = load("[sinks.mqtt]\nurll = \"mqtts://b\"\n");
  REQUIRE_FALSE(r);
  CHECK(all_errors(r).find("url") != std::string::npos);
}

TEST_CASE("mqtt sink: secrets are redacted and come from the environment") {
  const std::vector<config::SinkSchema> schemas{mqtt_sink_plugin.schema};
  auto env = [](const char* name) -> const char* { return std::string_view(name) == "MQTT_PASSWORD" ? "hunter2" : nullptr; };
  auto cfg = config::load_string("[sinks.mqtt]\nurl = \"mqtts://b\"\nusername = \"gw\"\npassword = \"${MQTT_PASSWORD}\"\n",
                                 "t.toml", schemas, env);
  INFO(all_errors(cfg));
  REQUIRE(cfg);
  CHECK(std::any_cast<const MqttSinkConfig&>(cfg->sinks[0].settings).password == "hunter2");
  const std::string dumped = config::dump(*cfg, schemas);
  CHECK(dumped.find("hunter2") == std::string::npos);
  CHECK(dumped.find("<redacted>") != std::string::npos);
}

TEST_CASE("mqtt sink: topic templates") {
  DeviceMeta m;
  m.name = "mcc/1+";
  m.site = "plant";
  m.asset = "feeder#2";
  TopicTemplate t("pm500/{site}/{asset}/{device}/{assembly}");
  std::string out;
  t.render(out, &m, 0, 101);
  CHECK(out == "pm500/plant/feeder_2/mcc_1_/101");
  CHECK(TopicTemplate::validate("a/{nope}").find("unknown placeholder {nope}") != std::string::npos);
  CHECK_FALSE(TopicTemplate::validate("a/{site").empty());
  CHECK_FALSE(TopicTemplate::validate("$SYS/x").empty());
  CHECK(TopicTemplate::validate("a/{device}").empty());
  CHECK(substitute("s/{client_id}/status", "client_id", "gw-1") == "s/gw-1/status");
}

TEST_CASE("mqtt sink: error answers") {
  using mqttc::Error;
  using mqttc::ErrorKind;
  auto r = to_delivery_result(Error{ErrorKind::tls_verify, "unknown CA", "certificate verify failed"});
  CHECK(r.kind == DeliveryResult::Kind::retry);
  CHECK(r.reason.find("TLS certificate verify failed") != std::string::npos);
  r = to_delivery_result(Error{ErrorKind::publish_refused, "not authorized", "PUBACK reason code 0x87 (not authorized)"});
  CHECK(r.kind == DeliveryResult::Kind::retry);  // an ACL can be fixed; the spool keeps the samples meanwhile
  r = to_delivery_result(Error{ErrorKind::publish_refused, "too large", "PUBACK reason code 0x95 (packet too large)"});
  CHECK(r.kind == DeliveryResult::Kind::reject);
}

namespace {

Sample ack_sample(std::uint32_t n, std::uint32_t device = 0) {
  return test::mqtt::numbered(n, device, 1'714'564'800'000'000'000);
}

std::vector<Sample> ack_batch(std::uint32_t from, std::uint32_t to) {
  std::vector<Sample> v;
  for (std::uint32_t i = from; i < to; ++i) v.push_back(ack_sample(i, i % 2));
  return v;
}

std::vector<std::uint8_t> flags(std::size_t n, std::initializer_list<std::size_t> set) {
  std::vector<std::uint8_t> f(n, 0);
  for (auto i : set) f.at(i) = 1;
  return f;
}

}  // namespace

TEST_CASE("mqtt sink: acknowledged samples of a failed batch are skipped on its retry, and only those") {
  mqttc::AckedSamples mem;
  std::vector<std::uint8_t> skip;
  const auto batch = ack_batch(0, 10);

  SUBCASE("nothing remembered: nothing skipped") {
    CHECK(mem.match(batch, skip) == 0);
    CHECK(skip == std::vector<std::uint8_t>(10, 0));
  }
  SUBCASE("the identical retry skips exactly the acknowledged samples; ok spends them") {
    // The first 4 were acknowledged, then a PUBACK timed out; 6 and 7 (behind it) came back too.
    mem.remember(batch, flags(10, {0, 1, 2, 3, 6, 7}));
    CHECK(mem.size() == 6);
    CHECK(mem.match(batch, skip) == 6);
    CHECK(skip == flags(10, {0, 1, 2, 3, 6, 7}));
    mem.forget_matched();
    CHECK(mem.empty());
    // Delivered: the same samples sent again later (a restart's replay) are sent, not skipped.
    CHECK(mem.match(batch, skip) == 0);
  }
  SUBCASE("a second failure keeps the earlier acknowledgements and adds the new ones") {
    mem.remember(batch, flags(10, {0, 1}));
    REQUIRE(mem.match(batch, skip) == 2);
    auto now = skip;
    now[5] = 1;  // this attempt got 5 acknowledged, then failed again
    mem.remember(batch, now);
    CHECK(mem.size() == 3);
    CHECK(mem.match(batch, skip) == 3);
    CHECK(skip == flags(10, {0, 1, 5}));
  }
  SUBCASE("a retry that differs: longer (read back from the spool with what followed)") {
    mem.remember(batch, flags(10, {0, 1, 2}));
    const auto longer = ack_batch(0, 20);
    CHECK(mem.match(longer, skip) == 3);
    CHECK(skip == flags(20, {0, 1, 2}));
  }
  SUBCASE("a retry that differs: in smaller chunks (replay_rate), then past the failed batch") {
    mem.remember(batch, flags(10, {0, 2, 4, 6, 8}));
    CHECK(mem.match(ack_batch(0, 5), skip) == 3);
    CHECK(skip == flags(5, {0, 2, 4}));
    mem.forget_matched();
    CHECK(mem.size() == 2);  // 6 and 8 wait for the next chunk
    CHECK(mem.match(ack_batch(5, 10), skip) == 2);
    CHECK(skip == flags(5, {1, 3}));
    mem.forget_matched();
    CHECK(mem.empty());
    mem.remember(batch, flags(10, {9}));
    CHECK(mem.match(ack_batch(10, 15), skip) == 0);  // a batch that matches nothing ends it
    mem.forget_matched();
    CHECK(mem.empty());
  }
  SUBCASE("a changed sample is sent: content must be identical, not only device/sequence/time") {
    auto changed_value = batch, changed_flags = batch, other_device = batch;
    changed_value[3].values[1] += 1;
    changed_flags[3].flags = kSampleSuspect;
    other_device[3].device = 7;
    for (const auto* b : {&changed_value, &changed_flags, &other_device}) {
      mem.remember(batch, flags(10, {3}));
      CHECK(mem.match(*b, skip) == 0);
    }
  }
  SUBCASE("two identical samples, one acknowledged: one is sent again") {
    std::vector<Sample> twice{ack_sample(1), ack_sample(1), ack_sample(2)};
    mem.remember(twice, flags(3, {0}));
    CHECK(mem.match(twice, skip) == 1);
    CHECK(skip == flags(3, {0}));
  }
  SUBCASE("memory is at most the batch given last") {
    mem.remember(ack_batch(0, 100), std::vector<std::uint8_t>(100, 1));
    CHECK(mem.size() == 100);
    mem.remember(batch, flags(10, {1}));
    CHECK(mem.size() == 1);
    CHECK(mem.match(ack_batch(0, 100), skip) == 1);
  }
}
