#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "pm500/json_text.hpp"
#include "sinks/common/json_sample.hpp"
#include "sinks/common/line_protocol.hpp"
#include "sinks/common/tests/reference_encoders.hpp"

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
    if (where == 1) m.fields[1] = {"voltage_l1_n_v", "cur\rrent", "pf"};
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

TEST_CASE("quality: a suspect sample is marked in line protocol and JSON, every other flag leaves the bytes alone") {
  const DeviceMeta m = meta();
  Sample s = sample({230.5, 12.25, 0.98});
  s.flags = kSampleScaled | kSampleSuspect;
  lp::Options o;
  o.extra_tags = {{"area", "north"}, {"plant_line", "2"}, {"zone", "b"}};  // around asset and quality
  lp::Encoder lenc(o);
  json::Encoder jenc;
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reads the encoders' cached parts
    std::string line, free_line, doc, free_doc;
    REQUIRE(lenc.append(line, s, m));
    REQUIRE(lp::append_sample(free_line, s, m, o));
    CHECK(line == free_line);
    CHECK(line ==
          "powermonitor_500,area=north,asset=feeder-1,device=mcc-1,plant_line=2,quality=suspect,site=plant,zone=b "
          "voltage_l1_n_v=230.5,current_l1_a=12.25,pf=0.98 1700000000123456789\n");
    jenc.append_sample(doc, s, &m);
    json::append_sample(free_doc, s, &m);
    CHECK(doc == free_doc);
    CHECK(doc.find(",\"flags\":5,\"quality\":\"suspect\",\"values\":{") != std::string::npos);
  }
  // The same sample without the mark (any other flag): no quality tag or member at all.
  for (std::uint16_t flags : {0, 1, 2, 8, 0xfffb}) {
    s.flags = flags;
    std::string line, doc;
    REQUIRE(lenc.append(line, s, m));
    jenc.append_sample(doc, s, &m);
    CHECK(line.find("quality") == std::string::npos);
    CHECK(doc.find("quality") == std::string::npos);
  }
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

// ---- The cached encoders write exactly what the encoders before the cache wrote ----
//
// reference_encoders.cpp is the encoder code as it was (escaping every name per sample, numbers
// through std::to_chars); lp::Encoder and json::Encoder must match it byte for byte, errors
// included, whatever the names, values and options.

