#include "sinks/sparkplug/payload.hpp"

#include <pb_decode.h>
#include <pb_encode.h>

#include <algorithm>
#include <cstdio>

#include "sparkplug_b.pb.h"

namespace pm500::sinks::sparkplug {

namespace {

using PbPayload = pm500_sparkplug_b_Payload;
using PbMetric = pm500_sparkplug_b_Payload_Metric;
using PbPropertyValue = pm500_sparkplug_b_Payload_PropertyValue;

const pb_byte_t* bytes_of(std::string_view s) { return reinterpret_cast<const pb_byte_t*>(s.data()); }
void* arg_of(const void* p) { return const_cast<void*>(p); }

bool encode_view(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) {
  const auto* s = static_cast<const std::string_view*>(*arg);
  return pb_encode_tag_for_field(stream, field) && pb_encode_string(stream, bytes_of(*s), s->size());
}

// The oneof `value` of a Metric and of a PropertyValue differ only in their field numbers.
struct ValueTags {
  pb_size_t int_value, long_value, float_value, double_value, boolean_value, string_value;
};
constexpr ValueTags kMetricTags{pm500_sparkplug_b_Payload_Metric_int_value_tag,
                                pm500_sparkplug_b_Payload_Metric_long_value_tag,
                                pm500_sparkplug_b_Payload_Metric_float_value_tag,
                                pm500_sparkplug_b_Payload_Metric_double_value_tag,
                                pm500_sparkplug_b_Payload_Metric_boolean_value_tag,
                                pm500_sparkplug_b_Payload_Metric_string_value_tag};
constexpr ValueTags kPropertyTags{pm500_sparkplug_b_Payload_PropertyValue_int_value_tag,
                                  pm500_sparkplug_b_Payload_PropertyValue_long_value_tag,
                                  pm500_sparkplug_b_Payload_PropertyValue_float_value_tag,
                                  pm500_sparkplug_b_Payload_PropertyValue_double_value_tag,
                                  pm500_sparkplug_b_Payload_PropertyValue_boolean_value_tag,
                                  pm500_sparkplug_b_Payload_PropertyValue_string_value_tag};

// Fills the oneof from `v` by the field the specification assigns to each type (Sparkplug 3.0,
// "Metric": 8..32-bit integers in int_value, 64-bit and DateTime in long_value).
template <class Pb>
void set_value(Pb& m, const Value& v, const ValueTags& tags) {
  switch (v.type) {
    case DataType::Int8: case DataType::Int16: case DataType::Int32:
    case DataType::UInt8: case DataType::UInt16: case DataType::UInt32:
      m.which_value = tags.int_value;
      m.value.int_value = static_cast<std::uint32_t>(v.integer);
      break;
    case DataType::Int64: case DataType::UInt64: case DataType::DateTime:
      m.which_value = tags.long_value;
      m.value.long_value = v.integer;
      break;
    case DataType::Float:
      m.which_value = tags.float_value;
      m.value.float_value = static_cast<float>(v.number);
      break;
    case DataType::Double:
      m.which_value = tags.double_value;
      m.value.double_value = v.number;
      break;
    case DataType::Boolean:
      m.which_value = tags.boolean_value;
      m.value.boolean_value = v.integer != 0;
      break;
    case DataType::String: case DataType::Text:
      m.which_value = tags.string_value;
      m.value.string_value.funcs.encode = &encode_view;
      m.value.string_value.arg = arg_of(&v.text);
      break;
    case DataType::Unknown:
      m.which_value = 0;
      break;
  }
}

bool encode_keys(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) {
  for (const Property& p : *static_cast<const std::span<const Property>*>(*arg))
    if (!pb_encode_tag_for_field(stream, field) || !pb_encode_string(stream, bytes_of(p.key), p.key.size()))
      return false;
  return true;
}

bool encode_property_values(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) {
  for (const Property& p : *static_cast<const std::span<const Property>*>(*arg)) {
    PbPropertyValue v = pm500_sparkplug_b_Payload_PropertyValue_init_zero;
    v.has_type = true;
    v.type = static_cast<std::uint32_t>(p.value.type);
    set_value(v, p.value, kPropertyTags);
    if (!pb_encode_tag_for_field(stream, field) ||
        !pb_encode_submessage(stream, &pm500_sparkplug_b_Payload_PropertyValue_msg, &v))
      return false;
  }
  return true;
}

// A metric without name and properties (DDATA, NDATA: by alias) written field by field with
// nanopb's primitives, in the order pb_encode writes them (by field number), so the bytes are
// those of the descriptor-driven path below at a fraction of its cost (it walks every field
// descriptor of Metric twice, to size and to write).
bool write_plain_metric(pb_ostream_t* s, const Metric& in) {
  auto varint = [s](pb_size_t tag, std::uint64_t v) { return pb_encode_tag(s, PB_WT_VARINT, tag) && pb_encode_varint(s, v); };
  if (in.alias && !varint(pm500_sparkplug_b_Payload_Metric_alias_tag, *in.alias)) return false;
  if (in.timestamp_ms != 0 && !varint(pm500_sparkplug_b_Payload_Metric_timestamp_tag, in.timestamp_ms)) return false;
  if (in.with_datatype && !varint(pm500_sparkplug_b_Payload_Metric_datatype_tag, static_cast<std::uint32_t>(in.value.type)))
    return false;
  if (in.historical && !varint(pm500_sparkplug_b_Payload_Metric_is_historical_tag, 1)) return false;
  if (in.is_null) return varint(pm500_sparkplug_b_Payload_Metric_is_null_tag, 1);
  const Value& v = in.value;
  switch (v.type) {
    case DataType::Int8: case DataType::Int16: case DataType::Int32:
    case DataType::UInt8: case DataType::UInt16: case DataType::UInt32:
      return varint(pm500_sparkplug_b_Payload_Metric_int_value_tag, static_cast<std::uint32_t>(v.integer));
    case DataType::Int64: case DataType::UInt64: case DataType::DateTime:
      return varint(pm500_sparkplug_b_Payload_Metric_long_value_tag, v.integer);
    case DataType::Float: {
      const float f = static_cast<float>(v.number);
      return pb_encode_tag(s, PB_WT_32BIT, pm500_sparkplug_b_Payload_Metric_float_value_tag) && pb_encode_fixed32(s, &f);
    }
    case DataType::Double:
      return pb_encode_tag(s, PB_WT_64BIT, pm500_sparkplug_b_Payload_Metric_double_value_tag) &&
             pb_encode_fixed64(s, &v.number);
    case DataType::Boolean:
      return varint(pm500_sparkplug_b_Payload_Metric_boolean_value_tag, v.integer != 0 ? 1 : 0);
    case DataType::String: case DataType::Text:
      return pb_encode_tag(s, PB_WT_STRING, pm500_sparkplug_b_Payload_Metric_string_value_tag) &&
             pb_encode_string(s, bytes_of(v.text), v.text.size());
    case DataType::Unknown:
      return true;
  }
  return true;
}

bool encode_metrics(pb_ostream_t* stream, const pb_field_t* field, void* const* arg) {
  for (const Metric& in : *static_cast<const std::span<const Metric>*>(*arg)) {
    if (in.name.empty() && in.properties.empty()) {
      pb_ostream_t sizing = PB_OSTREAM_SIZING;
      if (!write_plain_metric(&sizing, in) || !pb_encode_tag_for_field(stream, field) ||
          !pb_encode_varint(stream, sizing.bytes_written) || !write_plain_metric(stream, in))
        return false;
      continue;
    }
    PbMetric m = pm500_sparkplug_b_Payload_Metric_init_zero;
    if (!in.name.empty()) {
      m.name.funcs.encode = &encode_view;
      m.name.arg = arg_of(&in.name);
    }
    if (in.alias) {
      m.has_alias = true;
      m.alias = *in.alias;
    }
    if (in.timestamp_ms != 0) {
      m.has_timestamp = true;
      m.timestamp = in.timestamp_ms;
    }
    if (in.with_datatype) {
      m.has_datatype = true;
      m.datatype = static_cast<std::uint32_t>(in.value.type);
    }
    if (in.historical) {
      m.has_is_historical = true;
      m.is_historical = true;
    }
    if (in.is_null) {
      m.has_is_null = true;
      m.is_null = true;
    } else {
      set_value(m, in.value, kMetricTags);
    }
    if (!in.properties.empty()) {
      m.has_properties = true;
      m.properties.keys.funcs.encode = &encode_keys;
      m.properties.keys.arg = arg_of(&in.properties);
      m.properties.values.funcs.encode = &encode_property_values;
      m.properties.values.arg = arg_of(&in.properties);
    }
    if (!pb_encode_tag_for_field(stream, field) || !pb_encode_submessage(stream, &pm500_sparkplug_b_Payload_Metric_msg, &m))
      return false;
  }
  return true;
}

bool read_string(pb_istream_t* stream, const pb_field_t*, void** arg) {
  auto* s = static_cast<std::string*>(*arg);
  s->resize(stream->bytes_left);
  return pb_read(stream, reinterpret_cast<pb_byte_t*>(s->data()), s->size());
}

std::string value_text(const PbMetric& m) {
  char buf[40];
  switch (m.which_value) {
    case pm500_sparkplug_b_Payload_Metric_int_value_tag: return std::to_string(m.value.int_value);
    case pm500_sparkplug_b_Payload_Metric_long_value_tag: return std::to_string(m.value.long_value);
    case pm500_sparkplug_b_Payload_Metric_float_value_tag:
      std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(m.value.float_value));
      return buf;
    case pm500_sparkplug_b_Payload_Metric_double_value_tag:
      std::snprintf(buf, sizeof buf, "%.17g", m.value.double_value);
      return buf;
    case pm500_sparkplug_b_Payload_Metric_boolean_value_tag: return m.value.boolean_value ? "true" : "false";
    case pm500_sparkplug_b_Payload_Metric_string_value_tag: return "(a string)";
    default: return m.has_is_null && m.is_null ? "null" : "(no value)";
  }
}

bool decode_metric(pb_istream_t* stream, const pb_field_t*, void** arg) {
  auto* out = static_cast<std::vector<ReceivedMetric>*>(*arg);
  ReceivedMetric r;
  PbMetric m = pm500_sparkplug_b_Payload_Metric_init_zero;
  m.name.funcs.decode = &read_string;
  m.name.arg = &r.name;
  // A string value (a callback inside the oneof) stays unread: the union is zeroed, so nanopb
  // finds no decoder for it and skips it.
  if (!pb_decode(stream, &pm500_sparkplug_b_Payload_Metric_msg, &m)) return false;
  if (m.has_alias) r.alias = m.alias;
  if (m.has_datatype) r.type = static_cast<DataType>(m.datatype);
  if (m.which_value == pm500_sparkplug_b_Payload_Metric_boolean_value_tag) r.boolean = m.value.boolean_value;
  r.value_text = value_text(m);
  out->push_back(std::move(r));
  return true;
}

}  // namespace

