// The AWS IoT sink's options table, cross-key checks and factory.
#include <any>

#include "pipeline/sink_plugin.hpp"
#include "sinks/aws_iot/aws_iot_sink.hpp"
#include "sinks/aws_iot/probe.hpp"
#include "sinks/common/mqtt/topic_template.hpp"

namespace pm500 {
namespace sinks::aws_iot {

const config::Options<AwsIotConfig>& aws_iot_options() {
  using C = AwsIotConfig;
  static const config::Options<C> o{
      config::string("endpoint", &C::endpoint, "Your account's data endpoint: <prefix>-ats.iot.<region>.amazonaws.com.")
          .must()
          .eg("\"a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com\""),
      config::integer("port", &C::port, 1, 65535, "8883 (MQTT over TLS), or 443 with ALPN x-amzn-mqtt-ca where only HTTPS leaves the site."),
      config::string("thing_name", &C::thing_name, "The thing's name; the MQTT client id (policies name it as iot:ClientId).")
          .must()
          .eg("\"pm500-gw-plant-1\""),
      config::string("cert_file", &C::cert_file, "Device certificate (PEM) registered with AWS IoT.").must().eg("\"/etc/pm500-gateway/aws/device.pem.crt\""),
      config::string("key_file", &C::key_file, "The certificate's private key (PEM).").must().eg("\"/etc/pm500-gateway/aws/private.pem.key\""),
      config::string("key_password", &C::key_password, "Password of an encrypted key_file.").secret_value(),
      config::string("ca_file", &C::ca_file, "Amazon root CA (AmazonRootCA1.pem).").must().eg("\"/etc/pm500-gateway/aws/AmazonRootCA1.pem\""),
      config::choice("protocol", &C::protocol, {"3.1.1", "5"}, "MQTT version; AWS IoT answers refused publishes per message only with 5."),
      config::string("topic", &C::topic, "Topic template for sample documents: {site} {asset} {device}."),
      config::string("basic_ingest_rule", &C::basic_ingest_rule,
                     "Publish through Basic Ingest to this rule ($aws/rules/<rule>/<topic>); \"\" = the message broker."),
      config::integer("qos", &C::qos, 0, 1, "0 or 1; AWS IoT does not support QoS 2."),
      config::integer("max_payload_kb", &C::max_payload_kb, 1, 128, "Largest document (KiB); AWS IoT's limit is 128."),
      config::integer("publishes_per_second", &C::publishes_per_second, 1, 100,
                      "Publishes per second on the connection; AWS IoT's limit is 100."),
      config::boolean("shadow", &C::shadow, "Keep the thing's Device Shadow reported state current (version, devices, failure modes)."),
      config::string("rule_error_topic", &C::rule_error_topic,
                     "Topic your IoT rules' error action republishes to; subscribed to surface rule failures. \"\" = off."),
      config::integer("rule_error_hold_s", &C::rule_error_hold_s, 10, 86400,
                      "A rule failure stays reported this long after its last error message."),
      config::integer("kinesis_shards", &C::kinesis_shards, 0, 100000,
                      "Shards of the Kinesis stream your rule feeds; warns when the gateway's rate exceeds them. 0 = off."),
      config::integer("kinesis_window_s", &C::kinesis_window_s, 1, 3600, "Averaging window of that rate check (s)."),
      config::integer("keepalive_s", &C::keepalive_s, 30, 1200, "MQTT keep-alive (AWS IoT accepts 30..1200 s)."),
      config::integer("connect_timeout_ms", &C::connect_timeout_ms, 500, 120000, "Bound on one connection attempt."),
      config::integer("ack_timeout_ms", &C::ack_timeout_ms, 500, 300000, "Bound on waiting for one PUBACK."),
      config::integer("max_inflight", &C::max_inflight, 1, 100, "Unacknowledged publishes at once (AWS IoT allows 100)."),
  };
  return o;
}

std::string validate(const AwsIotConfig& cfg) {
  if (auto e = mqttc::TopicTemplate::validate(cfg.topic, "site asset device"); !e.empty())
    return "topic \"" + cfg.topic + "\": " + e;
  if (cfg.endpoint.find("://") != std::string::npos || cfg.endpoint.find('/') != std::string::npos)
    return "endpoint \"" + cfg.endpoint + "\" must be a host name only (no scheme, no path)";
  if (cfg.thing_name.empty()) return "thing_name is empty";
  if (cfg.basic_ingest_rule.find('/') != std::string::npos) return "basic_ingest_rule is a rule name, not a topic";
  return {};
}

}  // namespace sinks::aws_iot

extern const SinkPlugin aws_iot_sink_plugin;  // external linkage for the generated registry
const SinkPlugin aws_iot_sink_plugin{
    config::SinkSchema{
        "aws_iot",
        "Sample documents to AWS IoT Core over mutual TLS, with Device Shadow and rule error reporting.",
        [](config::TableReader& r) {
          sinks::aws_iot::AwsIotConfig c;
          r.read(sinks::aws_iot::aws_iot_options(), c);
          if (!c.endpoint.empty() && !c.thing_name.empty())
            if (auto e = sinks::aws_iot::validate(c); !e.empty()) r.context().error(r.table().source(), r.path(), e);
          return std::any(c);
        },
        [](const std::any& a) {
          return config::dump(sinks::aws_iot::aws_iot_options(), std::any_cast<const sinks::aws_iot::AwsIotConfig&>(a));
        },
        [] { return config::describe(sinks::aws_iot::aws_iot_options()); },
    },
    [](const config::SinkSection& section, const SinkEnv& env) -> pm500::expected<std::unique_ptr<Sink>, std::string> {
      const auto* cfg = std::any_cast<sinks::aws_iot::AwsIotConfig>(&section.settings);
      if (!cfg) return pm500::unexpected(std::string("sinks.aws_iot: settings were not read by the aws_iot sink's schema"));
      if (auto e = sinks::aws_iot::validate(*cfg); !e.empty()) return pm500::unexpected("sinks.aws_iot: " + e);
      auto sink = std::make_unique<sinks::aws_iot::AwsIotSink>(*cfg, env.catalog, env.conditions);
      // Until the application feeds the shadow (see README), it reports the configured devices.
      for (const auto& d : env.catalog.devices) sink->shadow().set_device(d.name, "unknown");
      if (env.gateway_report) sink->set_report_source(env.gateway_report);
      return std::unique_ptr<Sink>(std::move(sink));
    },
    [](const config::SinkSection& section, const SinkEnv&) -> std::vector<SinkProbeResult> {
      const auto* cfg = std::any_cast<sinks::aws_iot::AwsIotConfig>(&section.settings);
      if (!cfg) return {{SinkProbeResult::Result::fail, "settings", "not read by the aws_iot sink's schema", ""}};
      return sinks::aws_iot::probe_aws_iot(*cfg);
    },
};

}  // namespace pm500
