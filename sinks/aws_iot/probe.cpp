#include "sinks/aws_iot/probe.hpp"

#include "sinks/aws_iot/errors.hpp"
#include "sinks/aws_iot/transport.hpp"
#include "sinks/common/mqtt/connection_check.hpp"

namespace pm500::sinks::aws_iot {

std::vector<SinkProbeResult> probe_aws_iot(const AwsIotConfig& cfg) {
  using R = SinkProbeResult::Result;
  std::vector<SinkProbeResult> out;
  if (auto e = validate(cfg); !e.empty()) {
    out.push_back({R::fail, "configuration", e, std::string(kConnectFailure)});
    return out;
  }
  const mqttc::SessionSettings s = session_settings(cfg);
  const mqttc::Hello hello{s.mqtt_version, cfg.thing_name, {}, {}};
  const mqttc::CertFiles files{cfg.cert_file, cfg.key_file, cfg.key_password, cfg.ca_file};
  for (auto& step : mqttc::check_connection(s.endpoint, s.tls, files, s.connect_timeout, hello)) {
    if (step.error)
      out.push_back({R::fail, step.what, mqttc::describe(explain(std::move(*step.error), cfg.thing_name)),
                     std::string(kConnectFailure)});
    else
      out.push_back({step.warning ? R::warn : R::ok, step.what, step.detail, ""});
  }
  return out;
}

}  // namespace pm500::sinks::aws_iot
