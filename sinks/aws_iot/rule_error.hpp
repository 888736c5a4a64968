// AWS IoT rule error-action messages: when a rule's action fails (Kinesis throttled, IAM role
// without permission...), AWS IoT publishes a JSON document to the rule's error topic:
//
//   {"ruleName":"pm500_to_kinesis","topic":"dt/pm500/plant/mcc-1","clientId":"gw-1",
//    "failures":[{"failedAction":"KinesisAction","failedResource":"pm500-stream",
//                 "errorMessage":"Failed to send message to Kinesis. ... ProvisionedThroughputExceededException ..."}]}
//
// Parsed with simdjson; paho-free so the fuzz target can build it alone. Malformed input is an
// error value, never an exception or a crash.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pm500/expected.hpp"

namespace pm500::sinks::aws_iot {

struct RuleFailure {
  std::string failed_action;    // "KinesisAction", "LambdaAction", ...
  std::string failed_resource;  // stream, function, bucket...
  std::string error_message;
};

struct RuleError {
  std::string rule_name;
  std::string topic;      // the topic of the message the rule failed on
  std::string client_id;  // may be empty
  std::vector<RuleFailure> failures;
};

pm500::expected<RuleError, std::string> parse_rule_error(std::string_view json);

// A Kinesis (or Firehose) throughput error: the stream has too few shards for the rate.
bool is_throughput_error(const RuleFailure& f);
// The throttling marker found in the error message ("ProvisionedThroughputExceeded"), or "".
std::string_view throughput_marker(const RuleFailure& f);

// One line for the condition's evidence: rule, topic, then each failure's action, resource and message.
std::string evidence(const RuleError& e);

}  // namespace pm500::sinks::aws_iot
