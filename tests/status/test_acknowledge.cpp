// Acknowledge and shelve through the running gateway: POST /api/acknowledge with the status
// token, the entry in /api/status, kept in state_dir across a restart (and the same condition
// raised again is not alerted again), undone when the condition clears. The meter is the
// gateway's embedded simulator; its control port injects the fault (CT applied twice).
#include <doctest/doctest.h>

#include <csignal>

#include "support/gateway.hpp"

using namespace pm500::test;

namespace {

constexpr const char* kToken = "ack-t0ken";

struct Site {
  TempDir dir;
  int control = free_tcp_port();
  int udp = free_udp_port();
  explicit Site(const std::string& address) {
    write_file(dir / "gateway.toml",
               "[gateway]\nsite = \"ack\"\nclear_hold_ms = 300\nstate_dir = \"" + (dir / "state").string() +
                   "\"\n[logging]\nformat = \"text\"\n[status]\nlisten = \"127.0.64.1:0\"\ntoken = \"" + kToken +
                   "\"\n[scanner]\nlocal_address = \"0.0.0.0\"\nudp_port = " + std::to_string(udp) +
                   "\nreconnect_initial_ms = 100\nreconnect_max_ms = 1000\nconnect_timeout_ms = 1000\n"
                   "[simulator]\nenabled = true\naddress = \"" + address +
                   "\"\nct = \"400:5\"\nnominal_voltage = 480\ncontrol_port = " + std::to_string(control) +
                   "\n[[devices]]\nname = \"mcc-1\"\naddress = \"" + address +
                   "\"\nrpi_ms = 50\nassemblies = [101, 102]\nct = \"400:5\"\nnominal_voltage = 480\n"
                   "[sinks.file]\npath = \"samples.lp\"\n");
  }
  std::vector<std::string> args() const { return {gateway_binary(), "run", "-c", (dir / "gateway.toml").string()}; }
};

// curl with the token (or without); output: the body, a newline, the HTTP status.
RunResult curl(const std::string& url, const std::string& body = "", bool token = true) {
  std::vector<std::string> argv{"curl", "-s", "-S", "-w", "\n%{http_code}"};
  if (token) argv.insert(argv.end(), {"-H", std::string("Authorization: Bearer ") + kToken});
  if (!body.empty()) argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", body});
  argv.push_back(url);
  return run(argv, 10s);
}

std::string status_of(const RunResult& r) { return r.output.substr(r.output.rfind('\n') + 1); }

const std::string kAck =
    R"({"id":"meter.erratic_readings","subject":"mcc-1","by":"J. Ortiz","note":"CT settings on order, ticket 4411"})";

}  // namespace

TEST_CASE("acknowledged through the API, kept across a restart, undone when the condition clears") {
  Site site("127.0.64.20");
  std::string kept_at;
  {
    Process gw(site.args());
    const std::string base = status_url(gw);
    REQUIRE_MESSAGE(!base.empty(), gw.log());
    REQUIRE(sim_command(site.control, "fault ctpt ct-twice").rfind("ok", 0) == 0);
    REQUIRE_MESSAGE(wait_raised(gw, "meter.erratic_readings", "mcc-1", 20s), gw.log());

    CHECK(status_of(curl(base + "/api/acknowledge", kAck, false)) == "401");  // no token, no write
    auto r = curl(base + "/api/acknowledge", kAck);
    REQUIRE_MESSAGE(status_of(r) == "200", r.output);
    CHECK(r.output.find("\"state\":\"acknowledged\"") != std::string::npos);
    auto st = curl(base + "/api/status").output;
    CHECK(st.find("\"acknowledge_enabled\":true") != std::string::npos);
    // Shown on the failure, and listed; still a failure, still in /metrics.
    CHECK(st.find("\"id\":\"meter.erratic_readings\",\"subject\":\"mcc-1\",\"level\":\"L1\"") != std::string::npos);
    CHECK(st.find("\"acknowledgement\":{\"id\":\"meter.erratic_readings\",\"subject\":\"mcc-1\",\"state\":"
                  "\"acknowledged\",\"by\":\"J. Ortiz\",\"note\":\"CT settings on order, ticket 4411\"") !=
          std::string::npos);
    CHECK(st.find("\"acknowledgements\":[{\"id\":\"meter.erratic_readings\"") != std::string::npos);
    CHECK(curl(base + "/metrics").output.find("pm500_failure_active{id=\"meter.erratic_readings\"") !=
          std::string::npos);
    CHECK(gw.log().find("ACKNOWLEDGED meter.erratic_readings [mcc-1] by J. Ortiz") != std::string::npos);
    kept_at = read_file(site.dir / "state" / "acknowledgements");
    CHECK(kept_at.find("acknowledged\tmeter.erratic_readings\tmcc-1\t") != std::string::npos);
    gw.signal(SIGTERM);
    REQUIRE(gw.wait(15s) == 0);
  }
  {
    // The restarted gateway's simulator starts healthy: the entry waits for the condition.
    Process gw(site.args());
    const std::string base = status_url(gw);
    REQUIRE_MESSAGE(!base.empty(), gw.log());
    auto st = curl(base + "/api/status").output;
    CHECK(st.find("\"acknowledgements\":[{\"id\":\"meter.erratic_readings\",\"subject\":\"mcc-1\",\"state\":"
                  "\"acknowledged\",\"by\":\"J. Ortiz\"") != std::string::npos);
    CHECK(st.find("\"waiting\":true") != std::string::npos);
    REQUIRE(sim_command(site.control, "fault ctpt ct-twice").rfind("ok", 0) == 0);
    REQUIRE_MESSAGE(wait_raised(gw, "meter.erratic_readings", "mcc-1", 20s), gw.log());
    REQUIRE_MESSAGE(eventually([&] { return gw.log().find("still acknowledged (by J. Ortiz): not alerted again") !=
                                            std::string::npos; },
                               5s),
                    gw.log());
    st = curl(base + "/api/status").output;
    CHECK(st.find("\"state\":\"acknowledged\",\"by\":\"J. Ortiz\"") != std::string::npos);
    CHECK(st.find("\"waiting\":false") != std::string::npos);

    // Shelved for an hour instead: replaces the acknowledgement, with its end.
    auto shelve = curl(base + "/api/acknowledge",
                       R"({"action":"shelve","minutes":60,"id":"meter.erratic_readings","subject":"mcc-1",)"
                       R"("by":"A. Chen","note":"meter swap tonight"})");
    REQUIRE_MESSAGE(status_of(shelve) == "200", shelve.output);
    CHECK(shelve.output.find("\"state\":\"shelved\",\"by\":\"A. Chen\"") != std::string::npos);
    CHECK(shelve.output.find("\"until_ms\":null") == std::string::npos);

    // The condition clears: the shelf is undone; if it comes back, it is shown and alerted anew.
    REQUIRE(sim_command(site.control, "fault clear").rfind("ok", 0) == 0);
    REQUIRE_MESSAGE(wait_cleared(gw, "meter.erratic_readings", "mcc-1", 20s), gw.log());
    CHECK(eventually([&] { return curl(base + "/api/status").output.find("\"acknowledgements\":[]") != std::string::npos; },
                     5s));
    CHECK(gw.log().find("UNDONE shelved of meter.erratic_readings [mcc-1]: the condition cleared") != std::string::npos);
    auto gone = curl(base + "/api/acknowledge", kAck);
    CHECK(status_of(gone) == "404");
    CHECK(gone.output.find("no active condition meter.erratic_readings [mcc-1]") != std::string::npos);
  }
}
