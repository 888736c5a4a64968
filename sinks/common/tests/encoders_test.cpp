#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "pm500/json_text.hpp"
#include "sinks/common/json_sample.hpp"
#include "sinks/common/line_protocol.hpp"

using namespace pm500;

namespace {

DeviceMeta meta() {
  DeviceMeta m;
  m.name = "mcc-1";
  m.site = "plant";
  m.asset = "feeder-1";
  m.fields[1] = {"voltage_l1_n_v", "current_l1_a", "pf"};
  return m;
}

Sample sample(std::initializer_list<double> values) {
  Sample s;
  s.source_time_ns = 1'700'000'000'123'456'789;
  s.device = 0;
  s.assembly = 101;
  s.sequence = 5;
  for (double v : values) s.values[s.count++] = v;
  return s;
}

}  // namespace

TEST_CASE("line protocol: a plain sample") {
  std::string out = "previous\n";
  REQUIRE(lp::append_sample(out, sample({230.5, 12.25, 0.98}), meta(), {}));
  CHECK(out ==
        "previous\n"
        "powermonitor_500,asset=feeder-1,device=mcc-1,site=plant voltage_l1_n_v=230.5,current_l1_a=12.25,pf=0.98 "
        "1700000000123456789\n");
}

TEST_CASE("line protocol: exact escaping of measurement, tag keys and values, field keys") {
  DeviceMeta m;
  m.name = "mcc 1,a=b";            // space, comma, equals in a tag value
  m.site = "pl\"ant";              // quotes need no escaping in tags
  m.asset = "feed\\er";            // backslash is escaped
  m.fields[1] = {"volt age", "cur,rent", "p=f", "x\"y", "back\\slash"};
  lp::Options o;
  o.measurement = "m eas,ure=x\\";  // measurement: comma, space, backslash; not '='
  std::string out;
  REQUIRE(lp::append_sample(out, sample({230.5, 12.25, 0.1, 1e20, -0.0}), m, o));
  CHECK(out ==
        "m\\ eas\\,ure=x\\\\,asset=feed\\\\er,device=mcc\\ 1\\,a\\=b,site=pl\"ant "
        "volt\\ age=230.5,cur\\,rent=12.25,p\\=f=0.1,x\"y=1e+20,back\\\\slash=-0 1700000000123456789\n");
}

TEST_CASE("line protocol: string field values escape quotes and backslashes") {
  std::string out;
  lp::append_string_value(out, R"(say "hi" \ bye)");
  CHECK(out == R"("say \"hi\" \\ bye")");
}

TEST_CASE("line protocol: newlines are rejected and leave the buffer untouched") {
  for (int where = 0; where < 4; ++where) {
    DeviceMeta m = meta();
    lp::Options o;
    if (where == 0) m.name = "a\nb";
    if (where == 1) m.fields[1][1] = "cur\rrent";
    if (where == 2) o.measurement = "x\n";
    if (where == 3) m.site = "s\n";
    std::string out = "keep";
    auto r = lp::append_sample(out, sample({1, 2, 3}), m, o);
    REQUIRE_FALSE(r);
    CHECK(r.error() == lp::EncodeError::newline_in_name);
    CHECK(out == "keep");
  }
}

TEST_CASE("line protocol: floats round-trip, integers get i, non-finite values are left out") {
  const double tricky = 0.1 + 0.2;  // 0.30000000000000004
  lp::Options o;
  o.sequence_field = true;
  std::string out;
  REQUIRE(lp::append_sample(out, sample({tricky, std::numeric_limits<double>::quiet_NaN(), 123456789012.5}), meta(), o));
  CHECK(out ==
        "powermonitor_500,asset=feeder-1,device=mcc-1,site=plant voltage_l1_n_v=0.30000000000000004,"
        "pf=123456789012.5,sequence=5i 1700000000123456789\n");
  CHECK(std::stod("0.30000000000000004") == tricky);

  std::string none;
  auto r = lp::append_sample(none, sample({std::numeric_limits<double>::infinity()}), meta(), {});
  REQUIRE_FALSE(r);
  CHECK(r.error() == lp::EncodeError::no_fields);
  CHECK(none.empty());
}

TEST_CASE("line protocol: timestamp precision and unnamed values and empty tags") {
  DeviceMeta m = meta();
  m.asset.clear();  // an empty tag value is not allowed: the tag is left out
  for (auto [p, ts] : {std::pair{lp::Precision::ns, "1700000000123456789"}, std::pair{lp::Precision::us, "1700000000123456"},
                       std::pair{lp::Precision::ms, "1700000000123"}, std::pair{lp::Precision::s, "1700000000"}}) {
    lp::Options o;
    o.precision = p;
    std::string out;
    REQUIRE(lp::append_sample(out, sample({1, 2, 3, 4}), m, o));
    CHECK(out == std::string("powermonitor_500,device=mcc-1,site=plant voltage_l1_n_v=1,current_l1_a=2,pf=3,value_3=4 ") + ts + "\n");
  }
  CHECK(lp::parse_precision("ms") == lp::Precision::ms);
  CHECK_FALSE(lp::parse_precision("minutes"));
}

