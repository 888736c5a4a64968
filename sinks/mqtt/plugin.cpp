// The MQTT sink's options table and factory.
#include <any>

#include "pipeline/sink_plugin.hpp"
#include "sinks/mqtt/probe.hpp"
#include "sinks/mqtt/mqtt_sink.hpp"

namespace pm500 {
namespace sinks::mqtt {

const config::Options<MqttSinkConfig>& mqtt_sink_options() {
  using C = MqttSinkConfig;
  static const config::Options<C> o{
      config::string("url", &C::url, "Broker: mqtt://host[:port] (1883) or mqtts://host[:port] (8883, TLS).")
          .must()
          .eg("\"mqtts://broker.plant.local:8883\""),
      config::choice("protocol", &C::protocol, {"3.1.1", "5"}, "MQTT protocol version."),
      config::string("client_id", &C::client_id, "MQTT client id; also fills {client_id} in status_topic."),
      config::string("username", &C::username, "User name; \"\" = none. ${VAR} reads the environment."),
      config::string("password", &C::password, "Password; write \"${MQTT_PASSWORD}\" to keep it out of the file.")
          .secret_value(),
      config::string("ca_file", &C::ca_file, "PEM file of CAs that may sign the broker's certificate; \"\" = system store."),
      config::string("ca_dir", &C::ca_dir, "Directory of CA certificates (c_rehash'ed), instead of or besides ca_file."),
      config::boolean("tls_verify", &C::tls_verify,
                      "Verify the broker's certificate and host name (TLS 1.2 or newer). Turn off only to diagnose."),
      config::string("cert_file", &C::cert_file, "Client certificate (PEM) for brokers that require one."),
      config::string("key_file", &C::key_file, "Private key (PEM) of cert_file."),
      config::string("key_password", &C::key_password, "Password of an encrypted key_file.").secret_value(),
      config::string("topic", &C::topic, "Topic template; placeholders {site} {asset} {device} {assembly}."),
      config::integer("qos", &C::qos, 0, 1,
                      "0: at most once; 1: at least once -- a batch is confirmed only when every PUBACK arrived."),
      config::boolean("pack", &C::pack,
                      "One message per device and topic per batch ({\"device\":..,\"samples\":[..]}) instead of one per sample."),
      config::string("status_topic", &C::status_topic,
                     "Retained status topic: status_online after connecting, status_offline as last will; \"\" = none."),
      config::string("status_online", &C::status_online, "Payload published on status_topic after connecting."),
      config::string("status_offline", &C::status_offline, "Last will payload, and published on a clean shutdown."),
      config::integer("keepalive_s", &C::keepalive_s, 5, 3600, "MQTT keep-alive interval (s)."),
      config::integer("connect_timeout_ms", &C::connect_timeout_ms, 500, 120000,
                      "Bound on one connection attempt (TCP, TLS, CONNACK)."),
      config::integer("ack_timeout_ms", &C::ack_timeout_ms, 500, 300000, "Bound on waiting for one PUBACK."),
      config::integer("max_inflight", &C::max_inflight, 1, 65535,
                      "Unacknowledged publishes at once (mosquitto's default receive maximum is 20)."),
  };
  return o;
}

}  // namespace sinks::mqtt

extern const SinkPlugin mqtt_sink_plugin;  // external linkage for the generated registry
const SinkPlugin mqtt_sink_plugin{
    config::SinkSchema{
        "mqtt",
        "JSON samples to an MQTT broker (3.1.1 or 5, TLS), QoS 1, retained status topic with last will.",
        [](config::TableReader& r) {
          sinks::mqtt::MqttSinkConfig c;
          r.read(sinks::mqtt::mqtt_sink_options(), c);
          // Problems across keys, reported at the table like any other configuration error.
          if (!c.url.empty())
            if (auto e = sinks::mqtt::validate(c); !e.empty())
              r.context().error(r.table().source(), r.path(), e);
          return std::any(c);
        },
        [](const std::any& a) {
          return config::dump(sinks::mqtt::mqtt_sink_options(), std::any_cast<const sinks::mqtt::MqttSinkConfig&>(a));
        },
        [] { return config::describe(sinks::mqtt::mqtt_sink_options()); },
    },
    [](const config::SinkSection& section, const SinkEnv& env) -> pm500::expected<std::unique_ptr<Sink>, std::string> {
      const auto* cfg = std::any_cast<sinks::mqtt::MqttSinkConfig>(&section.settings);
      if (!cfg) return pm500::unexpected(std::string("sinks.mqtt: settings were not read by the mqtt sink's schema"));
      if (auto e = sinks::mqtt::validate(*cfg); !e.empty()) return pm500::unexpected("sinks.mqtt: " + e);
      return std::unique_ptr<Sink>(std::make_unique<sinks::mqtt::MqttSink>(*cfg, env.catalog, env.conditions));
    },
    [](const config::SinkSection& section, const SinkEnv&) -> std::vector<SinkProbeResult> {
      const auto* cfg = std::any_cast<sinks::mqtt::MqttSinkConfig>(&section.settings);
      if (!cfg) return {{SinkProbeResult::Result::fail, "settings", "not read by the mqtt sink's schema", ""}};
      return sinks::mqtt::probe_mqtt(*cfg);
    },
};

}  // namespace pm500
