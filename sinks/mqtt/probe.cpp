#include "sinks/mqtt/probe.hpp"

#include "sinks/common/mqtt/connection_check.hpp"
#include "sinks/mqtt/errors.hpp"

namespace pm500::sinks::mqtt {

std::vector<SinkProbeResult> probe_mqtt(const MqttSinkConfig& cfg) {
  using R = SinkProbeResult::Result;
  std::vector<SinkProbeResult> out;
  if (auto e = validate(cfg); !e.empty()) {
    out.push_back({R::fail, "configuration", e, std::string(kPublishFailure)});
    return out;
  }
  const mqttc::SessionSettings s = session_settings(cfg);
  const mqttc::Hello hello{s.mqtt_version, cfg.client_id + "-check", cfg.username, cfg.password};
  const mqttc::CertFiles files{cfg.cert_file, cfg.key_file, cfg.key_password, cfg.ca_file};
  for (auto& step : mqttc::check_connection(s.endpoint, s.tls, files, s.connect_timeout, hello)) {
    if (step.error)
      out.push_back({R::fail, step.what, mqttc::describe(*step.error), std::string(kPublishFailure)});
    else
      out.push_back(
          {step.warning ? R::warn : R::ok, step.what, step.detail, step.warning ? std::string(kPublishFailure) : ""});
  }
  return out;
}

}  // namespace pm500::sinks::mqtt
