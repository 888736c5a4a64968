#include <doctest/doctest.h>

#include <array>
#include <set>

#include "device/decode.hpp"
#include "device/feeder_model.hpp"
#include "device/profile.hpp"
#include "support/support.hpp"

using namespace pm500::device;
namespace t = pm500::test;

namespace {

std::string errors(const ProfileResult& r) {
  std::string s;
  if (!r)
    for (const auto& e : r.error()) s += e.str() + "\n";
  return s;
}

const char* kMinimal = R"(format = 1
name = "tiny"
[assembly.101]
role = "realtime"
size_bytes = 6
elements = [
  { name = "voltage_l1_n_v", type = "REAL", kind = "voltage_ln", unit = "V", phase = "L1" },
  { name = "current_l1_a", type = "UINT", kind = "current", unit = "A", phase = "L1", scale = 0.1 },
]
)";

}  // namespace

TEST_CASE("the built-in profile matches the meter's published assembly sizes") {
  const Profile& p = builtin_profile();
  CHECK(p.name == "PowerMonitor 500");
  // pm500-facts.md, assembly table (manual appendix A): elements x type = bytes.
  const std::array<std::pair<std::uint16_t, std::uint32_t>, 9> sizes{
      {{100, 20}, {101, 48}, {102, 72}, {103, 48}, {104, 68}, {105, 48}, {106, 68}, {107, 72}, {108, 4}}};
  std::set<std::string> names;
  for (auto [inst, bytes] : sizes) {
    const Assembly* a = p.assembly(inst);
    REQUIRE(a);
    CHECK(a->size_bytes == bytes);
    for (const auto& e : a->elements) CHECK(names.insert(e.name).second);
  }
  CHECK(p.assembly(101)->elements.size() == 12);
  CHECK(p.assembly(102)->elements.size() == 18);
  CHECK(p.assembly(104)->elements.size() == 17);
  CHECK(p.assembly(107)->elements.size() == 18);
  CHECK(p.assembly(101)->elements[0].name == "voltage_l1_n_v");
  CHECK(p.assembly(101)->elements[7].name == "current_l2_a");
  CHECK(p.assembly(102)->elements[3].name == "active_power_total_kw");
  CHECK(p.assembly(107)->elements[0].name == "energy_import_kwh");
  CHECK(p.assembly(99) == nullptr);
  // The header must say that the order is an assumption to verify.
  CHECK(builtin_profile_text().find("Appendix A") != std::string_view::npos);
  CHECK(builtin_profile_text().find("ASSUMPTIONS") != std::string_view::npos);
}

TEST_CASE("the built-in profile is the file in etc/profiles") {
  auto text = t::read_file(t::source_dir() / "etc/profiles/powermonitor500.toml");
  CHECK(text == builtin_profile_text());
  auto r = load_profile_file((t::source_dir() / "etc/profiles/powermonitor500.toml").string());
  REQUIRE_MESSAGE(r, errors(r));
}

TEST_CASE("field names for the catalog come from the profile") {
  pm500::DeviceMeta meta;
  fill_field_names(builtin_profile(), meta);
  REQUIRE(meta.field_names(101).size() == 12);
  CHECK(meta.field_names(101)[7] == "current_l2_a");
  CHECK(meta.field_names(108).size() == 2);
  CHECK(meta.field_names(107)[0] == "energy_import_kwh");
}

TEST_CASE("a profile size that differs from the meter's attribute 4 is reported with both numbers") {
  const Profile& p = builtin_profile();
  CHECK(check_assembly_size(p, 101, 48, "mcc-1"));
  auto bad = check_assembly_size(p, 100, 40, "mcc-1");
  REQUIRE(!bad);
  CHECK(bad.error().find("mcc-1: assembly 100 is 40 bytes on the meter (attribute 4)") != std::string::npos);
  CHECK(bad.error().find("describes 20 bytes (10 elements)") != std::string::npos);
  CHECK(bad.error().find("Appendix A") != std::string::npos);
  auto missing = check_assembly_size(p, 109, 4, "mcc-1");
  REQUIRE(!missing);
  CHECK(missing.error().find("not described") != std::string::npos);

  // The hot path reports the same mismatch without allocating.
  std::array<std::uint8_t, 52> bytes{};
  pm500::Sample s{};
  auto r = decode(p, 101, bytes, s);
  REQUIRE(!r);
  CHECK(r.error().code == DecodeErrc::size_mismatch);
  CHECK(r.error().expected_bytes == 48);
  CHECK(r.error().seen_bytes == 52);
  CHECK(describe(r.error()).find("52 bytes received, the profile describes 48") != std::string::npos);
  CHECK(decode(p, 109, bytes, s).error().code == DecodeErrc::unknown_assembly);
}

