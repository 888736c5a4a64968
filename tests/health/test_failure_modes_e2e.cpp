// One end-to-end test per device, network and alert row of the troubleshooting guide: the
// pm500-gateway binary against simulated meters (embedded, or pm500-sim processes with fault
// injection), a network namespace whose link is down, and a local webhook. Each test provokes the
// fault for real, asserts the failure mode is raised with its evidence, removes the fault and
// asserts it clears. The historian and broker rows are in test_sink_rows_e2e.cpp.
#include <doctest/doctest.h>

#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

#include "support/gateway.hpp"

using namespace pm500::test;

namespace {

std::string sim_binary() { return binary("pm500-sim").string(); }

// A gateway configuration: one device at `address`, file sink, quick reconnects and clears.
// `sim` adds an embedded simulator at the same address with its control port.
struct Site {
  TempDir dir;
  int udp = free_udp_port();
  int control = free_tcp_port();
  std::string address;

  Site(std::string addr, bool embedded_sim, const std::string& device_extra = "", const std::string& extra = "",
       bool status = true)
      : address(std::move(addr)) {
    std::string t = "[gateway]\nsite = \"e2e\"\nclear_hold_ms = 300\nstate_dir = \"" + (dir / "state").string() +
                    "\"\n[logging]\nformat = \"text\"\n[status]\nenabled = " + (status ? "true" : "false") +
                    "\nlisten = \"127.0.0.1:0\"\n[scanner]\nudp_port = " + std::to_string(udp) +
                    "\nreconnect_initial_ms = 100\nreconnect_max_ms = 800\nconnect_timeout_ms = 800\n";
    if (embedded_sim)
      t += "[simulator]\nenabled = true\naddress = \"" + address + "\"\nct = \"400:5\"\nnominal_voltage = 480\n"
           "control_port = " + std::to_string(control) + "\n";
    t += "[[devices]]\nname = \"mcc-1\"\naddress = \"" + address +
         "\"\nrpi_ms = 50\nassemblies = [101, 102, 107]\nct = \"400:5\"\nnominal_voltage = 480\n" + device_extra +
         "[sinks.file]\npath = \"samples.lp\"\nflush_interval_ms = 50\n" + extra;
    write_file(dir / "gateway.toml", t);
  }
  fs::path samples() const { return dir / "state" / "sinks" / "file" / "samples.lp"; }
  std::size_t sample_count() const { return fs::exists(samples()) ? count_lines(samples()) : 0; }
  std::vector<std::string> args() const { return {gateway_binary(), "run", "-c", (dir / "gateway.toml").string()}; }
};

// pm500-sim on one loopback address, with a control port and optional faults from the start.
std::vector<std::string> sim_args(const std::string& address, int control, std::vector<std::string> faults = {}) {
  std::vector<std::string> a{sim_binary(), "--address", address, "--ct", "400:5", "--nominal-voltage", "480",
                             "--control-port", std::to_string(control), "--log-format", "text"};
  for (auto& f : faults) {
    a.push_back("--fault");
    a.push_back(f);
  }
  return a;
}

bool samples_flow(const Site& s, std::size_t more = 5) {
  std::size_t before = s.sample_count();
  return eventually([&] { return s.sample_count() >= before + more; }, 15s);
}

// A webhook on 127.0.0.1 answering a switchable status, recording bodies.
struct Webhook {
  httplib::Server svr;
  std::thread thread;
  int port = 0;
  std::atomic<int> status{204};
  std::mutex mu;
  std::vector<std::string> bodies;
  Webhook() {
    svr.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      res.status = status.load();
      if (res.status == 401) res.set_content("token expired", "text/plain");
      std::lock_guard lk(mu);
      if (res.status / 100 == 2) bodies.push_back(req.body);
    });
    port = svr.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { svr.listen_after_bind(); });
  }
  ~Webhook() {
    svr.stop();
    thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hook"; }
  bool received(const std::string& needle) {
    std::lock_guard lk(mu);
    for (auto& b : bodies)
      if (b.find(needle) != std::string::npos) return true;
    return false;
  }
};

