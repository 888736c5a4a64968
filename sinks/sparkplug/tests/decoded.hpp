// The Sparkplug sink's tests read what it published through an independent decoder: protoc's
// Python output of sparkplug_b.proto (python3-protobuf), run by tests/decode.py. Its JSON lines
// are parsed here into plain structs the tests assert on.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sinks/common/tests/mqtt_broker.hpp"

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

// An NCMD payload asking for a rebirth (Node Control/Rebirth = true), encoded by protoc's Python
// module, not by the sink's encoder.
std::string rebirth_command();

// mosquitto_sub on spBv1.0/# (QoS 1, persistent session) printing "TOPIC HEX" lines.
class SparkplugSubscriber {
 public:
  SparkplugSubscriber(const Mosquitto& broker, const Pki& pki, std::vector<std::string> auth,
                      const std::string& client_id = "pm500-test-spb");
  bool ready(const std::vector<std::string>& pub_auth, std::chrono::milliseconds timeout = 10s);
  // Messages the edge node published (not the hosts' NCMD, DCMD and STATE) so far (cheap:
  // counts lines).
  std::size_t count() const;
  // Every one of them so far, decoded.
  std::vector<DecodedMessage> messages() const;

 private:
  const Mosquitto& broker_;
  const Pki& pki_;
  std::unique_ptr<Process> proc_;
};

// Publishes a file's bytes with mosquitto_pub (binary payloads).
RunResult publish_bytes(const Mosquitto& broker, const Pki& pki, const std::string& topic, const std::string& bytes,
                        const std::vector<std::string>& auth, bool retain = false);

}  // namespace pm500::test::sparkplug
