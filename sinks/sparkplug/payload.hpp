// Sparkplug B payloads (sparkplug_b.proto) encoded and decoded with nanopb: plain views in,
// bytes out, no protobuf objects kept. The encoder writes into a caller's string whose capacity is
// reused, so a warm encoder allocates nothing; strings and repeated fields are handed to nanopb
// through callbacks that read the views directly.
//
//   sparkplug::Metric m;
//   m.name = "bdSeq";
//   m.value = sparkplug::Value::whole(DataType::UInt64, 3);
//   sparkplug::Payload p;
//   p.metrics = {&m, 1};
//   std::string out;
//   if (auto e = sparkplug::encode(p, out); !e.empty()) ...
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pm500/expected.hpp"

namespace pm500::sinks::sparkplug {

// The specification's data type codes (sparkplug_b.proto, enum DataType).
enum class DataType : std::uint32_t {
  Unknown = 0, Int8 = 1, Int16 = 2, Int32 = 3, Int64 = 4, UInt8 = 5, UInt16 = 6, UInt32 = 7, UInt64 = 8,
  Float = 9, Double = 10, Boolean = 11, String = 12, DateTime = 13, Text = 14,
};
std::string_view to_string(DataType t) noexcept;

// A value of the given type: numbers in `number` (Float, Double) or `integer` (the integer
// types, Boolean, DateTime; a signed value as its two's complement), text in `text`.
struct Value {
  DataType type = DataType::Double;
  double number = 0;
  std::uint64_t integer = 0;
  std::string_view text;

  static Value real(DataType t, double v) {
    Value x;
    x.type = t;
    x.number = v;
    return x;
  }
  static Value whole(DataType t, std::uint64_t v) {
    Value x;
    x.type = t;
    x.integer = v;
    return x;
  }
  static Value string(std::string_view s) {
    Value x;
    x.type = DataType::String;
    x.text = s;
    return x;
  }
};

struct Property {
  std::string_view key;
  Value value;
};

struct Metric {
  std::string_view name;              // "" = not written (DDATA after birth names by alias)
  std::optional<std::uint64_t> alias;
  std::uint64_t timestamp_ms = 0;     // 0 = not written
  bool with_datatype = true;          // births carry it; DDATA may leave it out
  bool historical = false;
  bool is_null = false;               // no value yet (a birth before the first sample)
  Value value;
  std::span<const Property> properties;
};

struct Payload {
  std::uint64_t timestamp_ms = 0;
  std::optional<std::uint64_t> seq;  // absent in NDEATH
  std::span<const Metric> metrics;
};

// Encodes `p` into `out` (replacing its contents). "" = done; otherwise nanopb's reason.
std::string encode(const Payload& p, std::string& out);

// What the gateway reads of a command (NCMD/DCMD): each metric's name or alias, type and value.
struct ReceivedMetric {
  std::string name;
  std::optional<std::uint64_t> alias;
  DataType type = DataType::Unknown;
  std::optional<bool> boolean;  // set for a boolean value
  std::string value_text;       // the value as text, for the log
};

pm500::expected<std::vector<ReceivedMetric>, std::string> decode_metrics(std::span<const std::uint8_t> bytes);

}  // namespace pm500::sinks::sparkplug