std::string alerts_section(const std::string& url) {
  return "[alerts]\nenabled = true\nurl = \"" + url +
         "\"\nretry_initial_ms = 50\nretry_max_ms = 200\nfailures_before_alarm = 2\ntimeout_ms = 2000\n";
}

}  // namespace

TEST_CASE("eip.no_response: nothing at the address is 'refused'; it clears when a meter answers there") {
  Site site("127.0.0.41", /*embedded_sim=*/false);
  Process gw(site.args());
  REQUIRE_MESSAGE(wait_raised(gw, "eip.no_response", "mcc-1", 10s), gw.log());
  std::string ev = raised_evidence(gw, "eip.no_response", "mcc-1");
  CHECK(ev.find("connect_refused") != std::string::npos);
  CHECK(ev.find("127.0.0.41:44818") != std::string::npos);
  // The status API carries it with the resolution; the metric is 1.
  std::string base = status_url(gw);
  auto api = http_get(base + "/api/status");
  CHECK(api.output.find("\"id\":\"eip.no_response\"") != std::string::npos);
  CHECK(api.output.find("front panel") != std::string::npos);
  CHECK(http_get(base + "/metrics").output.find("pm500_failure_active{id=\"eip.no_response\",level=\"L1\"} 1") != std::string::npos);
  // Reconnects go on (every 800 ms at most here), but the condition is logged once: no flood.
  std::this_thread::sleep_for(3s);
  std::string log = gw.log();
  std::size_t raised = 0;
  for (auto p = log.find("RAISED eip.no_response"); p != std::string::npos; p = log.find("RAISED eip.no_response", p + 1))
    ++raised;
  CHECK(raised == 1);
  auto api2 = http_get(base + "/api/status");
  auto rec = api2.output.find("\"reconnects\":");
  REQUIRE(rec != std::string::npos);
  CHECK(std::stoi(api2.output.substr(rec + 13)) >= 3);  // the attempts happened, unlogged

  Process sim(sim_args("127.0.0.41", free_tcp_port()));
  REQUIRE_MESSAGE(wait_cleared(gw, "eip.no_response", "mcc-1", 15s), gw.log());
  CHECK(samples_flow(site));
  CHECK(http_get(base + "/metrics").output.find("pm500_failure_active{id=\"eip.no_response\",level=\"L1\"} 0") != std::string::npos);
}

TEST_CASE("eip.no_response: a meter whose network link is down is 'unreachable' (network namespace)") {
  // The gateway runs in a network namespace of its own whose only link (lo) is down, so the
  // meter's address has no route. Needs root (CI runs as root); elsewhere this case says so.
  std::string ns = "pm500e2e" + std::to_string(::getpid());
  if (::geteuid() == 0) run({"ip", "netns", "del", ns});  // left over by a killed run with this pid
  if (::geteuid() != 0 || run({"ip", "netns", "add", ns}).code != 0) {
    WARN_MESSAGE(false, "skipped: creating a network namespace needs root and iproute2");
    return;
  }
  struct Cleanup {
    std::string ns;
    ~Cleanup() { run({"ip", "netns", "del", ns}); }
  } cleanup{ns};
  Site site("127.0.0.42", false, "", "", /*status=*/false);  // no loopback for a status page yet
  std::vector<std::string> in_ns{"ip", "netns", "exec", ns};
  auto gw_args = in_ns;
  for (auto& a : site.args()) gw_args.push_back(a);
  Process gw(gw_args);
  REQUIRE_MESSAGE(wait_raised(gw, "eip.no_response", "mcc-1", 10s), gw.log());
  std::string ev = raised_evidence(gw, "eip.no_response", "mcc-1");
  CHECK_MESSAGE(ev.find("unreachable") != std::string::npos, ev);

  // The link comes up and the meter is there.
  REQUIRE(run({"ip", "-n", ns, "link", "set", "lo", "up"}).code == 0);
  auto sim_cmd = in_ns;
  for (auto& a : sim_args("127.0.0.42", free_tcp_port())) sim_cmd.push_back(a);
  Process sim(sim_cmd);
  REQUIRE_MESSAGE(wait_cleared(gw, "eip.no_response", "mcc-1", 15s), (gw.log() + sim.log()));
  CHECK(samples_flow(site));
}

