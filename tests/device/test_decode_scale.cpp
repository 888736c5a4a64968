#include <doctest/doctest.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "pm500/number_text.hpp"
#include "rig.hpp"

using namespace pm500::device;
using namespace pm500::device::test;

namespace {

const std::array<std::uint16_t, 9> kAll{100, 101, 102, 103, 104, 105, 106, 107, 108};

FeederModel warmed(const DeviceSettings& d, double noise, std::uint64_t seed = 3) {
  FeederSettings f = meter(d);
  f.noise = noise;
  FeederModel m(builtin_profile(), f, seed);
  for (int i = 0; i <= 120; ++i) m.step(std::int64_t{i} * 1'000'000'000);
  return m;
}

}  // namespace

TEST_CASE("golden bytes: little-endian REAL and UINT") {
  // 230.5f = 0x43668000; 0x0102 little-endian = 02 01.
  std::array<std::uint8_t, 4> real{0x00, 0x80, 0x66, 0x43};
  CHECK(detail::read_element(WireType::REAL, real.data()) == 230.5);
  std::array<std::uint8_t, 2> word{0x02, 0x01};
  CHECK(detail::read_element(WireType::UINT, word.data()) == 258);
  std::array<std::uint8_t, 8> out{};
  detail::write_element(WireType::REAL, 230.5, out.data());
  CHECK(out[0] == 0x00);
  CHECK(out[1] == 0x80);
  CHECK(out[2] == 0x66);
  CHECK(out[3] == 0x43);
  detail::write_element(WireType::INT, -2, out.data());
  CHECK(out[0] == 0xFE);
  CHECK(out[1] == 0xFF);
  CHECK(detail::read_element(WireType::INT, out.data()) == -2);
  detail::write_element(WireType::UINT, 70000, out.data());  // saturates, never wraps
  CHECK(detail::read_element(WireType::UINT, out.data()) == 65535);
  detail::write_element(WireType::LREAL, 1234567.890123, out.data());
  CHECK(detail::read_element(WireType::LREAL, out.data()) == 1234567.890123);
  detail::write_element(WireType::DINT, -100000, out.data());
  CHECK(detail::read_element(WireType::DINT, out.data()) == -100000);
}

TEST_CASE("every assembly decodes from the bytes the simulator's model produces") {
  const Profile& p = builtin_profile();
  FeederModel m = warmed(settings("meter"), 0.002);
  for (auto inst : kAll) {
    CAPTURE(inst);
    const Assembly* a = p.assembly(inst);
    REQUIRE(a);
    std::array<std::uint8_t, 128> buf{};
    auto n = m.encode(inst, buf);
    REQUIRE(n);
    CHECK(*n == a->size_bytes);
    pm500::Sample s{};
    REQUIRE(decode(p, inst, std::span<const std::uint8_t>(buf.data(), *n), s));
    CHECK(s.assembly == inst);
    REQUIRE(s.count == a->elements.size());
    for (std::size_t i = 0; i < s.count; ++i) {
      CAPTURE(a->elements[i].name);
      const double want = m.reported(inst, i);
      if (a->elements[i].type == WireType::REAL)
        CHECK(s.values[i] == static_cast<double>(static_cast<float>(want)));
      else
        CHECK(s.values[i] == std::nearbyint(want));
    }
  }
  // Spot checks that the values are what a 480 V, 400 A feeder at half load looks like.
  CHECK(m.primary(101, 0) == doctest::Approx(277).epsilon(0.03));     // voltage_l1_n_v
  CHECK(m.primary(101, 3) == doctest::Approx(480).epsilon(0.03));     // voltage_l1_l2_v
  CHECK(m.primary(101, 6) == doctest::Approx(200).epsilon(0.2));      // current_l1_a
  CHECK(m.primary(102, 17) == 0);                                     // phase_sequence
  CHECK(m.primary(102, 16) == doctest::Approx(60).epsilon(0.002));    // frequency_hz
  CHECK(m.primary(100, 2) == 'A');                                    // measurement_fw_letter
  CHECK(m.primary(107, 16) == doctest::Approx(8760 + 120.0 / 3600));  // hour_counter_h
  std::array<std::uint8_t, 10> small{};
  CHECK(!m.encode(101, small));
  CHECK(!m.encode(99, small));
}

TEST_CASE("an all-REAL assembly decodes on its fast path to what the element-by-element path gives") {
  const Profile& p = builtin_profile();
  const Assembly* fast = p.assembly(102);
  REQUIRE(fast);
  REQUIRE(fast->plain_real);  // the loader marks it: every element a REAL with scale 1
  Assembly slow = *fast;
  slow.plain_real = false;
  FeederModel m = warmed(settings("meter"), 0.002);
  std::array<std::uint8_t, 128> buf{};
  auto n = m.encode(102, buf);
  REQUIRE(n);
  // Non-finite and extreme values in the first slots: NaN, infinities, -0, the largest float.
  const std::array<std::uint32_t, 5> odd{0x7FC00001u, 0x7F800000u, 0xFF800000u, 0x80000000u, 0x7F7FFFFFu};
  for (std::size_t i = 0; i < odd.size(); ++i)
    for (std::size_t b = 0; b < 4; ++b) buf[4 * i + b] = static_cast<std::uint8_t>(odd[i] >> (8 * b));
  pm500::Sample a{}, b{};
  const std::span<const std::uint8_t> bytes(buf.data(), *n);
  REQUIRE(decode(*fast, bytes, a));
  REQUIRE(decode(slow, bytes, b));
  CHECK(std::memcmp(&a, &b, sizeof a) == 0);
  CHECK(std::isnan(a.values[0]));
  CHECK(std::signbit(a.values[3]));
  // A profile with a scaled or non-REAL element keeps the general path.
  const Assembly* mixed = p.assembly(100);
  REQUIRE(mixed);
  CHECK(!mixed->plain_real);
}

TEST_CASE("scaling: each quantity kind, ratios applied by the gateway or by the meter") {
  const Profile& p = builtin_profile();
  for (const char* by : {"gateway", "meter"}) {
    CAPTURE(by);
    const DeviceSettings d = settings(by);
    FeederModel m = warmed(d, 0.0);
    Scaler scaler(p, d);
    CHECK(scaler.active() == (std::string(by) == "gateway"));
    for (auto inst : kAll) {
      const Assembly* a = p.assembly(inst);
      std::array<std::uint8_t, 128> buf{};
      auto n = m.encode(inst, buf);
      REQUIRE(n);
      pm500::Sample s{};
      REQUIRE(decode(p, inst, std::span<const std::uint8_t>(buf.data(), *n), s));
      const pm500::Sample raw = s;
      scaler.apply(s);
      CHECK(bool(s.flags & pm500::kSampleScaled) == scaler.active());
      for (std::size_t i = 0; i < s.count; ++i) {
        const Element& e = a->elements[i];
        CAPTURE(e.name);
        const double factor = scaler.active() ? ratio_factor(e.kind, d.ct, d.pt) : 1.0;
        // The factor per kind: V x PT (4), I x CT (80), P/Q/S/energy x CT x PT (320), else 1.
        double want_factor = 1;
        if (scaler.active()) {
          switch (ratio_use(e.kind)) {
            case RatioUse::pt:
              want_factor = 4;
              break;
            case RatioUse::ct:
              want_factor = 80;
              break;
            case RatioUse::ct_pt:
              want_factor = 320;
              break;
            case RatioUse::none:
              break;
          }
        }
        CHECK(factor == want_factor);
        // In double; a float32 measurement rounded back to float, an energy counter not.
        const double product = raw.values[i] * want_factor;
        const bool to_float = scaler.active() && float_after_scaling(e);
        CHECK(to_float == (scaler.active() && e.type == WireType::REAL && !keeps_double_after_scaling(e.kind)));
        CHECK(s.values[i] == (to_float ? static_cast<double>(static_cast<float>(product)) : product));
        // The gateway publishes the primary value whichever side applies the ratios.
        if (e.type == WireType::REAL) CHECK(s.values[i] == doctest::Approx(m.primary(inst, i)).epsilon(1e-6));
      }
      // Exactly once: a second apply (a replayed or re-queued sample) changes nothing.
      const pm500::Sample once = s;
      scaler.apply(s);
      for (std::size_t i = 0; i < s.count; ++i) CHECK(s.values[i] == once.values[i]);
    }
  }
}

TEST_CASE("energy counters keep full precision after scaling") {
  const Profile& p = builtin_profile();
  const DeviceSettings d = settings("gateway", "3PN", 480, "4000:5", "13800:120");  // 800 x 115 = 92000
  Scaler scaler(p, d);
  pm500::Sample s{};
  s.assembly = 107;
  s.count = 18;
  const float raw = 123456.789f;  // secondary kWh as the meter's float32 carries it
  s.values[0] = raw;
  scaler.apply(s);
  // 11.36e9 kWh: a float would round this to a multiple of 1024; the double keeps every bit.
  CHECK(s.values[0] == static_cast<double>(raw) * 92000.0);
  CHECK(s.values[0] != static_cast<double>(static_cast<float>(s.values[0])));
}

TEST_CASE("scaled float32 values keep the meter's precision: rounded to float, written as the shortest float text") {
  const Profile& p = builtin_profile();
  const DeviceSettings d = settings("gateway", "3PN", 480, "400:5", "480:120");  // CT 80, PT 4
  Scaler scaler(p, d);
  auto text = [](double v) {
    char buf[pm500::kNumberTextRoom];
    return std::string(buf, pm500::write_measured(buf, v));
  };
  pm500::Sample s{};
  s.assembly = 101;
  s.count = 12;
  const float secondary = 2.922851085662842f;  // current_l2_a on the CT's secondary side, as the meter sends it
  s.values[7] = secondary;
  s.values[0] = 69.25f;  // voltage_l1_n_v
  scaler.apply(s);
  // 2.922851085662842 x 80 = 233.82808685302734 in double: its float is 233.82809448242188, whose
  // shortest text is 233.8281 (it reads back to the same float).
  CHECK(static_cast<double>(secondary) * 80.0 == 233.82808685302734);
  CHECK(s.values[7] == static_cast<double>(static_cast<float>(233.82808685302734)));
  CHECK(text(s.values[7]) == "233.8281");
  CHECK(static_cast<float>(std::stod("233.8281")) == static_cast<float>(233.82808685302734));
  CHECK(text(s.values[0]) == "277");

  // Power (102) is a float32 measurement too: kW x CT x PT rounded to float.
  pm500::Sample pw{};
  pw.assembly = 102;
  pw.count = 18;
  pw.values[0] = 12.345678f;  // active_power_l1_kw
  scaler.apply(pw);
  CHECK(pw.values[0] == static_cast<double>(static_cast<float>(static_cast<double>(12.345678f) * 320.0)));
  CHECK(text(pw.values[0]).size() <= 9);

  // An energy counter above 2^24 after scaling keeps every digit of the double product.
  pm500::Sample e{};
  e.assembly = 107;
  e.count = 18;
  const float kwh = 123456.789f;  // secondary kWh
  e.values[0] = kwh;
  scaler.apply(e);
  const double exact = static_cast<double>(kwh) * 320.0;  // 39506172.5 kWh
  CHECK(exact > 16777216.0);
  CHECK(e.values[0] == exact);
  CHECK(e.values[0] != static_cast<double>(static_cast<float>(exact)));
  char buf[32];
  CHECK(text(e.values[0]) == std::string(buf, std::to_chars(buf, buf + sizeof buf, exact).ptr));
  CHECK(std::stod(text(e.values[0])) == exact);

  // Ratios applied by the meter: nothing is scaled, the meter's floats stay as they are.
  Scaler off(p, settings("meter"));
  pm500::Sample m{};
  m.assembly = 101;
  m.count = 12;
  m.values[7] = secondary;
  off.apply(m);
  CHECK(m.values[7] == static_cast<double>(secondary));
}

TEST_CASE("an assembly of 40 REALs decodes into three parts, every value once and in order") {
  std::string text = "format = 1\nname = \"big\"\n[assembly.100]\nrole = \"realtime\"\nelements = [\n";
  for (int i = 0; i < 39; ++i)
    text += "{ name = \"x" + std::to_string(i) + "\", type = \"REAL\", kind = \"indicator\", unit = \"\" },\n";
  text += "{ name = \"current_l1_a\", type = \"REAL\", kind = \"current\", unit = \"A\", phase = \"L1\" },\n";
  auto p = load_profile_string(text + "]\n", "big.toml");
  if (!p) FAIL(p.error().front().str());
  std::vector<std::uint8_t> bytes(160);
  for (int i = 0; i < 40; ++i) detail::write_element(WireType::REAL, 1.5 * i, bytes.data() + 4 * i);
  const Assembly& a = *p->assembly(100);
  REQUIRE(a.part_count() == 3);
  std::vector<double> seen;
  for (std::size_t part = 0; part < 3; ++part) {
    pm500::Sample s;
    REQUIRE(decode(*p, 100, bytes, s, part));
    CHECK(s.part == part);
    CHECK(s.assembly == 100);
    CHECK(s.count == (part < 2 ? 18 : 4));
    seen.insert(seen.end(), s.values, s.values + s.count);
  }
  REQUIRE(seen.size() == 40);
  for (int i = 0; i < 40; ++i) CHECK(seen[static_cast<std::size_t>(i)] == 1.5 * i);
  pm500::Sample s;
  CHECK(decode(*p, 100, bytes, s, 3).error().code == DecodeErrc::unknown_assembly);
  CHECK(decode(*p, 100, std::span(bytes).first(156), s, 1).error().code == DecodeErrc::size_mismatch);

  // Scaling by the gateway finds each part's elements: the current, element 39, x CT.
  auto settings = make_settings("big", "400:5", "480:120", "gateway", 480, "3PN");
  REQUIRE(settings);
  Scaler scaler(*p, *settings);
  REQUIRE(decode(*p, 100, bytes, s, 2));
  scaler.apply(s);
  CHECK(s.values[3] == 1.5 * 39 * 80);
  CHECK(s.values[2] == 1.5 * 38);  // an indicator: not scaled
  CHECK(scaler.factor(100, 39) == 80);
}