TEST_CASE("a custom profile file is loaded at run time and used for decode and the model") {
  t::TempDir dir;
  t::write_file(dir / "site.toml", kMinimal);
  auto r = load_profile_for((dir / "site.toml").string());
  REQUIRE_MESSAGE(r, errors(r));
  const Assembly* a = r->assembly(101);
  REQUIRE(a);
  CHECK(a->size_bytes == 6);
  CHECK(a->elements[1].offset == 4);
  CHECK(r->source == (dir / "site.toml").string());

  FeederSettings fs;
  fs.device = *make_settings("site-1", "100:5", "", "meter", 400, "3PN");
  fs.noise = 0;
  FeederModel model(*r, fs, 7);
  model.step(0);
  model.step(1'000'000'000);
  std::array<std::uint8_t, 6> buf{};
  REQUIRE(model.encode(101, buf).value_or(0) == 6);
  pm500::Sample s{};
  REQUIRE(decode(*r, 101, buf, s));
  CHECK(s.count == 2);
  CHECK(s.values[0] == doctest::Approx(model.primary(101, 0)).epsilon(1e-6));
  // UINT in tenths of an amp: the scale both ways keeps 0.1 A resolution.
  CHECK(s.values[1] == doctest::Approx(model.primary(101, 1)).epsilon(0.002));

  auto empty = load_profile_for("");
  REQUIRE(empty);
  CHECK(empty->name == "PowerMonitor 500");
}

TEST_CASE("profile loader errors name file:line:column and the key") {
  auto load = [](const std::string& text) { return load_profile_string(text, "site.toml"); };
  auto has = [](const ProfileResult& r, const std::string& what) {
    if (r) return false;
    for (const auto& e : r.error())
      if (e.str().find(what) != std::string::npos) return true;
    return false;
  };

  SUBCASE("syntax error") {
    auto r = load("format = 1\nname = \"x\"\n[assembly.101\n");
    REQUIRE(!r);
    CHECK(r.error()[0].str().rfind("site.toml:3:", 0) == 0);
  }
  SUBCASE("unknown keys at every level") {
    std::string s = kMinimal;
    s.replace(s.find("scale = 0.1"), 11, "scael = 0.1");
    auto r = load(s + "colour = \"red\"\n");
    CHECK(has(r, "site.toml:8:87: assembly.101.elements[1].scael: unknown key \"scael\""));
    CHECK(has(r, "assembly.101.colour: unknown key"));
  }
  SUBCASE("unknown type, kind, unit, phase") {
    std::string s = kMinimal;
    s.replace(s.find("\"UINT\""), 6, "\"WORD\"");
    s.replace(s.find("\"voltage_ln\""), 12, "\"voltage\"");
    CHECK(has(load(s), "assembly.101.elements[1].type: \"WORD\" is not a CIP data type"));
    CHECK(has(load(s), "site.toml:7:52: assembly.101.elements[0].kind: \"voltage\" is not a quantity kind"));
    std::string u = kMinimal;
    u.replace(u.find("unit = \"A\""), 10, "unit = \"kW\"");
    CHECK(has(load(u), "unit \"kW\" does not fit kind current"));
    std::string ph = kMinimal;
    ph.replace(ph.find("phase = \"L1\" }"), 12, "phase = \"L1-L2\"");
    CHECK(has(load(ph), "phase \"L1-L2\" does not fit kind voltage_ln"));
  }
  SUBCASE("duplicate names and names without their unit") {
    std::string s = kMinimal;
    s.replace(
        s.rfind("]\n"), 2,
        "{ name = \"voltage_l1_n_v\", type = \"REAL\", kind = \"voltage_ln\", unit = \"V\", phase = \"L2\" },\n]\n");
    CHECK(has(load(s), "site.toml:9:10: assembly.101.elements[2].name: duplicate element name \"voltage_l1_n_v\""));
    std::string same = kMinimal;
    same.replace(
        same.rfind("]\n"), 2,
        "{ name = \"voltage_a_v\", type = \"REAL\", kind = \"voltage_ln\", unit = \"V\", phase = \"L1\" },\n]\n");
    CHECK(has(load(same), "\"voltage_a_v\" measures the same quantity as \"voltage_l1_n_v\""));
    std::string u = kMinimal;
    u.replace(u.find("current_l1_a"), 12, "current_l1");
    CHECK(has(load(u), "must end with \"_a\""));
  }
  SUBCASE("declared size that the elements do not add up to") {
    std::string s = kMinimal;
    s.replace(s.find("size_bytes = 6"), 14, "size_bytes = 8");
    auto r = load(s);
    CHECK(has(r, "site.toml:5:14: assembly.101.size_bytes: declared 8 bytes but the elements add up to 6 bytes"));
  }
  SUBCASE("assembly outside 100..108, missing role, too many elements") {
    CHECK(has(load("format = 1\nname = \"x\"\n[assembly.150]\nrole = \"realtime\"\nelements = []\n"),
              "must be a number 100..108"));
    CHECK(has(load("format = 1\nname = \"x\"\n[assembly.101]\nelements = []\n"), "missing required key \"role\""));
    std::string many = "format = 1\nname = \"x\"\n[assembly.101]\nrole = \"info\"\nelements = [\n";
    for (int i = 0; i < 19; ++i)
      many += "{ name = \"w" + std::to_string(i) + "\", type = \"UINT\", kind = \"info\", unit = \"\" },\n";
    // More than 18 elements travel as parts (Sample::part): 40 load, split 18 + 18 + 4.
    for (int i = 19; i < 40; ++i)
      many += "{ name = \"w" + std::to_string(i) + "\", type = \"UINT\", kind = \"info\", unit = \"\" },\n";
    auto r = load(many + "]\n");
    REQUIRE(r);
    const Assembly* a = r->assembly(101);
    REQUIRE(a);
    CHECK(a->elements.size() == 40);
    REQUIRE(a->part_count() == 3);
    CHECK(a->part(0)->elements.front().name == "w0");
    CHECK(a->part(1)->elements.front().name == "w18");
    CHECK(a->part(1)->elements.front().offset == 36);
    CHECK(a->part(2)->elements.size() == 4);
    CHECK(a->part(2)->elements.back().name == "w39");
    CHECK(a->part(3) == nullptr);
    CHECK(r->assembly(101)->part(2)->size_bytes == 80);
    // Beyond 255 parts of 18 a Sample cannot number them: refused, naming the key.
    std::string huge = "format = 1\nname = \"x\"\n[assembly.101]\nrole = \"info\"\nelements = [\n";
    for (int i = 0; i < 4591; ++i)
      huge += "{ name = \"w" + std::to_string(i) + "\", type = \"USINT\", kind = \"info\", unit = \"\" },\n";
    CHECK(has(load(huge + "]\n"), "assembly.101.elements: 4591 elements, more than the limit of 4590 per assembly"));
  }
  SUBCASE("energy needs a direction, format must be 1") {
    auto r = load(
        "format = 2\nname = \"x\"\n[assembly.107]\nrole = \"energy\"\nelements = [\n"
        "{ name = \"energy_kwh\", type = \"REAL\", kind = \"active_energy\", unit = \"kWh\" },\n]\n");
    CHECK(has(r, "direction = \"import\" or \"export\""));
    CHECK(has(r, "unsupported profile format 2"));
  }
  SUBCASE("a missing file") {
    auto r = load_profile_file("/nonexistent/profile.toml");
    CHECK(has(r, "/nonexistent/profile.toml: cannot read the device profile"));
  }
}

TEST_CASE("identity and connection: the PowerMonitor 500's values built in, another device's from its file") {
  const Profile& pm = builtin_profile();
  CHECK(pm.identity.vendor == 1);
  CHECK(pm.identity.device_type == 0x92);
  CHECK(pm.identity.product_codes == std::vector<std::uint16_t>{4, 5, 6, 7, 8, 9});
  CHECK(pm.identity.product_name.empty());
  CHECK(pm.connection.config_instance == 1);
  CHECK(pm.connection.input_only_point == 98);
  CHECK(pm.connection.listen_only_point == 99);
  CHECK(pm.connection.t_o_header == RealTimeHeader::none);
  CHECK(pm.connection.o_t_header == RealTimeHeader::none);
  // A profile without the two tables (a site's copy of an older file) means the same device.
  auto tiny = load_profile_string(kMinimal, "tiny.toml");
  REQUIRE_MESSAGE(tiny, errors(tiny));
  CHECK(tiny->identity.vendor == 1);
  CHECK(tiny->connection.listen_only_point == 99);

  auto a = load_profile_file((t::source_dir() / "etc/profiles/sample-adapter.toml").string());
  REQUIRE_MESSAGE(a, errors(a));
  CHECK(a->identity.vendor == 65000);
  CHECK(a->identity.device_type == 0x0C);
  CHECK(a->identity.product_codes == std::vector<std::uint16_t>{1});
  CHECK(a->identity.product_name == "*Sample Adapter*");
  CHECK(a->connection.config_instance == 151);
  CHECK(a->connection.input_only_point == 152);
  CHECK(a->connection.listen_only_point == 153);
  CHECK(a->connection.t_o_header == RealTimeHeader::none);
  CHECK(a->connection.o_t_header == RealTimeHeader::run_idle);
  const Assembly* in = a->assembly(100);
  REQUIRE(in);
  CHECK(in->size_bytes == 32);
  CHECK(in->elements.size() == 8);
}

TEST_CASE("identity and connection errors name the key") {
  const std::string body = std::string(kMinimal);
  auto first = [&](const std::string& tables) {
    auto r = load_profile_string(tables + body.substr(body.find("[assembly")), "site.toml");
    REQUIRE_FALSE(r);
    return r.error().front();
  };
  const std::string head = "format = 1\nname = \"tiny\"\n";
  auto e = first(head + "[connection]\nconfig_instance = 70000\n");
  CHECK(e.key == "connection.config_instance");
  CHECK(e.message == "70000 is out of range 1..65535");
  e = first(head + "[connection]\nt_o_header = \"32bit\"\n");
  CHECK(e.key == "connection.t_o_header");
  CHECK(e.message.find("\"32bit\" is not a real-time header (one of: none, run_idle)") != std::string::npos);
  e = first(head + "[connection]\ninput_only_point = 99\n");
  CHECK(e.key == "connection.listen_only_point");
  CHECK(e.message.find("input_only_point and listen_only_point are both 99") != std::string::npos);
  e = first(head + "[connection]\nheartbeat = 98\n");
  CHECK(e.key == "connection.heartbeat");
  e = first(head + "[identity]\nproduct_codes = [4, \"5\"]\n");
  CHECK(e.key == "identity.product_codes[1]");
  e = first(head + "[identity]\nvendor = 0\n");
  CHECK(e.key == "identity.vendor");
}

TEST_CASE("[trend] values: which values are trended is the profile's; checked against its elements") {
  // The built-in profile says it; the sample adapter trends its own; without [trend], none is set.
  REQUIRE(builtin_profile().trend);
  CHECK(*builtin_profile().trend == std::vector<std::string>{"voltage_ll_avg_v", "current_l1_a", "current_l2_a",
                                                             "current_l3_a", "active_power_total_kw",
                                                             "power_factor_total", "frequency_hz"});
  auto adapter = load_profile_file((pm500::test::source_dir() / "etc/profiles/sample-adapter.toml").string());
  REQUIRE(adapter);
  REQUIRE(adapter->trend);
  CHECK(*adapter->trend ==
        std::vector<std::string>{"voltage_l1_n_v", "current_l1_a", "active_power_total_kw", "frequency_hz"});
  const std::string body = std::string(kMinimal);
  auto minimal = load_profile_string(body, "site.toml");
  REQUIRE(minimal);
  CHECK_FALSE(minimal->trend);
  auto none = load_profile_string(body + "\n[trend]\nvalues = []\n", "site.toml");
  REQUIRE(none);
  CHECK(none->trend->empty());

  auto first = [&](const std::string& trend) {
    auto r = load_profile_string(body + "\n[trend]\n" + trend, "site.toml");
    REQUIRE_FALSE(r);
    return r.error().front();
  };
  auto e = first("values = [\"voltage_l1_n_v\", \"voltage_l9_n_v\"]\n");
  CHECK(e.key == "trend.values[1]");
  CHECK(e.message.starts_with("\"voltage_l9_n_v\" is no element of this profile's assemblies"));
  CHECK(e.str().rfind("site.toml:", 0) == 0);
  e = first("values = [\"voltage_l1_n_v\", \"voltage_l1_n_v\"]\n");
  CHECK(e.key == "trend.values[1]");
  CHECK(e.message.find("listed twice") != std::string::npos);
  e = first("values = [1]\n");
  CHECK(e.key == "trend.values[0]");
  e = first("value = []\n");
  CHECK(e.key == "trend.value");
  std::string nine = "values = [";
  for (int i = 0; i < 9; ++i) nine += std::string(i ? ", " : "") + "\"x" + std::to_string(i) + "\"";
  auto r = load_profile_string(body + "\n[trend]\n" + nine + "]\n", "site.toml");
  REQUIRE_FALSE(r);
  bool limit = false;
  for (const auto& err : r.error()) limit = limit || (err.key == "trend.values" && err.message.find("limit of 8") != std::string::npos);
  CHECK(limit);
}
