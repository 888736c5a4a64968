// [sinks.aws_iot] settings.
#pragma once

#include <cstdint>
#include <string>

#include "config/options.hpp"

namespace pm500::sinks::aws_iot {

struct AwsIotConfig {
  std::string endpoint;          // <prefix>-ats.iot.<region>.amazonaws.com
  std::int64_t port = 8883;      // 8883, or 443 with ALPN x-amzn-mqtt-ca
  std::string thing_name;        // the MQTT client id
  std::string cert_file;         // device certificate (PEM)
  std::string key_file;          // its private key
  std::string key_password;      // secret
  std::string ca_file;           // Amazon root CA (AmazonRootCA1.pem)
  std::string protocol = "3.1.1";
  std::string topic = "dt/pm500/{site}/{device}";
  std::string basic_ingest_rule;  // "" = normal topics; else $aws/rules/<rule>/<topic>
  std::int64_t qos = 1;
  std::int64_t max_payload_kb = 128;
  std::int64_t publishes_per_second = 100;
  bool shadow = true;
  std::string rule_error_topic;   // "" = not subscribed
  std::int64_t rule_error_hold_s = 300;
  std::int64_t kinesis_shards = 0;  // 0 = no capacity check
  std::int64_t kinesis_window_s = 10;
  std::int64_t keepalive_s = 30;
  std::int64_t connect_timeout_ms = 5000;
  std::int64_t ack_timeout_ms = 10000;
  std::int64_t max_inflight = 20;
};

const config::Options<AwsIotConfig>& aws_iot_options();

// What the options table cannot check alone; "" = fine.
std::string validate(const AwsIotConfig& cfg);

}  // namespace pm500::sinks::aws_iot
