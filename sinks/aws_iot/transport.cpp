#include "sinks/aws_iot/transport.hpp"

namespace pm500::sinks::aws_iot {

mqttc::SessionSettings session_settings(const AwsIotConfig& cfg) {
  mqttc::SessionSettings s;
  s.endpoint = {cfg.endpoint, static_cast<int>(cfg.port), true};
  s.client_id = cfg.thing_name;
  s.mqtt_version = cfg.protocol == "5" ? 5 : 4;
  s.tls.ca_file = cfg.ca_file;
  s.tls.cert_file = cfg.cert_file;
  s.tls.key_file = cfg.key_file;
  s.tls.key_password = cfg.key_password;
  s.tls.verify = true;  // never optional against a cloud endpoint
  if (cfg.port == 443) s.tls.alpn = {kAlpnMqtt};
  s.keepalive = std::chrono::seconds(cfg.keepalive_s);
  s.connect_timeout = std::chrono::milliseconds(cfg.connect_timeout_ms);
  s.ack_timeout = std::chrono::milliseconds(cfg.ack_timeout_ms);
  s.max_inflight = static_cast<int>(cfg.max_inflight);
  return s;
}

std::string publish_topic(const AwsIotConfig& cfg, const std::string& topic) {
  // Basic Ingest: the message goes straight to the rule, without the message broker's cost.
  if (!cfg.basic_ingest_rule.empty()) return "$aws/rules/" + cfg.basic_ingest_rule + "/" + topic;
  return topic;
}

std::string shadow_update_topic(const std::string& thing) { return "$aws/things/" + thing + "/shadow/update"; }

}  // namespace pm500::sinks::aws_iot
