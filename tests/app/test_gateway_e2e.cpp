// The whole gateway against simulated meters: samples arrive in the file sink, faults
// injected in the simulator become failure modes, SIGTERM loses nothing.
#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <vector>
#include <sstream>

#include "support/gateway.hpp"

using namespace pm500::test;

namespace {

std::string gateway() { return gateway_binary(); }

struct Demo {
  TempDir dir;
  int control = free_tcp_port();
  int udp = free_udp_port();
  std::string sim_address;

  explicit Demo(const std::string& sim_addr, const std::string& device_extra = "", bool owner = true)
      : sim_address(sim_addr) {
    write_file(dir / "gateway.toml",
               "[gateway]\nsite = \"test-site\"\nstate_dir = \"" + (dir / "state").string() +
                   "\"\n[logging]\nformat = \"text\"\n[status]\nlisten = \"127.0.0.1:0\"\n"
                   "[scanner]\nlocal_address = \"0.0.0.0\"\nudp_port = " + std::to_string(udp) +
                   "\nreconnect_initial_ms = 100\nreconnect_max_ms = 1000\nconnect_timeout_ms = 1000\n"
                   "[simulator]\nenabled = true\naddress = \"" + sim_addr + "\"\nct = \"400:5\"\nnominal_voltage = 480\n"
                   "owner = " + (owner ? "true" : "false") + "\ncontrol_port = " + std::to_string(control) +
                   "\n[[devices]]\nname = \"mcc-1\"\nasset = \"feeder-7\"\naddress = \"" + sim_addr +
                   "\"\nrpi_ms = 50\nassemblies = [101, 102, 107]\nct = \"400:5\"\nnominal_voltage = 480\n" +
                   device_extra +
                   "[sinks.file]\npath = \"samples.lp\"\nflush_interval_ms = 50\n");
  }
  fs::path samples() const { return dir / "state" / "sinks" / "file" / "samples.lp"; }
  std::vector<std::string> args() const { return {gateway(), "run", "-c", (dir / "gateway.toml").string()}; }
};

}  // namespace

TEST_CASE("samples from a simulated meter reach the file sink, and SIGTERM loses none") {
  Demo demo("127.0.0.31");
  Process gw(demo.args());
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(demo.samples()) && count_lines(demo.samples()) >= 30; }, 20s),
                  gw.log());
  std::string text = read_file(demo.samples());
  CHECK(text.find("powermonitor_500,asset=feeder-7,device=mcc-1,site=test-site") != std::string::npos);
  CHECK(text.find("voltage_l1_n_v=") != std::string::npos);
  CHECK(text.find("energy_import_kwh=") != std::string::npos);
  CHECK(gw.log().find("running (listen-only as configured)") != std::string::npos);

  // The status API and metrics describe the running device.
  std::string base = status_url(gw);
  REQUIRE(base.rfind("http://127.0.0.1:", 0) == 0);
  auto api = http_get(base + "/api/status");
  CHECK(api.output.find("\"name\":\"mcc-1\"") != std::string::npos);
  CHECK(api.output.find("\"state\":\"running\"") != std::string::npos);
  CHECK(api.output.find("\"connection\":\"listen-only\"") != std::string::npos);
  CHECK(api.output.find("\"voltage_l1_n_v\"") != std::string::npos);
  CHECK(api.output.find("\"name\":\"file\"") != std::string::npos);
  auto metrics = http_get(base + "/metrics");
  CHECK(metrics.output.find("pm500_device_up{device=\"mcc-1\",asset=\"feeder-7\"} 1") != std::string::npos);
  CHECK(metrics.output.find("pm500_failure_active{id=\"eip.no_response\"") != std::string::npos);
  auto ready = http_get(base + "/health/ready");
  CHECK(ready.output.substr(ready.output.size() - 3) == "200");

  gw.signal(SIGTERM);
  auto code = gw.wait(15s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  // Every sample the scanner produced was delivered before exit.
  std::string log = gw.log();
  CHECK(log.find("Forward Close") == std::string::npos);  // no failed close reported
  auto pos = log.find("sink file stopped: delivered ");
  REQUIRE(pos != std::string::npos);
  std::size_t delivered = std::stoul(log.substr(pos + 29));
  CHECK(delivered == count_lines(demo.samples()));
  CHECK(log.find("spooled 0 (backlog 0), dropped 0") != std::string::npos);
}

TEST_CASE("listen-only without an owner falls back to explicit reads and says why") {
  Demo demo("127.0.0.32", "", /*owner=*/false);
  Process gw(demo.args());
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(demo.samples()) && count_lines(demo.samples()) >= 5; }, 20s),
                  gw.log());
  std::string log = gw.log();
  CHECK(log.find("0x0119") != std::string::npos);
  CHECK(log.find("RAISED eip.ownership_conflict [mcc-1]") != std::string::npos);
}

TEST_CASE("a meter that stops producing raises eip.session_fault, and it clears on recovery") {
  Demo demo("127.0.0.33");
  Process gw(demo.args());
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(demo.samples()) && count_lines(demo.samples()) >= 5; }, 20s),
                  gw.log());
  CHECK(sim_command(demo.control, "fault stop-producing").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(eventually([&] { return gw.log().find("RAISED eip.session_fault [mcc-1]") != std::string::npos; }, 15s),
                  gw.log());
  CHECK(sim_command(demo.control, "fault resume-producing").rfind("ok", 0) == 0);
  std::size_t before = count_lines(demo.samples());
  CHECK(eventually([&] { return count_lines(demo.samples()) > before + 5; }, 20s));
}

