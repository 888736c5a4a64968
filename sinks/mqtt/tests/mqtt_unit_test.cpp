// The MQTT sink without a broker: configuration (sample.toml, README, validation), topic
// templates, payloads (single and packed), and the error-to-answer mapping.
#include <doctest/doctest.h>

#include "config/config.hpp"
#include "pipeline/sink_plugin.hpp"
#include "sinks/mqtt/errors.hpp"
#include "sinks/mqtt/mqtt_sink.hpp"
#include "sinks/common/mqtt/topic_template.hpp"
#include "support/support.hpp"

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