std::string_view to_string(DataType t) noexcept {
  switch (t) {
    case DataType::Unknown: return "Unknown";
    case DataType::Int8: return "Int8";
    case DataType::Int16: return "Int16";
    case DataType::Int32: return "Int32";
    case DataType::Int64: return "Int64";
    case DataType::UInt8: return "UInt8";
    case DataType::UInt16: return "UInt16";
    case DataType::UInt32: return "UInt32";
    case DataType::UInt64: return "UInt64";
    case DataType::Float: return "Float";
    case DataType::Double: return "Double";
    case DataType::Boolean: return "Boolean";
    case DataType::String: return "String";
    case DataType::DateTime: return "DateTime";
    case DataType::Text: return "Text";
  }
  return "Unknown";
}

std::string encode(const Payload& p, std::string& out) {
  out.clear();
  PbPayload pb = pm500_sparkplug_b_Payload_init_zero;
  if (p.timestamp_ms != 0) {
    pb.has_timestamp = true;
    pb.timestamp = p.timestamp_ms;
  }
  if (p.seq) {
    pb.has_seq = true;
    pb.seq = *p.seq;
  }
  if (!p.metrics.empty()) {
    pb.metrics.funcs.encode = &encode_metrics;
    pb.metrics.arg = arg_of(&p.metrics);
  }
  // Straight into the string's own bytes (nanopb's buffer stream, no write callback per field):
  // sized from a generous estimate, grown and encoded again in the rare case it was too small.
  std::size_t guess = 32;
  for (const Metric& m : p.metrics) {
    guess += 48 + m.name.size() + m.value.text.size();
    for (const Property& q : m.properties) guess += 24 + q.key.size() + q.value.text.size();
  }
  guess = std::max(guess, out.capacity());
  for (int attempt = 0; attempt < 8; ++attempt, guess *= 2) {
    out.resize(guess);
    pb_ostream_t stream = pb_ostream_from_buffer(reinterpret_cast<pb_byte_t*>(out.data()), out.size());
    if (pb_encode(&stream, &pm500_sparkplug_b_Payload_msg, &pb)) {
      out.resize(stream.bytes_written);
      return {};
    }
    const std::string_view why = PB_GET_ERROR(&stream);
    if (why != "stream full") {  // not the size: a real failure
      out.clear();
      return "nanopb: " + std::string(why);
    }
  }
  out.clear();
  return "nanopb: the payload does not fit in " + std::to_string(guess) + " bytes";
}

pm500::expected<std::vector<ReceivedMetric>, std::string> decode_metrics(std::span<const std::uint8_t> bytes) {
  std::vector<ReceivedMetric> out;
  PbPayload pb = pm500_sparkplug_b_Payload_init_zero;
  pb.metrics.funcs.decode = &decode_metric;
  pb.metrics.arg = &out;
  pb_istream_t stream = pb_istream_from_buffer(bytes.data(), bytes.size());
  if (!pb_decode(&stream, &pm500_sparkplug_b_Payload_msg, &pb))
    return pm500::unexpected(std::string("not a Sparkplug B payload: ") + PB_GET_ERROR(&stream));
  return out;
}

}  // namespace pm500::sinks::sparkplug
