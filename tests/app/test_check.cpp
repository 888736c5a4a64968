// `pm500-gateway check -c FILE` as an operator runs it: every device and sink probed once, one
// line per check with the failure mode and its fix, exit 3 when anything fails. Everything here
// talks to loopback only: simulated meters on 127.0.9.x, closed ports on 127.0.0.1.
#include <doctest/doctest.h>

#include "support/support.hpp"

using namespace pm500::test;

namespace {

std::string gateway() {
  return binary("pm500-gateway").string();
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A configuration with a state folder, the scanner on a free UDP port, and `rest` appended.
struct Check {
  TempDir dir;
  std::string path = (dir / "gateway.toml").string();

  explicit Check(const std::string& rest) {
    write_file(dir / "gateway.toml", "[gateway]\nsite = \"test-site\"\nstate_dir = \"" + (dir / "state").string() +
                                         "\"\n[logging]\nformat = \"text\"\n[status]\nenabled = false\n"
                                         "[scanner]\nlocal_address = \"0.0.0.0\"\nudp_port = " +
                                         std::to_string(free_udp_port()) + "\nconnect_timeout_ms = 1000\n" + rest);
  }
  RunResult run(std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv{gateway(), "check", "-c", path};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return pm500::test::run(argv, 60s);
  }
};

std::string simulator(const std::string& address, const std::string& extra = "") {
  return "[simulator]\nenabled = true\naddress = \"" + address + "\"\nct = \"400:5\"\nnominal_voltage = 480\n" + extra;
}

std::string device(const std::string& address, const std::string& extra = "") {
  return "[[devices]]\nname = \"mcc-1\"\naddress = \"" + address +
         "\"\nrpi_ms = 100\nassemblies = [101, 102, 107]\nct = \"400:5\"\nnominal_voltage = 480\n" + extra;
}

}  // namespace

TEST_CASE("check: a simulated meter and a file sink pass every probe, Forward Close included") {
  Check c(simulator("127.0.9.1") + device("127.0.9.1") + "[sinks.file]\npath = \"samples.lp\"\n");
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(has(r.output, "\u2713 simulator: 1 simulated meter(s) from 127.0.9.1"));
  CHECK(has(r.output, "\u2713 device mcc-1: reachable 127.0.9.1:44818"));
  CHECK(has(r.output, "\u2713 device mcc-1: identity: PowerMonitor 500 (vendor 1, device type 0x92, product code 9"));
  CHECK(has(r.output, "\u2713 device mcc-1: assembly sizes: 101: "));
  CHECK(has(r.output, "\u2713 device mcc-1: Forward Open (listen-only multicast): 3 connection(s) accepted"));
  CHECK(has(r.output, "\u2713 device mcc-1: data: assemblies 101, 102, 107 received"));
  CHECK(has(r.output, "\u2713 device mcc-1: Forward Close: 3 connection(s) closed"));
  CHECK(has(r.output, "the simulated meter counted 3 Forward Close"));
  CHECK(has(r.output, "\u2713 sink file: directory "));
  CHECK(has(r.output, " 0 failed"));
  CHECK_FALSE(has(r.output, "\u2717"));
  // Nothing is left behind by the file probe.
  CHECK_FALSE(fs::exists(c.dir / "state" / "sinks" / "file" / "samples.lp"));
}

TEST_CASE("check: listen-only without an owner works through the fallback: a warning, exit 0") {
  Check c(simulator("127.0.9.2", "owner = false\n") + device("127.0.9.2", "fallback = \"explicit\"\n") +
          "[sinks.file]\npath = \"samples.lp\"\n");
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(has(r.output, "! device mcc-1: Forward Open (listen-only multicast): "));
  CHECK(has(r.output, "0x0119"));
  CHECK(has(r.output, "[eip.ownership_conflict]"));
  CHECK(has(r.output, "\u2713 device mcc-1: data: assemblies 101, 102, 107 received (explicit)"));
  CHECK(has(r.output, "1 warning"));
}

TEST_CASE("check: nothing listening at a device's address fails with eip.no_response and exit 3") {
  const int port = free_tcp_port();
  Check c(device("127.0.9.3:" + std::to_string(port)));
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(has(r.output, "\u2717 device mcc-1: reachable 127.0.9.3:" + std::to_string(port) + ": connect_refused: "));
  CHECK(has(r.output, "[eip.no_response]"));
  CHECK(has(r.output, "  fix: "));
  CHECK(has(r.output, " 1 failed"));
  CHECK_FALSE(has(r.output, "identity"));  // nothing is claimed beyond the first failure
}

TEST_CASE("check: another product at the address fails the identity check with eip.wrong_device") {
  // The simulated meter is a 1420-V1-ENT (product code 5); the device expects a V2A (9).
  Check c(simulator("127.0.9.4", "product_code = 5\n") + device("127.0.9.4", "product_code = 9\n"));
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(has(r.output, "\u2713 device mcc-1: reachable 127.0.9.4:44818"));
  CHECK(has(r.output,
            "\u2717 device mcc-1: identity: another device answers at this address: vendor 1, device type 0x92, "
            "product code 5"));
  CHECK(has(r.output, "expected a PowerMonitor 500 (vendor 1, device type 0x92, product code 9; profile <built-in"));
  CHECK(has(r.output, "override on its [[devices]] entry: product_code = 5"));
  CHECK(has(r.output, "[eip.wrong_device]"));
  CHECK_FALSE(has(r.output, "[eip.no_response]"));  // it did respond
  CHECK_FALSE(has(r.output, "Forward Open"));
}

TEST_CASE("check: the simulator playing another device type where a PowerMonitor 500 is configured") {
  // The simulated sample adapter (its shipped profile) answers; the device has the built-in
  // PowerMonitor 500 profile. The check names both, and the fix; with the adapter's profile it passes.
  const std::string adapter = (source_dir() / "etc/profiles/sample-adapter.toml").string();
  Check c(simulator("127.0.62.1", "profile = \"" + adapter + "\"\n") + device("127.0.62.1"));
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(has(r.output, "\u2717 device mcc-1: identity: another device answers at this address: vendor 65000, device "
                      "type 0x0C, product code 1 (\"EtherNet/IP Sample Adapter\""));
  CHECK(has(r.output, "expected a PowerMonitor 500 (vendor 1, device type 0x92, product code 4..9; profile "));
  CHECK(has(r.output, "set `profile` to a profile that describes it"));
  CHECK(has(r.output, "identity_vendor = 65000, identity_device_type = 0x0C, product_code = 1"));
  CHECK(has(r.output, "[eip.wrong_device]"));
  CHECK(has(r.output, "  fix: "));
  CHECK_FALSE(has(r.output, "Forward Open"));  // nothing is opened on the wrong device
}

TEST_CASE("check: each assembly is reported apart: 100 works while the device has no 101") {
  // The simulated meter's profile lacks assembly 101 (it answers 0x05 for it); the device asks
  // for 100 and 101. The scanner leaves 101 out and reads 100: the check says both.
  std::string profile = read_file(source_dir() / "etc/profiles/powermonitor500.toml");
  const auto from = profile.find("[assembly.101]"), to = profile.find("[assembly.102]");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  profile.erase(from, to - from);
  // Its trended values were 101's voltages and currents: none now.
  const auto trend = profile.find("[trend]\nvalues = ["), trend_end = profile.find("]\n\n", trend);
  REQUIRE(trend != std::string::npos);
  profile.replace(trend, trend_end + 1 - trend, "[trend]\nvalues = []");
  TempDir profiles;
  write_file(profiles / "no-101.toml", profile);
  Check c(simulator("127.0.62.4", "profile = \"" + (profiles / "no-101.toml").string() + "\"\n") +
          "[[devices]]\nname = \"mcc-1\"\naddress = \"127.0.62.4\"\nrpi_ms = 100\nassemblies = [100, 101]\n");
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(has(r.output, "\u2713 device mcc-1: Forward Open (listen-only multicast): 1 connection(s) accepted for "
                      "assembly 100, RPI 100 ms"));
  CHECK(has(r.output, "\u2713 device mcc-1: data: assembly 100 received (listen-only) after "));
  CHECK(has(r.output, "\u2717 device mcc-1: assembly 101: path_error: assembly 101 on 127.0.62.4:44818: reading its "
                      "size (attribute 4) failed: 0x05"));
  CHECK(has(r.output, "[eip.session_fault]"));
  CHECK_FALSE(has(r.output, "assemblies 100, 101"));  // never lumped together
  CHECK(has(r.output, "\u2713 device mcc-1: Forward Close: 1 connection(s) closed"));
  CHECK(has(r.output, " 1 failed"));
}

TEST_CASE("check: a file sink whose folder cannot be created fails, naming the folder") {
  Check c("[sinks.file]\npath = \"PLACEHOLDER\"\n");
  // A regular file where a folder must be: fails even for root (permissions would not).
  write_file(c.dir / "blocker", "a file, not a folder");
  const std::string target = (c.dir / "blocker" / "sub" / "samples.lp").string();
  std::string text = read_file(c.dir / "gateway.toml");
  text.replace(text.find("PLACEHOLDER"), 11, target);
  write_file(c.dir / "gateway.toml", text);
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(has(r.output, "\u2717 sink file: directory " + (c.dir / "blocker" / "sub").string()));
  CHECK(has(r.output, "is not a directory"));
  CHECK(has(r.output, "- devices: none configured"));
}

TEST_CASE("check: InfluxDB on a closed port and MQTT with a missing CA file fail with their failure modes") {
  const int influx_port = free_tcp_port(), mqtt_port = free_tcp_port();
  TempDir other;
  Check c("[sinks.influxdb]\nurl = \"http://127.0.0.1:" + std::to_string(influx_port) +
          "\"\ndatabase = \"pm500\"\ntimeout_ms = 2000\n"
          "[sinks.mqtt]\nurl = \"mqtts://127.0.0.1:" +
          std::to_string(mqtt_port) + "\"\nca_file = \"" + (other / "missing-ca.pem").string() +
          "\"\nconnect_timeout_ms = 2000\n");
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(has(r.output, "\u2717 sink influxdb: connect http://127.0.0.1:" + std::to_string(influx_port) + ": "));
  CHECK(has(r.output, "refused"));
  CHECK(has(r.output, "[influxdb.write_error]"));
  CHECK(has(r.output, "\u2717 sink mqtt: certificates: "));
  CHECK(has(r.output, "missing-ca.pem"));
  CHECK(has(r.output, "[mqtt.publish_failure]"));
  CHECK(has(r.output, " 2 failed"));
}

TEST_CASE("check: MQTT with nothing listening fails at connect; disabled sinks are listed, not probed") {
  const int mqtt_port = free_tcp_port();
  Check c("[sinks.mqtt]\nurl = \"mqtt://127.0.0.1:" + std::to_string(mqtt_port) +
          "\"\nconnect_timeout_ms = 2000\n"
          "[sinks.influxdb]\nenabled = false\nurl = \"http://192.0.2.1:8086\"\n");
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 3);
  CHECK(has(r.output, "\u2717 sink mqtt: connect mqtt://127.0.0.1:" + std::to_string(mqtt_port) +
                          ": connection refused by 127.0.0.1:"));
  CHECK(has(r.output, "- sink influxdb: disabled, not probed"));
}

