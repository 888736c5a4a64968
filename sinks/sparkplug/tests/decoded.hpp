// The Sparkplug sink's tests read what it published through an independent decoder: protoc's
// Python output of sparkplug_b.proto (python3-protobuf), run by tests/decode.py. Its JSON lines
// are parsed here into plain structs the tests assert on.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pm500::test::sparkplug {

struct DecodedValue {
  std::string field;  // "double_value", "boolean_value", ... ; "" = none
  double number = 0;  // numeric values (integers too, when they fit)
  std::uint64_t integer = 0;
  bool boolean = false;
  std::string text;
};

struct DecodedMetric {
  std::optional<std::string> name;
  std::optional<std::uint64_t> alias, timestamp;
  std::optional<std::uint32_t> datatype;
  bool historical = false, transient = false, is_null = false;
  DecodedValue value;
  std::map<std::string, DecodedValue> properties;  // key -> value
  std::map<std::string, std::uint32_t> property_types;
};

struct DecodedMessage {
  std::string topic;
  std::string raw;  // STATE and other non-Sparkplug payloads, as text
  std::optional<std::uint64_t> timestamp, seq;
  std::vector<DecodedMetric> metrics;

  // The message type from the topic (NBIRTH, DDATA, ...); "" when it is no Sparkplug topic.
  std::string type() const;
  // The device id (fifth level), "" for node messages.
  std::string device() const;
  const DecodedMetric* metric(const std::string& name) const;
};

// Decodes "TOPIC HEX" lines (mosquitto_sub -F '%t %x'). Throws (failing the test) when protoc or
// python3's protobuf module is missing, naming the Debian package.
std::vector<DecodedMessage> decode_lines(const std::string& lines);

// "TOPIC HEX" for a payload, as mosquitto_sub prints it.
std::string hex_line(const std::string& topic, const std::string& payload);

}  // namespace pm500::test::sparkplug
