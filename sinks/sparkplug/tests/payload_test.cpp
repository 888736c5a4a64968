// The nanopb encoder against an independent decoder (protoc's Python output of the same .proto):
// every field the sink writes comes back with its value and type.
#include <doctest/doctest.h>

#include "sinks/sparkplug/payload.hpp"
#include "sinks/sparkplug/tests/decoded.hpp"

using namespace pm500::sinks::sparkplug;
using pm500::test::sparkplug::decode_lines;
using pm500::test::sparkplug::hex_line;

namespace {

Metric named(std::string_view name, Value v) {
  Metric m;
  m.name = name;
  m.value = v;
  return m;
}

Metric by_alias(std::uint64_t alias, std::uint64_t ts, Value v) {
  Metric m;
  m.alias = alias;
  m.timestamp_ms = ts;
  m.with_datatype = false;
  m.value = v;
  return m;
}

std::string encoded(std::uint64_t ts, std::optional<std::uint64_t> seq, std::span<const Metric> metrics) {
  Payload p;
  p.timestamp_ms = ts;
  p.seq = seq;
  p.metrics = metrics;
  std::string out;
  REQUIRE(encode(p, out) == "");
  return out;
}

}  // namespace

TEST_CASE("a birth-like payload decodes with every type, property and flag") {
  const Property props[] = {{"engUnit", Value::string("V")},
                            {"ct", Value::string("400:5")},
                            {"scale", Value::real(DataType::Double, 0.1)}};
  std::vector<Metric> metrics{named("bdSeq", Value::whole(DataType::UInt64, 255)),
                              named("Node Control/Rebirth", Value::whole(DataType::Boolean, 0)),
                              named("Real-time voltage and current/voltage_l1_n_v", Value::real(DataType::Float, 230.5)),
                              named("Energy meters/active_energy_import_kwh", Value::real(DataType::Double, 12345678901.25)),
                              named("Properties/Version", Value::string("0.1.0")),
                              named("counter", Value::whole(DataType::Int16, static_cast<std::uint16_t>(-7))),
                              named("not yet", Value::real(DataType::Float, 0))};
  metrics[1].alias = 2;
  metrics[2].alias = 110100;
  metrics[2].timestamp_ms = 1714564800123;
  metrics[2].properties = props;
  metrics[3].alias = 110700;
  metrics[3].timestamp_ms = 1714564800124;
  metrics[6].is_null = true;
  auto msgs = decode_lines(hex_line("spBv1.0/plant/NBIRTH/edge", encoded(1714564800000, 0, metrics)));
  REQUIRE(msgs.size() == 1);
  const auto& m = msgs[0];
  CHECK(m.type() == "NBIRTH");
  CHECK(m.timestamp == 1714564800000u);
  REQUIRE(m.seq.has_value());
  CHECK(*m.seq == 0u);
  REQUIRE(m.metrics.size() == 7);

  const auto* bd = m.metric("bdSeq");
  REQUIRE(bd);
  CHECK(bd->datatype == 8u);
  CHECK(bd->value.field == "long_value");
  CHECK(bd->value.integer == 255u);
  CHECK_FALSE(bd->alias.has_value());
  CHECK_FALSE(bd->timestamp.has_value());

  const auto* rebirth = m.metric("Node Control/Rebirth");
  REQUIRE(rebirth);
  CHECK(rebirth->datatype == 11u);
  CHECK(rebirth->value.field == "boolean_value");
  CHECK(rebirth->value.boolean == false);
  CHECK(rebirth->alias == 2u);

  const auto* v = m.metric("Real-time voltage and current/voltage_l1_n_v");
  REQUIRE(v);
  CHECK(v->datatype == 9u);
  CHECK(v->value.field == "float_value");
  CHECK(v->value.number == 230.5);
  CHECK(v->alias == 110100u);
  CHECK(v->timestamp == 1714564800123u);
  CHECK_FALSE(v->historical);
  REQUIRE(v->properties.size() == 3);
  CHECK(v->properties.at("engUnit").text == "V");
  CHECK(v->property_types.at("engUnit") == 12u);
  CHECK(v->properties.at("ct").text == "400:5");
  CHECK(v->properties.at("scale").field == "double_value");
  CHECK(v->properties.at("scale").number == 0.1);

  const auto* e = m.metric("Energy meters/active_energy_import_kwh");
  REQUIRE(e);
  CHECK(e->datatype == 10u);
  CHECK(e->value.field == "double_value");
  CHECK(e->value.number == 12345678901.25);  // every digit: a double, not a float

  const auto* s = m.metric("Properties/Version");
  REQUIRE(s);
  CHECK(s->datatype == 12u);
  CHECK(s->value.text == "0.1.0");

  const auto* c = m.metric("counter");
  REQUIRE(c);
  CHECK(c->datatype == 2u);
  CHECK(c->value.field == "int_value");
  CHECK(c->value.integer == 65529u);  // Int16 -7 as the specification stores it (two's complement in uint32)

  const auto* n = m.metric("not yet");
  REQUIRE(n);
  CHECK(n->is_null);
  CHECK(n->value.field == "");
}

