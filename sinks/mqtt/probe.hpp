// `pm500-gateway check` for the MQTT sink: certificate files, then one diagnostic connection
// (TCP, TLS, CONNECT with the configured credentials). The CONNECT uses client id
// "<client_id>-check", so a running gateway keeps its own session (a second connection with its
// id would take it over and make the broker publish its last will).
#pragma once

#include <vector>

#include "pipeline/sink_plugin.hpp"
#include "sinks/mqtt/mqtt_sink.hpp"

namespace pm500::sinks::mqtt {

std::vector<SinkProbeResult> probe_mqtt(const MqttSinkConfig& cfg);

}  // namespace pm500::sinks::mqtt