TEST_CASE("eip.wrong_device: another product code at the meter's address is named; clears when the meter is back") {
  int control = free_tcp_port();
  Process sim(sim_args("127.0.0.43", control, {"identity 1 12 55"}));
  REQUIRE(wait_for_tcp(control, 5s));
  Site site("127.0.0.43", false);
  Process gw(site.args());
  REQUIRE_MESSAGE(wait_raised(gw, "eip.wrong_device", "mcc-1", 10s), gw.log());
  std::string ev = raised_evidence(gw, "eip.wrong_device", "mcc-1");
  CHECK_MESSAGE(ev.find("wrong_identity") != std::string::npos, ev);
  CHECK_MESSAGE(ev.find("55") != std::string::npos, ev);  // the product code found there
  CHECK(site.sample_count() == 0);  // nothing is read from the wrong device
  CHECK(sim_command(control, "fault identity reset").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(wait_cleared(gw, "eip.wrong_device", "mcc-1", 15s), gw.log());
  CHECK(samples_flow(site));
}

TEST_CASE("eip.wrong_device: another device type answers where a PowerMonitor 500 is configured") {
  // The simulator plays the sample adapter from its shipped profile: it responds, so this is not
  // eip.no_response; the evidence names what answered, what the profile expects and the fix.
  const std::string adapter = (source_dir() / "etc/profiles/sample-adapter.toml").string();
  auto wrong = std::make_optional<Process>(std::vector<std::string>{
      sim_binary(), "--address", "127.0.62.3", "--profile", adapter, "--log-format", "text"});
  REQUIRE(wait_for_tcp(44818, 5s, "127.0.62.3"));
  Site site("127.0.62.3", false);
  Process gw(site.args());
  REQUIRE_MESSAGE(wait_raised(gw, "eip.wrong_device", "mcc-1", 10s), gw.log());
  std::string ev = raised_evidence(gw, "eip.wrong_device", "mcc-1");
  CHECK_MESSAGE(ev.find("vendor 65000, device type 0x0C, product code 1 (\"EtherNet/IP Sample Adapter\"") !=
                    std::string::npos, ev);
  CHECK_MESSAGE(ev.find("expected a PowerMonitor 500 (vendor 1, device type 0x92, product code 4..9") !=
                    std::string::npos, ev);
  CHECK_MESSAGE(ev.find("identity_vendor = 65000, identity_device_type = 0x0C, product_code = 1") != std::string::npos,
                ev);
  CHECK(gw.log().find("RAISED eip.no_response") == std::string::npos);
  // The status API (and the page built from it) carries the mode with its evidence and fix, and
  // the device's state; the metric is 1.
  std::string base = status_url(gw);
  auto api = http_get(base + "/api/status").output;
  CHECK(api.find("\"id\":\"eip.wrong_device\"") != std::string::npos);
  CHECK(api.find("EtherNet/IP Sample Adapter") != std::string::npos);
  CHECK(api.find("identity_vendor, identity_device_type") != std::string::npos);  // the resolution
  CHECK(api.find("\"state\":\"wrong_device\"") != std::string::npos);
  CHECK(http_get(base + "/metrics").output.find("pm500_failure_active{id=\"eip.wrong_device\",level=\"L1\"} 1") !=
        std::string::npos);
  CHECK(site.sample_count() == 0);

  // The meter is put back at the address: cleared, data flows.
  wrong.reset();
  Process meter(sim_args("127.0.62.3", free_tcp_port()));
  REQUIRE_MESSAGE(wait_cleared(gw, "eip.wrong_device", "mcc-1", 15s), gw.log());
  CHECK(samples_flow(site));
}

TEST_CASE("eip.ownership_conflict: Forward Open refused 0x0106 by another owner; clears once it is released") {
  int control = free_tcp_port();
  Process sim(sim_args("127.0.0.44", control, {"refuse 0x01 0x0106"}));
  REQUIRE(wait_for_tcp(control, 5s));
  Site site("127.0.0.44", false, "fallback = \"none\"\n");
  Process gw(site.args());
  REQUIRE_MESSAGE(wait_raised(gw, "eip.ownership_conflict", "mcc-1", 10s), gw.log());
  std::string ev = raised_evidence(gw, "eip.ownership_conflict", "mcc-1");
  CHECK_MESSAGE(ev.find("0x0106") != std::string::npos, ev);
  CHECK(sim_command(control, "fault clear").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(wait_cleared(gw, "eip.ownership_conflict", "mcc-1", 15s), gw.log());
  CHECK(samples_flow(site));
}

TEST_CASE("eip.ownership_conflict: no owner (0x0119) with a fallback is reported, and clears when the owner returns") {
  Site site("127.0.0.45", true);
  Process gw(site.args());
  REQUIRE(samples_flow(site));
  CHECK(sim_command(site.control, "owner off").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(wait_raised(gw, "eip.ownership_conflict", "mcc-1", 15s), gw.log());
  CHECK(raised_evidence(gw, "eip.ownership_conflict", "mcc-1").find("0x0119") != std::string::npos);
  CHECK(samples_flow(site));  // the explicit fallback keeps data flowing meanwhile
  // Listen-only is retried every reconnect_max_ms (800 ms here) without a log line each time.
  auto count = [&](const std::string& needle) {
    std::string log = gw.log();
    std::size_t n = 0;
    for (auto p = log.find(needle); p != std::string::npos; p = log.find(needle, p + 1)) ++n;
    return n;
  };
  std::size_t before = count(": identifying (");
  std::this_thread::sleep_for(2500ms);
  CHECK(count(": identifying (") == before);
  CHECK(sim_command(site.control, "owner on").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(wait_cleared(gw, "eip.ownership_conflict", "mcc-1", 30s), gw.log());
}

TEST_CASE("eip.session_fault: a meter that stops producing times out; it clears when data flows again") {
  Site site("127.0.0.46", true);
  Process gw(site.args());
  REQUIRE(samples_flow(site));
  CHECK(sim_command(site.control, "fault stop-producing").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(wait_raised(gw, "eip.session_fault", "mcc-1", 10s), gw.log());
  CHECK(raised_evidence(gw, "eip.session_fault", "mcc-1").find("io_timeout") != std::string::npos);
  CHECK(sim_command(site.control, "fault resume-producing").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(wait_cleared(gw, "eip.session_fault", "mcc-1", 15s), gw.log());
  CHECK(samples_flow(site));
}

TEST_CASE("meter.erratic_readings: CT applied twice names the ratio; clears once the meter is fixed") {
  Site site("127.0.0.47", true);
  Process gw(site.args());
  REQUIRE(samples_flow(site));
  CHECK(sim_command(site.control, "fault ctpt ct-twice").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(wait_raised(gw, "meter.erratic_readings", "mcc-1", 20s), gw.log());
  CHECK(raised_evidence(gw, "meter.erratic_readings", "mcc-1").find("400:5 applied twice") != std::string::npos);
  CHECK(sim_command(site.control, "fault ctpt none").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(wait_cleared(gw, "meter.erratic_readings", "mcc-1", 30s), gw.log());
}

TEST_CASE("ops.alert_delivery_failure: a webhook answering 401 is raised; alerts arrive once the token works") {
  Webhook hook;
  hook.status = 401;
  // Nothing answers at the device's address, so the gateway has something to alert about.
  Site site("127.0.0.48", false, "", alerts_section(hook.url()));
  Process gw(site.args());
  REQUIRE_MESSAGE(wait_raised(gw, "ops.alert_delivery_failure", "webhook", 15s), gw.log());
  std::string ev = raised_evidence(gw, "ops.alert_delivery_failure", "webhook");
  CHECK_MESSAGE(ev.find("HTTP 401") != std::string::npos, ev);
  CHECK(ev.find("token expired") != std::string::npos);
  CHECK(ev.find("/hook") == std::string::npos);  // the URL's path is a secret
  std::string base = status_url(gw);
  CHECK(http_get(base + "/metrics").output.find("pm500_failure_active{id=\"ops.alert_delivery_failure\",level=\"L2\"} 1") !=
        std::string::npos);
  auto api = http_get(base + "/api/status").output;
  CHECK(api.find("\"alerts\":{\"enabled\":true,\"target\":\"http://127.0.0.1:") != std::string::npos);
  CHECK(api.find("\"last_error\":\"HTTP 401 from") != std::string::npos);

  hook.status = 204;  // the token is renewed
  REQUIRE_MESSAGE(wait_cleared(gw, "ops.alert_delivery_failure", "webhook", 15s), gw.log());
  // The alert that was waiting is delivered, with the failure mode's fix.
  CHECK(eventually([&] { return hook.received("\"id\":\"eip.no_response\""); }, 10s));
  CHECK(hook.received("\"state\":\"raised\""));
  CHECK(hook.received("\"site\":\"e2e\""));
  gw.signal(SIGTERM);
  CHECK(gw.wait(15s) == 0);
  CHECK(gw.log().find("alerts stopped: sent ") != std::string::npos);
}

TEST_CASE("alert-test: delivered exits 0, refused exits 3 with the fix, no url exits 2") {
  Webhook hook;
  TempDir dir;
  write_file(dir / "a.toml", alerts_section(hook.url()));
  auto ok = run({gateway_binary(), "alert-test", "-c", (dir / "a.toml").string()});
  CHECK_MESSAGE(ok.code == 0, ok.output);
  CHECK(ok.output.find("\u2713 alerts: test alert to http://127.0.0.1:" + std::to_string(hook.port) +
                       ": accepted (HTTP 204 in ") != std::string::npos);
  CHECK(eventually([&] { return hook.received("\"state\":\"test\""); }, 5s));

  hook.status = 401;
  auto refused = run({gateway_binary(), "alert-test", "-c", (dir / "a.toml").string()});
  CHECK(refused.code == 3);
  CHECK(refused.output.find("HTTP 401") != std::string::npos);
  CHECK(refused.output.find("credentials refused") != std::string::npos);
  CHECK(refused.output.find("[ops.alert_delivery_failure]") != std::string::npos);
  CHECK(refused.output.find("fix: 401/403: renew the webhook token") != std::string::npos);

  hook.status = 204;
  write_file(dir / "off.toml", "[alerts]\nenabled = false\nurl = \"" + hook.url() + "\"\n");
  auto off = run({gateway_binary(), "alert-test", "-c", (dir / "off.toml").string()});
  CHECK_MESSAGE(off.code == 0, off.output);  // delivered; the warning does not fail it
  CHECK(off.output.find("! alerts: enabled = false: the running gateway sends no alerts") != std::string::npos);

  write_file(dir / "b.toml", "[alerts]\nenabled = false\n");
  auto none = run({gateway_binary(), "alert-test", "-c", (dir / "b.toml").string()});
  CHECK(none.code == 2);
  CHECK(none.output.find("has no [alerts] url") != std::string::npos);
}

TEST_CASE("check probes the webhook: a refused token fails with ops.alert_delivery_failure, exit 3") {
  Webhook hook;
  TempDir dir;
  write_file(dir / "c.toml", "[gateway]\nstate_dir = \"" + (dir / "state").string() + "\"\n" +
                                  alerts_section(hook.url()));
  auto ok = run({gateway_binary(), "check", "-c", (dir / "c.toml").string()});
  CHECK_MESSAGE(ok.code == 0, ok.output);
  CHECK(ok.output.find("\u2713 alerts: test alert to http://127.0.0.1:") != std::string::npos);
  hook.status = 401;
  auto refused = run({gateway_binary(), "check", "-c", (dir / "c.toml").string()});
  CHECK_MESSAGE(refused.code == 3, refused.output);
  CHECK(refused.output.find("\u2717 alerts: test alert to http://127.0.0.1:") != std::string::npos);
  CHECK(refused.output.find("HTTP 401") != std::string::npos);
  CHECK(refused.output.find("[ops.alert_delivery_failure]") != std::string::npos);
}