TEST_CASE("DDATA by alias: no name, no datatype, historical flag; NDEATH without seq") {
  std::vector<Metric> data{by_alias(110101, 1714564800500, Value::real(DataType::Float, 231.25))};
  data[0].historical = true;
  const Metric bd[] = {named("bdSeq", Value::whole(DataType::UInt64, 7))};
  auto msgs = decode_lines(hex_line("spBv1.0/plant/DDATA/edge/mcc-1", encoded(1714564800500, 255, data)) +
                           hex_line("spBv1.0/plant/NDEATH/edge", encoded(0, std::nullopt, bd)));
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].device() == "mcc-1");
  CHECK(msgs[0].seq == 255u);
  REQUIRE(msgs[0].metrics.size() == 1);
  const auto& d = msgs[0].metrics[0];
  CHECK_FALSE(d.name.has_value());
  CHECK_FALSE(d.datatype.has_value());
  CHECK(d.alias == 110101u);
  CHECK(d.historical);
  CHECK(d.value.number == 231.25);
  CHECK(msgs[1].type() == "NDEATH");
  CHECK_FALSE(msgs[1].seq.has_value());
  CHECK_FALSE(msgs[1].timestamp.has_value());
  REQUIRE(msgs[1].metric("bdSeq"));
  CHECK(msgs[1].metric("bdSeq")->value.integer == 7u);
}

TEST_CASE("a command decodes: the rebirth request by name, a write by alias; garbage is an error") {
  const Metric cmd[] = {named("Node Control/Rebirth", Value::whole(DataType::Boolean, 1)),
                        by_alias(110100, 0, Value::real(DataType::Float, 5))};
  const std::string bytes = encoded(1, std::nullopt, cmd);
  auto r = decode_metrics({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK((*r)[0].name == "Node Control/Rebirth");
  CHECK((*r)[0].type == DataType::Boolean);
  CHECK((*r)[0].boolean == true);
  CHECK((*r)[1].name == "");
  CHECK((*r)[1].alias == 110100u);
  CHECK((*r)[1].value_text == "5");

  const std::uint8_t garbage[] = {0x12, 0xFF, 0x01};  // metrics field, length beyond the end
  auto bad = decode_metrics(garbage);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("not a Sparkplug B payload") != std::string::npos);
}

TEST_CASE("a warm encoder allocates nothing new: the output string keeps its capacity") {
  const Metric data[] = {by_alias(1, 5, Value::real(DataType::Float, 1.5))};
  Payload p;
  p.timestamp_ms = 5;
  p.seq = 1;
  p.metrics = data;
  std::string out;
  REQUIRE(encode(p, out) == "");
  const auto* before = out.data();
  const auto cap = out.capacity();
  p.seq = 2;
  REQUIRE(encode(p, out) == "");
  CHECK(out.data() == before);
  CHECK(out.capacity() == cap);
}

TEST_CASE("a metric by alias is written byte for byte as the descriptor-driven encoder writes it") {
  // A metric without name or properties takes the direct path; the same metric with a name (field
  // 1, written first) takes nanopb's descriptor path. Apart from the name the bytes must agree.
  std::vector<Metric> cases{
      by_alias(110101, 1714564800500, Value::real(DataType::Float, 231.25)),
      by_alias(110102, 1714564800500, Value::real(DataType::Double, -1.0e300)),
      by_alias(3, 0, Value::whole(DataType::Int8, static_cast<std::uint64_t>(-5))),
      by_alias(4, 1, Value::whole(DataType::UInt32, 4'000'000'000u)),
      by_alias(5, 1, Value::whole(DataType::Int64, static_cast<std::uint64_t>(-1))),
      by_alias(6, 1, Value::whole(DataType::UInt64, 1ull << 63)),
      by_alias(7, 1, Value::whole(DataType::DateTime, 1714564800500)),
      by_alias(8, 1, Value::whole(DataType::Boolean, 1)),
      by_alias(9, 1, Value::string("ct.mismatch,mqtt.publish_failure")),
      by_alias(10, 1, Value::whole(DataType::Unknown, 0)),
  };
  Metric with_type = by_alias(11, 2, Value::real(DataType::Float, 1.5f));
  with_type.with_datatype = true;
  with_type.historical = true;
  cases.push_back(with_type);
  Metric null = by_alias(12, 2, Value::real(DataType::Double, 0));
  null.is_null = true;
  cases.push_back(null);
  for (const Metric& plain : cases) {
    INFO("alias ", *plain.alias);
    Metric named_copy = plain;
    named_copy.name = "x";
    const std::string direct = encoded(0, std::nullopt, {&plain, 1});
    const std::string described = encoded(0, std::nullopt, {&named_copy, 1});
    // Payload field 2 (metrics): tag, length, body; the named body starts with 0x0A 0x01 'x'.
    REQUIRE(direct.size() >= 2);
    REQUIRE(described.size() == direct.size() + 3);
    CHECK(described[0] == direct[0]);
    CHECK(static_cast<unsigned char>(described[1]) == static_cast<unsigned char>(direct[1]) + 3);
    CHECK(described.substr(2, 3) == std::string("\x0A\x01x", 3));
    CHECK(described.substr(5) == direct.substr(2));
  }
}
