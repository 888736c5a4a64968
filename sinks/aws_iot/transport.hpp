// The AWS IoT connection: mutual TLS to <prefix>-ats.iot.<region>.amazonaws.com, port 8883, or
// 443 with the ALPN protocol "x-amzn-mqtt-ca" (AWS IoT's way to carry MQTT on the HTTPS port;
// paho-mqtt-cpp 1.2 exposes ALPN as ssl_options::set_alpn_protos). Client id = thing name.
#pragma once

#include "sinks/aws_iot/config.hpp"
#include "sinks/common/mqtt/session.hpp"

namespace pm500::sinks::aws_iot {

inline constexpr const char* kAlpnMqtt = "x-amzn-mqtt-ca";

mqttc::SessionSettings session_settings(const AwsIotConfig& cfg);

// "$aws/rules/<rule>/<topic>" with Basic Ingest, else the topic itself.
std::string publish_topic(const AwsIotConfig& cfg, const std::string& topic);

// "$aws/things/<thing>/shadow/update".
std::string shadow_update_topic(const std::string& thing);

}  // namespace pm500::sinks::aws_iot
