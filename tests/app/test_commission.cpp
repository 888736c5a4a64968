// `pm500-gateway commission -c FILE` as an electrician runs it before going live: every meter
// read once against the simulator (tools/pm500-sim) on 127.0.28.x, its identity, connection and
// every value after the gateway's CT scaling printed with unit and ratio; an unreachable meter
// named with the cause and the fix while the others are still read; --json with the same.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <cmath>
#include <map>
#include <regex>

#include "device/profile.hpp"
#include "support/support.hpp"

using namespace pm500::test;
using namespace std::chrono_literals;

namespace {

std::string gateway() { return binary("pm500-gateway").string(); }

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One simulated meter that reports secondary values (no ratios configured in it): the gateway
// multiplies by CT 400:5 = 80, so scaling shows. 400 V L-L, 50 % of the CT primary = 200 A,
// PF 0.9, 50 Hz; the import counter starts at 125,000 kWh primary (1,562.5 on the meter).
struct Meter {
  std::string address;
  Process sim;
  explicit Meter(std::string addr, std::vector<std::string> extra = {})
      : address(std::move(addr)), sim(args(address, std::move(extra))) {
    REQUIRE(wait_for_tcp(44818, 5s, address));
  }
  static std::vector<std::string> args(const std::string& address, std::vector<std::string> extra) {
    std::vector<std::string> a{binary("pm500-sim").string(), "--address", address, "--ct", "400:5",
                               "--ratios-applied-by", "gateway", "--nominal-voltage", "400", "--load-percent", "50",
                               "--power-factor", "0.9", "--frequency", "50", "--log-format", "text"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

// The values a healthy reading must show after scaling, with room for the simulator's load
// swing (15 %), unbalance (3 %) and noise; the unscaled (secondary) values are far outside.
struct Expect {
  double low, high;
  const char* unit;
};
const std::map<std::string, Expect>& expected() {
  static const std::map<std::string, Expect> e{
      {"voltage_l1_n_v", {215, 247, "V"}},          {"voltage_l1_l2_v", {375, 425, "V"}},
      {"current_l1_a", {140, 260, "A"}},            {"current_l3_a", {140, 260, "A"}},
      {"active_power_total_kw", {85, 165, "kW"}},   {"apparent_power_total_kva", {95, 180, "kVA"}},
      {"power_factor_total", {0.87, 0.93, ""}},     {"frequency_hz", {49.9, 50.1, "Hz"}},
      {"energy_import_kwh", {125000, 125100, "kWh"}},
  };
  return e;
}

std::string device(const std::string& name, const std::string& address) {
  return "[[devices]]\nname = \"" + name + "\"\naddress = \"" + address +
         "\"\nrpi_ms = 100\nassemblies = [101, 102, 107]\nct = \"400:5\"\nratios_applied_by = \"gateway\"\n"
         "nominal_voltage = 400\n";
}

// A configuration with a state folder that must stay absent, a file sink that must stay
// unwritten, the scanner on a free UDP port, and `rest` appended.
struct Config {
  TempDir dir;
  std::string path = (dir / "gateway.toml").string();
  explicit Config(const std::string& rest) {
    write_file(dir / "gateway.toml", "[gateway]\nsite = \"site\"\nstate_dir = \"" + (dir / "state").string() +
                                         "\"\n[logging]\nformat = \"text\"\n[status]\nenabled = false\n"
                                         "[scanner]\nudp_port = " +
                                         std::to_string(free_udp_port()) +
                                         "\nconnect_timeout_ms = 1000\n[sinks.file]\npath = \"samples.lp\"\n" + rest);
  }
  RunResult run(std::vector<std::string> extra = {}, bool stdout_only = false) const {
    std::string cmd = gateway() + " commission -c '" + path + "'";
    for (const auto& e : extra) cmd += " " + e;
    if (stdout_only) cmd += " 2>/dev/null";
    return pm500::test::run({"/bin/sh", "-c", cmd}, 30s);
  }
};

// "    current_l1_a   233.8281 A  x80 CT" -> value and the rest of the line, per element name.
struct Row {
  double value = NAN;
  std::string unit, ratio;
};
std::map<std::string, Row> rows(const std::string& text) {
  std::map<std::string, Row> out;
  static const std::regex re(R"(\n    ([a-z0-9_]+) +(-?[0-9.e+-]+) ?([A-Za-z]*) *([^\n]*))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    out[(*it)[1]] = {std::stod((*it)[2]), (*it)[3], (*it)[4]};
  return out;
}

// The section of the text report about one meter.
std::string section(const std::string& text, const std::string& name) {
  const auto start = text.find("\nmeter " + name + " at ");
  if (start == std::string::npos) return "";
  const auto end = text.find("\n\n", start + 1);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

void check_values(const std::map<std::string, Row>& got) {
  const auto& profile = pm500::device::builtin_profile();
  for (std::uint16_t a : {101, 102, 107})
    for (const auto& e : profile.assembly(a)->elements) {
      INFO("assembly " << a << " element " << e.name);
      REQUIRE(got.count(e.name) == 1);
      CHECK(std::isfinite(got.at(e.name).value));
      CHECK(got.at(e.name).unit == e.unit);
    }
  for (const auto& [name, want] : expected()) {
    INFO(name << " = " << got.at(name).value);
    CHECK(got.at(name).value >= want.low);
    CHECK(got.at(name).value <= want.high);
    CHECK(got.at(name).unit == want.unit);
  }
}

}  // namespace

TEST_CASE("commission: identity, connection and every scaled value with unit and ratio; nothing stored") {
  Meter m("127.0.28.11");
  Config c(device("mcc-1", m.address));
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(has(r.output, "read-only"));
  const std::string s = section(r.output, "mcc-1");
  REQUIRE_FALSE(s.empty());
  CHECK(has(s, "identity      PowerMonitor 500 (vendor 1, device type 0x92, product code 9, revision "));
  CHECK(has(s, ", serial 940007179)"));  // the simulator's: 940000000 + 28 x 256 + 11
  CHECK(has(s, "connection    listen-only multicast, asked RPI 100 ms"));
  CHECK(has(s, "as configured"));
  for (const char* a : {"101", "102", "107"}) {
    INFO(a);
    CHECK(std::regex_search(s, std::regex(std::string("\n    ") + a +
                                          " +T->O id 0x[0-9A-F]{8} received on 239\\.[0-9.]+:2222 \\(multicast "
                                          "group\\), RPI 100 ms; O->T id 0x[0-9A-F]{8}, heartbeat every 1000 ms to "
                                          "127\\.0\\.28\\.11:2222")));
  }
  // The meter produces multicast on 2222 (its reply says so) and the gateway receives there,
  // whatever its own udp_port: no note telling the user to change it.
  CHECK_FALSE(has(s, "set [scanner] udp_port"));
  CHECK(has(s, "ratios        CT 400:5 (x80), PT 1:1 (x1), applied by the gateway"));
  CHECK(has(s, "plausibility  no findings"));
  auto got = rows(s);
  check_values(got);
  CHECK(got["current_l1_a"].ratio == "x80 CT");
  CHECK(got["voltage_l1_n_v"].ratio == "x1 PT");
  CHECK(got["active_power_total_kw"].ratio == "x80 CT x PT");
  CHECK(got["frequency_hz"].ratio.empty());
  CHECK(has(r.output, "1 meter: 1 read, 0 not read"));
  // Read-only: no sink ran, no state folder, spool or sample file was made.
  CHECK_FALSE(fs::exists(c.dir / "state"));
  CHECK_FALSE(fs::exists(c.dir / "samples.lp"));
}

TEST_CASE("commission: an unreachable meter exits 3 with its address and the fix; the reachable one is printed") {
  Meter m("127.0.28.12");
  Config c(device("mcc-1", m.address) + device("mcc-2", "127.0.28.13"));  // nothing at .13
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  const std::string bad = section(r.output, "mcc-2");
  CHECK(has(bad, "meter mcc-2 at 127.0.28.13:44818"));
  CHECK(has(bad, "\u2717 unreachable connect_refused: 127.0.28.13:44818 refused the TCP connection"));
  CHECK(has(bad, "[eip.no_response]"));
  CHECK(has(bad, "    fix         Check the meter's IP on its front panel against `address`"));
  CHECK_FALSE(has(bad, "identity"));
  // The reachable meter, after the unreachable one was tried, is complete.
  const std::string good = section(r.output, "mcc-1");
  CHECK(has(good, "identity      PowerMonitor 500 (vendor 1"));
  check_values(rows(good));
  CHECK(has(r.output, "2 meters: 1 read, 1 not read"));

  // --device picks one meter: the reachable one alone exits 0.
  auto only = c.run({"--device", "mcc-1"});
  INFO(only.output);
  CHECK(only.code == 0);
  CHECK_FALSE(has(only.output, "mcc-2"));
  // An unknown name is a usage error naming the configured ones.
  auto unknown = c.run({"--device", "mcc-9"});
  CHECK(unknown.code == 64);
  CHECK(has(unknown.output, "--device mcc-9: no [[devices]] entry of that name"));
  CHECK(has(unknown.output, "configured: mcc-1, mcc-2"));
}

TEST_CASE("commission: another device type at a meter's address is eip.wrong_device, and no value is shown") {
  // The simulator plays the sample adapter (its shipped profile); the device is a PowerMonitor 500.
  Meter m("127.0.62.2", {"--profile", (source_dir() / "etc/profiles/sample-adapter.toml").string()});
  Config c(device("mcc-1", m.address));
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  const std::string s = section(r.output, "mcc-1");
  CHECK(has(s, "\u2717 not read"));
  CHECK(has(s, "another device answers at this address: vendor 65000, device type 0x0C, product code 1 "
               "(\"EtherNet/IP Sample Adapter\""));
  CHECK(has(s, "expected a PowerMonitor 500 (vendor 1, device type 0x92"));
  CHECK(has(s, "[eip.wrong_device]"));
  CHECK(has(s, "identity_vendor = 65000"));
  CHECK(rows(s).empty());  // whatever answers is not the meter: its values mean nothing
}

TEST_CASE("commission --json parses and holds the identity, connection, ratios and the same scaled values") {
  Meter m("127.0.28.14");
  Config c(device("mcc-1", m.address) + device("mcc-2", "127.0.28.15"));
  auto r = c.run({"--json"}, /*stdout_only=*/true);
  INFO(r.output);
  CHECK(r.code == 3);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(simdjson::padded_string(r.output)).get(doc) == simdjson::SUCCESS);
  CHECK(bool(doc["read_only"]));
  CHECK(std::int64_t(doc["summary"]["read"]) == 1);
  CHECK(std::int64_t(doc["summary"]["not_read"]) == 1);
  simdjson::dom::array meters = doc["meters"];
  REQUIRE(meters.size() == 2);

  simdjson::dom::element one = meters.at(0);
  CHECK(std::string_view(one["name"]) == "mcc-1");
  CHECK(std::string_view(one["result"]) == "read");
  CHECK(std::int64_t(one["identity"]["vendor"]) == 1);
  CHECK(std::int64_t(one["identity"]["device_type"]) == 0x92);
  CHECK(std::int64_t(one["identity"]["product_code"]) == 9);
  CHECK(std::int64_t(one["identity"]["serial"]) == 940007182);
  CHECK(std::string_view(one["identity"]["product_name"]) == "PowerMonitor 500");
  CHECK(std::string_view(one["connection"]["in_use"]) == "listen-only");
  CHECK(std::string_view(one["connection"]["transport"]) == "multicast");
  simdjson::dom::array conns = one["connection"]["connections"];
  CHECK(conns.size() == 3);
  for (simdjson::dom::element k : conns) {
    CHECK(bool(k["multicast"]));
    CHECK(std::uint64_t(k["t_o_connection_id"]) != 0);
    CHECK(double(k["t_o_rpi_ms"]) == 100);
    CHECK(std::string_view(k["o_t_address"]) == "127.0.28.14");
  }
  CHECK(std::string_view(one["ratios"]["ct"]) == "400:5");
  CHECK(double(one["ratios"]["ct_factor"]) == 80);
  CHECK(std::string_view(one["ratios"]["applied_by"]) == "gateway");
  std::map<std::string, Row> got;
  for (simdjson::dom::element a : simdjson::dom::array(one["assemblies"])) {
    CHECK(bool(a["received"]));
    for (simdjson::dom::element v : simdjson::dom::array(a["values"])) {
      Row row{double(v["value"]), std::string(std::string_view(v["unit"])), std::string(std::string_view(v["ratio"]))};
      if (row.ratio == "CT") CHECK(double(v["factor"]) == 80);
      got[std::string(std::string_view(v["name"]))] = row;
    }
  }
  check_values(got);
  CHECK(simdjson::dom::array(one["findings"]).size() == 0);

  simdjson::dom::element two = meters.at(1);
  CHECK(std::string_view(two["result"]) == "unreachable");
  CHECK(has(std::string(std::string_view(two["error"]["cause"])), "127.0.28.15:44818"));
  CHECK(std::string_view(two["error"]["failure_mode"]) == "eip.no_response");
  CHECK(has(std::string(std::string_view(two["error"]["fix"])), "front panel"));
}

TEST_CASE("commission --seconds reads for that long and flags implausible values") {
  // The second meter multiplies by the CT too (a ratio applied twice): currents 80x too high.
  Meter m("127.0.28.16");
  Meter twice("127.0.28.17", {"--fault", "ctpt ct-twice"});
  Config c(device("mcc-1", m.address) + device("bad-ct", twice.address));
  const auto start = std::chrono::steady_clock::now();
  auto r = c.run({"--seconds", "1"});
  const auto took = std::chrono::steady_clock::now() - start;
  INFO(r.output);
  CHECK(r.code == 0);  // both read; a finding is for the electrician to judge
  CHECK(took >= 1s);
  CHECK(has(r.output, "reading for 1 s"));
  CHECK(has(section(r.output, "mcc-1"), "plausibility  no findings"));
  CHECK(has(section(r.output, "bad-ct"), "! finding     bad-ct: currents "));
  CHECK(has(section(r.output, "bad-ct"), "[meter.erratic_readings]"));
}

TEST_CASE("commission: a configuration error exits 2; --help says read-only and the exit codes") {
  TempDir dir;
  write_file(dir / "bad.toml", "[[devices]]\nname = \"x\"\naddress = \"127.0.28.18\"\nct = \"400:2\"\n");
  auto r = run({gateway(), "commission", "-c", (dir / "bad.toml").string()});
  CHECK(r.code == 2);
  CHECK(has(r.output, "bad.toml:"));

  auto h = run({gateway(), "commission", "--help"});
  CHECK(h.code == 0);
  CHECK(has(h.output, "Read-only"));
  CHECK(has(h.output, "--device"));
  CHECK(has(h.output, "--seconds"));
  CHECK(has(h.output, "--json"));
  CHECK(has(h.output, "0 every meter read, 3 a meter could not"));
}

TEST_CASE("commission: a meter that wants a run/idle header is read, and the report says which format it got") {
  Meter m("127.0.40.52", {"--t-o-header", "run_idle"});
  Config c(device("mcc-1", m.address));
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 0);
  const std::string s = section(r.output, "mcc-1");
  CHECK(s.find("! format      T->O with a 32-bit run/idle header: assembly 101 was refused 0x01/0x0128") !=
        std::string::npos);
  check_values(rows(s));  // the header is taken off: every value where it belongs
}

TEST_CASE("commission: an assembly of 40 REALs arrives whole: every value once, in order, scaled in every part") {
  // 40 elements travel as three Samples (18 + 18 + 4); the voltage is in part 1, the current in
  // part 2, so their scaled values show that each part was named and scaled by its own elements.
  TempDir dir;
  std::string elements;
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) {
    std::string e;
    if (i == 20) e = "{ name = \"voltage_l1_n_v\", type = \"REAL\", kind = \"voltage_ln\", unit = \"V\", phase = \"L1\" }";
    else if (i == 39) e = "{ name = \"current_l1_a\", type = \"REAL\", kind = \"current\", unit = \"A\", phase = \"L1\" }";
    else e = "{ name = \"x" + std::to_string(i) + "\", type = \"REAL\", kind = \"indicator\", unit = \"\" }";
    names.push_back(i == 20 ? "voltage_l1_n_v" : i == 39 ? "current_l1_a" : "x" + std::to_string(i));
    elements += "  " + e + ",\n";
  }
  const auto profile = dir / "big.toml";
  write_file(profile, "format = 1\nname = \"PowerMonitor 500\"\n[assembly.100]\ntitle = \"Forty values\"\n"
                      "role = \"realtime\"\nsize_bytes = 160\nelements = [\n" + elements + "]\n");
  Meter m("127.0.40.7", {"--profile", profile.string()});
  Config c("[[devices]]\nname = \"big\"\naddress = \"" + m.address + "\"\nrpi_ms = 100\nassemblies = [100]\n"
           "ct = \"400:5\"\nratios_applied_by = \"gateway\"\nnominal_voltage = 400\nprofile = \"" + profile.string() + "\"\n");
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 0);
  const std::string s = section(r.output, "big");
  const auto got = rows(s);
  CHECK(got.size() == 40);
  std::size_t at = 0;
  for (const auto& n : names) {  // each name once, in element order
    const auto pos = s.find("\n    " + n + " ", at);
    REQUIRE_MESSAGE(pos != std::string::npos, n);
    CHECK(s.find("\n    " + n + " ", pos + 1) == std::string::npos);
    at = pos + 1;
  }
  CHECK(got.at("voltage_l1_n_v").value > 215);  // 400 V L-L
  CHECK(got.at("voltage_l1_n_v").value < 247);
  CHECK(got.at("current_l1_a").value > 140);    // 50 % of 400 A, scaled x80 in part 2
  CHECK(got.at("current_l1_a").value < 260);
  CHECK(got.at("current_l1_a").ratio == "x80 CT");
}
