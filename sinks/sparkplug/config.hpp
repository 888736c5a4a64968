// The Sparkplug sink's settings: the broker connection is the MQTT sink's (same keys, same
// checks, same probe), plus the Sparkplug identity, report by exception and the primary host.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/options.hpp"
#include "pm500/expected.hpp"
#include "sinks/mqtt/mqtt_sink.hpp"

namespace pm500::sinks::sparkplug {

struct SparkplugConfig : mqtt::MqttSinkConfig {
  SparkplugConfig() {
    client_id = "pm500-gateway-sparkplug";  // beside an [sinks.mqtt] on the same broker
    status_topic.clear();                   // NDEATH is the will; no JSON status topic
  }
  std::string group_id;         // "" = the gateway's site
  std::string edge_node_id;     // "" = the gateway's site
  std::string primary_host_id;  // "" = publish without waiting for a host's STATE
  std::string report = "exception";        // "exception": changed values only; "all": every value of every sample
  std::vector<std::string> deadband;       // "UNIT=AMOUNT", e.g. "V=0.5": smaller changes are not reported
  std::int64_t device_timeout_ms = 0;      // silence before DDEATH; 0 = 4 x the meter's RPI, at least 2 s
  std::int64_t host_offline_alert_s = 60;  // primary host offline this long raises mqtt.publish_failure
};

const config::Options<SparkplugConfig>& sparkplug_options();

// What the options table cannot check (the broker keys as the MQTT sink checks them, the
// deadband entries); "" = fine.
std::string validate(const SparkplugConfig& cfg);

// The deadband entries as unit -> amount.
pm500::expected<std::map<std::string, double>, std::string> parse_deadbands(const std::vector<std::string>& entries);

}  // namespace pm500::sinks::sparkplug
