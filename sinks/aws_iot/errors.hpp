// AWS IoT's reading of MQTT failures: the same classified errors as the MQTT sink, but with the
// causes AWS IoT has (certificate not attached or inactive, policy without iot:Connect for the
// client id, without iot:Publish on the topic), reported as aws_iot.connect_failure.
#pragma once

#include <string_view>

#include "pipeline/sink.hpp"
#include "sinks/common/mqtt/errors.hpp"

namespace pm500::sinks::aws_iot {

inline constexpr std::string_view kConnectFailure = "aws_iot.connect_failure";
inline constexpr std::string_view kRuleDeliveryFailure = "aws_iot.rule_delivery_failure";
inline constexpr std::string_view kConsumerLag = "cloud.consumer_lag";

// Rewrites the reason with the AWS IoT cause and remedy; thing = client id.
mqttc::Error explain(mqttc::Error e, std::string_view thing);

DeliveryResult to_delivery_result(const mqttc::Error& e);
std::string evidence_line(const mqttc::Error& e);

}  // namespace pm500::sinks::aws_iot