TEST_CASE("a meter's float32 value is written at float precision; scaled and large values keep double") {
  const double real = static_cast<double>(64.12857f);  // 64.12857055664062 as a double
  const double scaled = real * (480.0 / 115.0);         // a PT ratio applied in double: not a float any more
  const double counter = 123456789.0;                   // beyond 2^24: not a float
  std::string out;
  REQUIRE(lp::append_sample(out, sample({real, scaled, counter}), meta(), {}));
  CHECK(out.find("voltage_l1_n_v=64.12857,") != std::string::npos);
  auto at = out.find("current_l1_a=") + 13;
  CHECK(std::stod(out.substr(at, out.find(',', at) - at)) == scaled);  // not narrowed: reads back exactly
  CHECK(out.find("pf=123456789 ") != std::string::npos);
  CHECK(static_cast<float>(std::stod("64.12857")) == 64.12857f);  // reads back to the meter's value
  std::string js;
  json::append_sample(js, sample({real}), nullptr);
  CHECK(js.find(":64.12857}") != std::string::npos);
}

TEST_CASE("json: a sample with names, ISO-8601 time with ms, epoch ms, null for NaN") {
  DeviceMeta m = meta();
  m.asset = "feeder \"1\"";
  std::string out;
  json::append_sample(out, sample({230.5, std::numeric_limits<double>::quiet_NaN(), 0.98, 7}), &m);
  CHECK(out ==
        "{\"device\":\"mcc-1\",\"site\":\"plant\",\"asset\":\"feeder \\\"1\\\"\",\"time\":\"2023-11-14T22:13:20.123Z\","
        "\"time_ms\":1700000000123,\"assembly\":101,\"sequence\":5,\"flags\":0,"
        "\"values\":{\"voltage_l1_n_v\":230.5,\"current_l1_a\":null,\"pf\":0.98,\"value_3\":7}}");
}

TEST_CASE("json strings are valid UTF-8 whatever the input: invalid bytes become U+FFFD, valid ones stay") {
  std::string out;
  json::append_string(out, "Z\xC3\xBCrich \xFF\xC0\xAF \xED\xA0\x80 \xE2\x82\xAC \xF0\x9F\x94\x8C \xE2\x82");
  // ü and € and the plug emoji kept; a lone 0xFF, an overlong '/', a surrogate and a cut-off
  // sequence each replaced.
  CHECK(out == "\"Z\xC3\xBCrich \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD "
               "\xE2\x82\xAC \xF0\x9F\x94\x8C \xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("json: unknown device, control characters, times around the epoch and leap days") {
  std::string out;
  json::append_sample(out, sample({1}), nullptr);
  CHECK(out.starts_with("{\"device\":\"#0\",\"time\":"));

  out.clear();
  json::append_iso8601_ms(out, -1);
  CHECK(out == "1969-12-31T23:59:59.999Z");
  out.clear();
  json::append_iso8601_ms(out, 951'782'400'000'000'000);  // 2000-02-29T00:00:00Z
  CHECK(out == "2000-02-29T00:00:00.000Z");
  out.clear();
  json::append_iso8601_ms(out, 0);
  CHECK(out == "1970-01-01T00:00:00.000Z");

  DeviceMeta m = meta();
  m.name = "a\nb\x01";
  out.clear();
  json::append_sample(out, sample({1}), &m);
  CHECK(out.find("\"device\":\"a\\nb\\u0001\"") != std::string::npos);
}

TEST_CASE("line protocol: device tag off, extra tags merged in key order and escaped") {
  lp::Options o;
  o.device_tag = false;
  o.extra_tags = {{"area", "north 1"}, {"line", "a,b"}, {"zone", "z=1"}};
  std::string out;
  REQUIRE(lp::append_sample(out, sample({1.5}), meta(), o));
  CHECK(out ==
        "powermonitor_500,area=north\\ 1,asset=feeder-1,line=a\\,b,site=plant,zone=z\\=1 voltage_l1_n_v=1.5 "
        "1700000000123456789\n");
  o.extra_tags = {{"bad", "x\ny"}};
  std::string keep = "keep";
  auto r = lp::append_sample(keep, sample({1.5}), meta(), o);
  REQUIRE_FALSE(r);
  CHECK(r.error() == lp::EncodeError::newline_in_name);
  CHECK(keep == "keep");
}