TEST_CASE("check: no devices and every sink disabled exits 0; --offline sends nothing") {
  Check c("[sinks.file]\nenabled = false\n");
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(has(r.output, "- sink file: disabled, not probed"));
  CHECK(has(r.output, "2 checks, 0 failed, 1 warning"));

  // --offline: a device nobody could reach is not even tried.
  Check off(device("127.0.9.5:" + std::to_string(free_tcp_port())));
  auto o = off.run({"--offline"});
  INFO(o.output);
  CHECK(o.code == 0);
  CHECK(has(o.output, "- devices and sinks: not probed (--offline)"));
  CHECK_FALSE(has(o.output, "reachable"));
}

TEST_CASE("check warns when no sink is enabled, naming the table to add or enable; online and --offline") {
  // No sink table at all: the warning names every sink table there is to add.
  Check none("");
  for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"--offline"}}) {
    auto r = none.run(args);
    INFO(r.output);
    CHECK(r.code == 0);  // a warning: the gateway still runs
    CHECK(has(r.output, "! configuration: sinks: no sink is enabled, so samples are read but delivered nowhere and "
                        "not spooled; add a sink table to " + none.path + ": one of [sinks."));
    for (const char* table : {"[sinks.file]", "[sinks.influxdb]", "[sinks.mqtt]", "[sinks.aws_iot]"})
      CHECK(has(r.output, table));
    CHECK(has(r.output, "1 warning"));
  }
  // A disabled one: the fix is to enable it.
  Check disabled("[sinks.file]\nenabled = false\n");
  auto d = disabled.run({"--offline"});
  INFO(d.output);
  CHECK(has(d.output, "no sink is enabled"));
  CHECK(has(d.output, "set enabled = true in [sinks.file], or add one of [sinks."));
  // One enabled sink: no warning.
  Check one("[sinks.file]\npath = \"samples.lp\"\n");
  auto o = one.run({"--offline"});
  INFO(o.output);
  CHECK(o.code == 0);
  CHECK_FALSE(has(o.output, "no sink is enabled"));
  CHECK_FALSE(has(o.output, "warning"));
}

