// `pm500-gateway check` for the AWS IoT sink: the certificate, key and Amazon root CA (checked
// locally), then one diagnostic connection: TLS with the device certificate (ALPN on 443) and
// an MQTT CONNECT as the thing name. AWS IoT policies tie iot:Connect to the thing name, so the
// probe must use it: a running gateway's connection is replaced once and reconnects by itself
// (clean session, QoS 1 from its spool: nothing is lost).
#pragma once

#include <vector>

#include "pipeline/sink_plugin.hpp"
#include "sinks/aws_iot/config.hpp"

namespace pm500::sinks::aws_iot {

std::vector<SinkProbeResult> probe_aws_iot(const AwsIotConfig& cfg);

}  // namespace pm500::sinks::aws_iot