TEST_CASE("CT applied twice is diagnosed as erratic readings with the cause") {
  Demo demo("127.0.0.34");
  Process gw(demo.args());
  REQUIRE(eventually([&] { return fs::exists(demo.samples()) && count_lines(demo.samples()) >= 5; }, 20s));
  CHECK(sim_command(demo.control, "fault ctpt ct-twice").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(
      eventually([&] { return gw.log().find("RAISED meter.erratic_readings [mcc-1]") != std::string::npos; }, 20s),
      gw.log());
  CHECK(gw.log().find("CT ratio 400:5 applied twice") != std::string::npos);
  // The status API shows the failure mode with its resolution.
  auto api = http_get(status_url(gw) + "/api/status");
  CHECK(api.output.find("\"id\":\"meter.erratic_readings\"") != std::string::npos);
  CHECK(api.output.find("exactly one of them may apply the ratios") != std::string::npos);
}

// A gateway with its simulator playing `profile` at `address`, one device of that profile reading
// assembly 100 every 50 ms (plus `device_extra`), and a file sink.
static void write_profile_gateway(const TempDir& dir, const std::string& address, const std::string& profile,
                                  const std::string& name, const std::string& device_extra = "") {
  write_file(dir / "gateway.toml",
             "[gateway]\nsite = \"test-site\"\nstate_dir = \"" + (dir / "state").string() +
                 "\"\n[logging]\nformat = \"text\"\n[status]\nlisten = \"127.0.0.1:0\"\n"
                 "[scanner]\nlocal_address = \"0.0.0.0\"\nudp_port = " + std::to_string(free_udp_port()) +
                 "\nconnect_timeout_ms = 1000\n"
                 "[simulator]\nenabled = true\naddress = \"" + address + "\"\nnominal_voltage = 400\nprofile = \"" +
                 profile + "\"\n[[devices]]\nname = \"" + name + "\"\naddress = \"" + address + "\"\nprofile = \"" +
                 profile + "\"\nassemblies = [100]\nrpi_ms = 50\n" + device_extra +
                 "[sinks.file]\npath = \"samples.lp\"\nflush_interval_ms = 50\n");
}

TEST_CASE("a second device type end to end: the sample adapter's profile, its simulator, samples in the file sink") {
  TempDir dir;
  const std::string profile = (source_dir() / "etc/profiles/sample-adapter.toml").string();
  write_profile_gateway(dir, "127.0.40.31", profile, "adapter-1", "connection = \"input-only\"\n");
  const fs::path samples = dir / "state" / "sinks" / "file" / "samples.lp";
  Process gw({gateway(), "run", "-c", (dir / "gateway.toml").string()});
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(samples) && count_lines(samples) >= 10; }, 20s), gw.log());
  const std::string text = read_file(samples);
  // One line per datagram of assembly 100: the eight REALs by the profile's names.
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  INFO(line);
  CHECK(line.find("device=adapter-1") != std::string::npos);
  for (const char* field : {"voltage_l1_n_v=", "voltage_l3_n_v=", "current_l2_a=", "active_power_total_kw=",
                            "frequency_hz="})
    CHECK(line.find(field) != std::string::npos);
  CHECK(line.find("voltage_l1_l2_v=") == std::string::npos);  // not in this device's assembly
  // 400 V line-to-line: about 231 V line-to-neutral.
  const auto at = line.find("voltage_l1_n_v=") + std::string("voltage_l1_n_v=").size();
  const double v = std::stod(line.substr(at));
  CHECK(v > 200);
  CHECK(v < 260);
  CHECK(gw.log().find("running (input-only as configured)") != std::string::npos);
}

TEST_CASE("an assembly of 40 REALs end to end: three lines per datagram in the file sink, every value once, in order") {
  TempDir dir;
  std::string elements;
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) {
    names.push_back(i == 20 ? "voltage_l1_n_v" : "x" + std::to_string(i));
    elements += i == 20 ? "{ name = \"voltage_l1_n_v\", type = \"REAL\", kind = \"voltage_ln\", unit = \"V\", phase = \"L1\" },\n"
                        : "{ name = \"" + names.back() + "\", type = \"REAL\", kind = \"indicator\", unit = \"\" },\n";
  }
  const std::string profile = (dir / "big.toml").string();
  write_file(profile, "format = 1\nname = \"PowerMonitor 500\"\n[assembly.100]\nrole = \"realtime\"\nsize_bytes = 160\n"
                      "elements = [\n" + elements + "]\n");
  write_profile_gateway(dir, "127.0.40.32", profile, "big-1");
  const fs::path samples = dir / "state" / "sinks" / "file" / "samples.lp";
  Process gw({gateway(), "run", "-c", (dir / "gateway.toml").string()});
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(samples) && count_lines(samples) >= 30; }, 20s), gw.log());
  // Lines of one datagram share the timestamp (InfluxDB merges them into one point): the field
  // names of the first complete datagram, in file order, must be the 40 names, once each.
  std::istringstream lines(read_file(samples));
  std::string line;
  std::map<std::string, std::vector<std::string>> by_time;
  std::vector<std::string> order;
  while (std::getline(lines, line)) {
    const auto fields_at = line.find(' ') + 1, time_at = line.rfind(' ');
    const std::string time = line.substr(time_at + 1);
    if (!by_time.contains(time)) order.push_back(time);
    std::istringstream fields(line.substr(fields_at, time_at - fields_at));
    std::string f;
    while (std::getline(fields, f, ',')) by_time[time].push_back(f.substr(0, f.find('=')));
  }
  REQUIRE(order.size() >= 3);
  INFO(read_file(samples).substr(0, 2000));
  CHECK(by_time[order[1]] == names);  // the second datagram: the first may have started before the file
  CHECK(by_time[order[2]] == names);
}
