// How an MQTT failure becomes the pipeline's answer and the mqtt.publish_failure evidence.
#pragma once

#include "pipeline/sink.hpp"
#include "sinks/common/mqtt/errors.hpp"

namespace pm500::sinks::mqtt {

inline constexpr std::string_view kPublishFailure = "mqtt.publish_failure";

// retry for everything the broker or an operator can fix while samples wait in the spool
// (unreachable, TLS, credentials, ACL); reject only for publishes no retry can make acceptable
// (topic invalid, packet too large, payload format invalid).
DeliveryResult to_delivery_result(const mqttc::Error& e);

// "TLS certificate verify failed: <reason> | <evidence>": the condition's evidence line.
std::string evidence_line(const mqttc::Error& e);

}  // namespace pm500::sinks::mqtt