namespace {

// Devices whose names need every kind of escaping, or none.
Catalog tricky_catalog() {
  Catalog c;
  DeviceMeta plain;
  plain.name = "mcc-1";
  plain.site = "plant";
  plain.asset = "feeder-1";
  plain.fields[1] = {"voltage_l1_n_v", "current_l1_a", "pf"};
  for (int i = 0; i < 18; ++i) plain.fields[2].push_back("active_power_element_" + std::to_string(i) + "_kw");
  c.devices.push_back(plain);

  DeviceMeta spaced;  // spaces, commas, '=' and backslashes in tags; quotes (JSON) in names
  spaced.name = "mcc 2,a=b";
  spaced.site = "pl\"ant\\north";
  spaced.asset = "feeder \"2\"";
  spaced.fields[1] = {"volt age", "cur,rent", "p=f", "x\"y", "back\\slash", "tab\there", "\xC3\xBC-umlaut", "bad\xFF"};
  spaced.fields[7] = {"energy_import_kwh", "", "energy_export_kwh"};  // an empty name: "value_1" in JSON
  c.devices.push_back(spaced);

  DeviceMeta bare;  // no asset, no site, no field names
  bare.name = "d3";
  c.devices.push_back(bare);

  DeviceMeta broken = plain;  // a newline in a field name: an error only when that value is finite
  broken.name = "broken";
  broken.fields[1] = {"voltage_l1_n_v", "cur\nrent", "pf"};
  c.devices.push_back(broken);
  return c;
}

Sample make(std::uint32_t device, std::uint16_t assembly, std::int64_t t, std::initializer_list<double> values) {
  Sample s;
  s.source_time_ns = t;
  s.device = device;
  s.assembly = assembly;
  s.sequence = static_cast<std::uint16_t>(t / 7);
  s.flags = static_cast<std::uint16_t>(t % 16);
  for (double v : values) s.values[s.count++] = v;
  return s;
}

std::vector<Sample> tricky_samples() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Sample> v;
  const std::int64_t t0 = 1'714'564'800'123'456'789;
  v.push_back(make(0, 101, t0, {230.5, 12.25, 0.98}));
  v.push_back(make(0, 101, t0 + 1, {nan, 12.25, -inf}));  // first value left out: ' ' moves
  v.push_back(make(0, 101, t0 + 2, {nan, inf, -nan}));    // no finite value
  v.push_back(make(0, 101, t0 + 3, {static_cast<float>(64.12857), 233.82808685302734, 123456789012.5, 7, 8}));
  Sample full = make(0, 102, t0 + 86'400'000'000'000, {});
  for (int i = 0; i < 18; ++i) full.values[full.count++] = static_cast<float>(230.0 + 0.137 * i - 100 * (i % 3));
  v.push_back(full);
  v.push_back(make(1, 101, t0, {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  v.push_back(make(1, 101, t0, {nan, nan, 0.1 + 0.2, -0.0, 1e20, 1e-7, 5e-324, 1.7976931348623157e308}));
  v.push_back(make(1, 107, t0, {123456.789 * 92000.0, 17, static_cast<float>(16777217.0), 1e15}));
  v.push_back(make(1, 99, t0, {1.5}));     // an assembly the catalog does not describe
  v.push_back(make(1, 4242, t0, {2.5}));   // and another one
  v.push_back(make(2, 101, -1, {1, 2}));   // no names, before the epoch
  v.push_back(make(2, 108, 0, {3}));
  v.push_back(make(3, 101, t0, {1, nan, 3}));  // the bad name's value is NaN: fine
  v.push_back(make(3, 101, t0, {1, 2, 3}));    // the bad name's value is finite: an error
  v.push_back(make(7, 101, t0, {1, 2}));       // a device index the catalog does not know
  v.push_back(make(70000, 101, t0, {1, 2}));   // and one beyond the encoder's cache
  return v;
}

std::vector<lp::Options> lp_option_sets() {
  std::vector<lp::Options> sets;
  sets.emplace_back();
  lp::Options o;
  o.measurement = "m eas,ure=x\\";
  o.precision = lp::Precision::us;
  o.sequence_field = true;
  sets.push_back(o);
  o = {};
  o.precision = lp::Precision::ms;
  o.device_tag = false;
  o.extra_tags = {{"area", "north 1"}, {"b", ""}, {"line", "a,b"}, {"zone", "z=1"}};
  sets.push_back(o);
  o = {};
  o.precision = lp::Precision::s;
  o.extra_tags = {{"bad", "x\ny"}};
  sets.push_back(o);
  o = {};
  o.measurement = "";
  sets.push_back(o);
  return sets;
}

const DeviceMeta& meta_for(const Catalog& c, std::uint32_t device, DeviceMeta& unknown) {
  if (const DeviceMeta* m = c.device(device)) return *m;
  unknown.name = "device-" + std::to_string(device);  // as the sinks do
  return unknown;
}

}  // namespace

TEST_CASE("lp::Encoder writes the old encoder's exact bytes and errors, for every device, assembly and option") {
  const Catalog cat = tricky_catalog();
  const auto samples = tricky_samples();
  for (const lp::Options& o : lp_option_sets()) {
    CAPTURE(o.measurement);
    lp::Encoder enc(o);
    DeviceMeta unknown;
    std::string want = "previous\n", got = want, free = want;
    for (int round = 0; round < 2; ++round) {  // the second round comes from the cache
      for (const Sample& s : samples) {
        CAPTURE(s.device);
        CAPTURE(s.assembly);
        const DeviceMeta& m = meta_for(cat, s.device, unknown);
        auto a = reference::lp_append_sample(want, s, m, o);
        auto b = enc.append(got, s, m);
        auto c = lp::append_sample(free, s, m, o);
        REQUIRE(a.has_value() == b.has_value());
        REQUIRE(a.has_value() == c.has_value());
        if (!a) {
          CHECK(a.error() == b.error());
          CHECK(a.error() == c.error());
        }
        REQUIRE(got == want);
        REQUIRE(free == want);
      }
    }
  }
}

TEST_CASE("lp::Encoder: the expected errors, and the buffer is untouched by a failed line") {
  const Catalog cat = tricky_catalog();
  lp::Encoder enc;
  std::string out = "keep";
  auto r = enc.append(out, make(3, 101, 1, {1, 2, 3}), cat.devices[3]);
  REQUIRE_FALSE(r);
  CHECK(r.error() == lp::EncodeError::newline_in_name);
  CHECK(out == "keep");
  REQUIRE(enc.append(out, make(3, 101, 1, {1, std::nan(""), 3}), cat.devices[3]));
  CHECK(out == "keep" "powermonitor_500,asset=feeder-1,device=broken,site=plant voltage_l1_n_v=1,pf=3 1\n");
  r = enc.append(out, make(0, 101, 1, {std::nan("")}), cat.devices[0]);
  REQUIRE_FALSE(r);
  CHECK(r.error() == lp::EncodeError::no_fields);
  lp::Options o;
  o.measurement.clear();
  lp::Encoder empty(o);
  r = empty.append(out, make(0, 101, 1, {1}), cat.devices[0]);
  REQUIRE_FALSE(r);
  CHECK(r.error() == lp::EncodeError::empty_name);
}

TEST_CASE("lp::Encoder: a new DeviceMeta for a device index is rendered afresh") {
  DeviceMeta a = meta(), b = meta();
  b.site = "other site";
  lp::Encoder enc;
  std::string out;
  REQUIRE(enc.append(out, sample({1}), a));
  REQUIRE(enc.append(out, sample({1}), b));
  CHECK(out ==
        "powermonitor_500,asset=feeder-1,device=mcc-1,site=plant voltage_l1_n_v=1 1700000000123456789\n"
        "powermonitor_500,asset=feeder-1,device=mcc-1,site=other\\ site voltage_l1_n_v=1 1700000000123456789\n");
}

TEST_CASE("lp::Encoder: many lines into one buffer, which stops growing") {
  const Catalog cat = tricky_catalog();
  lp::Encoder enc;
  std::vector<Sample> batch;
  Sample s = make(0, 102, 1'714'564'800'000'000'000, {});
  s.count = 18;
  for (int n = 0; n < 2000; ++n) {
    s.source_time_ns += 1'000'000;
    for (int i = 0; i < 18; ++i) s.values[i] = static_cast<float>(230.0 + 0.137 * n + 1.5 * i);
    batch.push_back(s);
  }
  std::string got, want;
  for (const Sample& x : batch) {
    REQUIRE(enc.append(got, x, cat.devices[0]));
    REQUIRE(reference::lp_append_sample(want, x, cat.devices[0], {}));
  }
  CHECK(got == want);
  const auto cap = got.capacity();
  got.clear();  // the next batch reuses the buffer: no allocation
  for (const Sample& x : batch) REQUIRE(enc.append(got, x, cat.devices[0]));
  CHECK(got.capacity() == cap);
  CHECK(got == want);
}

TEST_CASE("json::Encoder writes the old encoder's exact bytes: full documents, bodies and identities") {
  const Catalog cat = tricky_catalog();
  auto samples = tricky_samples();
  // Times across days (the date is kept per day), before the epoch and in the far future.
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{-86'400'000'000'001}, std::int64_t{951'782'399'999'999'999},
                         std::int64_t{951'782'400'000'000'000}, std::int64_t{4'102'444'800'000'000'000},
                         std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()})
    samples.push_back(make(0, 101, t, {1, 2, 3}));
  json::Encoder enc;
  std::string want, got, free;
  for (int round = 0; round < 2; ++round) {
    for (const Sample& s : samples) {
      CAPTURE(s.device);
      CAPTURE(s.source_time_ns);
      const DeviceMeta* m = cat.device(s.device);
      reference::json_append_sample(want, s, m);
      enc.append_sample(got, s, m);
      json::append_sample(free, s, m);
      reference::json_append_sample_body(want, s, m);
      enc.append_sample_body(got, s, m);
      json::append_sample_body(free, s, m);
      reference::json_append_device_identity(want, s.device, m);
      enc.append_device_identity(got, s.device, m);
      json::append_device_identity(free, s.device, m);
      REQUIRE(got == want);
      REQUIRE(free == want);
    }
  }
  // Escaped names, null for NaN and infinity, "value_<i>" for an empty or missing name.
  got.clear();
  enc.append_sample(got, make(1, 107, 0, {1.5, std::nan(""), 2, 3}), cat.device(1));
  CHECK(got ==
        "{\"device\":\"mcc 2,a=b\",\"site\":\"pl\\\"ant\\\\north\",\"asset\":\"feeder \\\"2\\\"\","
        "\"time\":\"1970-01-01T00:00:00.000Z\",\"time_ms\":0,\"assembly\":107,\"sequence\":0,\"flags\":0,"
        "\"values\":{\"energy_import_kwh\":1.5,\"value_1\":null,\"energy_export_kwh\":2,\"value_3\":3}}");
}

TEST_CASE("encoders: random samples and names match the old encoders") {
  std::mt19937_64 rng(20261202);
  const std::string alphabet = "ab ,=\\\"\t\xC3\xBC\xFF_x1";
  auto name = [&](std::size_t max) {
    std::string s;
    const std::size_t n = rng() % (max + 1);
    for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  for (int trial = 0; trial < 200; ++trial) {
    Catalog cat;
    for (int d = 0; d < 3; ++d) {
      DeviceMeta m;
      m.name = name(12);
      m.site = name(8);
      m.asset = name(8);
      for (auto& f : m.fields) {
        const std::size_t n = rng() % 20;
        for (std::size_t i = 0; i < n; ++i) f.push_back(name(40));
      }
      cat.devices.push_back(std::move(m));
    }
    lp::Options o;
    o.measurement = name(10);
    o.precision = static_cast<lp::Precision>(rng() % 4);
    o.sequence_field = rng() % 2;
    o.device_tag = rng() % 2;
    if (rng() % 2) o.extra_tags = {{"a" + name(4), name(6)}, {"m" + name(4), name(6)}};
    lp::Encoder lpe(o);
    json::Encoder je;
    std::string lw, lg, jw, jg;
    for (int n = 0; n < 50; ++n) {
      Sample s;
      s.device = static_cast<std::uint32_t>(rng() % 4);
      s.assembly = static_cast<std::uint16_t>(99 + rng() % 11);
      s.source_time_ns = static_cast<std::int64_t>(rng());
      s.sequence = static_cast<std::uint16_t>(rng());
      s.flags = static_cast<std::uint16_t>(rng());
      s.count = static_cast<std::uint8_t>(rng() % 20);
      for (auto& v : s.values) {
        switch (rng() % 6) {
          case 0: v = static_cast<float>(std::ldexp(static_cast<double>(rng() % 100000000), static_cast<int>(rng() % 60) - 40)); break;
          case 1: v = std::bit_cast<double>(rng()); break;
          case 2: v = static_cast<double>(static_cast<std::int64_t>(rng() % 2000000) - 1000000) / 100.0; break;
          case 3: v = std::numeric_limits<double>::quiet_NaN(); break;
          case 4: v = static_cast<float>(static_cast<double>(rng() % 100000) / 7.0) * 80.0; break;
          default: v = static_cast<double>(rng() % 100000000000ull); break;
        }
      }
      DeviceMeta unknown;
      const DeviceMeta& m = meta_for(cat, s.device, unknown);
      auto a = reference::lp_append_sample(lw, s, m, o);
      auto b = lpe.append(lg, s, m);
      REQUIRE(a.has_value() == b.has_value());
      if (!a) CHECK(a.error() == b.error());
      REQUIRE(lg == lw);
      reference::json_append_sample(jw, s, cat.device(s.device));
      je.append_sample(jg, s, cat.device(s.device));
      REQUIRE(jg == jw);
    }
  }
}

TEST_CASE("an assembly of 40 values: each part is its own line and document, named by its elements") {
  DeviceMeta m = meta();
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) names.push_back("v" + std::to_string(i));
  m.fields[2] = names;
  m.fields[3] = {"a", "b"};
  lp::Encoder lpe;
  json::Encoder je;
  std::string lines, docs;
  for (std::uint8_t part = 0; part < 3; ++part) {
    Sample s = sample({});
    s.assembly = 102;
    s.part = part;
    s.count = part < 2 ? 18 : 4;
    for (std::size_t i = 0; i < s.count; ++i) s.values[i] = static_cast<double>(part * 18 + i);
    std::string one;
    REQUIRE(lp::append_sample(one, s, m, {}));
    REQUIRE(lpe.append(lines, s, m));
    CHECK(lines.ends_with(one));  // the cached encoder writes what the free function does
    std::string doc;
    json::append_sample(doc, s, &m);
    je.append_sample(docs, s, &m);
    CHECK(docs.ends_with(doc));
    CHECK(doc.find(",\"assembly\":102,\"part\":" + std::to_string(part) + ",\"sequence\":5,") != std::string::npos);
  }
  // Same measurement, tags and timestamp: InfluxDB merges the three lines into one point.
  CHECK(lines ==
        "powermonitor_500,asset=feeder-1,device=mcc-1,site=plant v0=0,v1=1,v2=2,v3=3,v4=4,v5=5,v6=6,v7=7,v8=8,v9=9,"
        "v10=10,v11=11,v12=12,v13=13,v14=14,v15=15,v16=16,v17=17 1700000000123456789\n"
        "powermonitor_500,asset=feeder-1,device=mcc-1,site=plant v18=18,v19=19,v20=20,v21=21,v22=22,v23=23,v24=24,"
        "v25=25,v26=26,v27=27,v28=28,v29=29,v30=30,v31=31,v32=32,v33=33,v34=34,v35=35 1700000000123456789\n"
        "powermonitor_500,asset=feeder-1,device=mcc-1,site=plant v36=36,v37=37,v38=38,v39=39 1700000000123456789\n");
  CHECK(docs.find("\"values\":{\"v36\":36,\"v37\":37,\"v38\":38,\"v39\":39}") != std::string::npos);
  // An assembly that fits one Sample has no "part" member: its documents are what they were.
  Sample small = sample({1, 2});
  small.assembly = 103;
  std::string doc;
  json::append_sample(doc, small, &m);
  CHECK(doc.find("\"part\"") == std::string::npos);
}