TEST_CASE("check --help explains the lines, the exit code and the simulator") {
  auto h = pm500::test::run({gateway(), "check", "--help"});
  CHECK(h.code == 0);
  CHECK(has(h.output, "--offline"));
  CHECK(has(h.output, "exit 3"));
  CHECK(has(h.output, "[simulator]"));
}

TEST_CASE("check: the sample adapter from its shipped profile, with a site override of the profile's numbers") {
  // The site's copy of the profile says configuration instance 1; the device's override puts
  // the adapter's 151 back. The copy sits beside the configuration (a relative path).
  const std::string shipped = read_file(source_dir() / "etc/profiles/sample-adapter.toml");
  const std::string key = "config_instance = 151";
  REQUIRE(shipped.find(key) != std::string::npos);
  std::string site = shipped;
  site.replace(site.find(key), key.size(), "config_instance = 1");
  const std::string adapter = (source_dir() / "etc/profiles/sample-adapter.toml").string();
  auto dev = [](const std::string& address) {
    return "[[devices]]\nname = \"adapter-1\"\naddress = \"" + address +
           "\"\nprofile = \"site.toml\"\nassemblies = [100]\nconnection = \"input-only\"\nrpi_ms = 100\n";
  };
  {
    Check c(simulator("127.0.40.21", "profile = \"" + adapter + "\"\n") + dev("127.0.40.21") + "config_instance = 151\n");
    write_file(c.dir / "site.toml", site);
    auto r = c.run();
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(has(r.output, "\u2713 device adapter-1: identity: EtherNet/IP Sample Adapter (vendor 65000, device type "
                        "0x0C, product code 1"));
    CHECK(has(r.output, "\u2713 device adapter-1: assembly sizes: 100: 32 bytes (as the profile describes)"));
    CHECK(has(r.output, "\u2713 device adapter-1: Forward Open (input-only multicast): 1 connection(s) accepted"));
    CHECK(has(r.output, "\u2713 device adapter-1: data: assembly 100 received"));
  }
  {
    // Without the override the adapter refuses the profile's configuration instance.
    Check c(simulator("127.0.40.22", "profile = \"" + adapter + "\"\n") + dev("127.0.40.22"));
    write_file(c.dir / "site.toml", site);
    auto r = c.run();
    INFO(r.output);
    CHECK(r.code == 3);
    CHECK(has(r.output, "0x01/0x0315"));
  }
}

TEST_CASE("check: a meter that wants a run/idle header on its data works, and the check says what to change") {
  Process sim({binary("pm500-sim").string(), "--address", "127.0.40.23", "--t-o-header", "run_idle", "--log-format",
               "text"});
  REQUIRE(wait_for_tcp(44818, 5s, "127.0.40.23"));
  Check c(device("127.0.40.23"));
  auto r = c.run();
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(has(r.output, "! device mcc-1: real-time format: T->O with a 32-bit run/idle header: assembly 101 was "
                      "refused 0x01/0x0128 invalid T->O size at 50 bytes and the device asked for 54; set "
                      "connection.t_o_header = "
                      "\"run_idle\" in the profile"));
  CHECK(has(r.output, "\u2713 device mcc-1: data: assemblies 101, 102, 107 received"));
}
