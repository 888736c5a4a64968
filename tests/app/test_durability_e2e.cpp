// The durability guarantee, end to end: the gateway binary, an external simulated meter, the
// file sink holding a large batch in memory, and kill -9. In durable mode (journal) every
// sample the gateway had received arrives after the restart, exactly once; in the default
// memory mode the samples the sink held are lost, as documented. And a reload in durable mode
// (a meter added, the sink restarted with new settings) followed at once by kill -9: after the
// restart every sample of both meters arrives once.
#include <doctest/doctest.h>

#include <csignal>
#include <regex>
#include <thread>

#include "support/gateway.hpp"
#include "support/support.hpp"

using namespace pm500::test;
using namespace std::chrono_literals;

namespace {

struct Plant {
  TempDir dir;
  int udp = free_udp_port();
  int control = free_tcp_port();
  std::string address;
  Process sim;

  Plant(std::string addr, const std::string& durability, const std::string& device_extra = "")
      : address(std::move(addr)),
        sim({binary("pm500-sim").string(), "--address", address, "--control-port", std::to_string(control),
             "--log-format", "text"}) {
    write_file(dir / "gateway.toml",
               "[gateway]\nsite = \"e2e\"\nstate_dir = \"" + (dir / "state").string() +
                   "\"\n[logging]\nformat = \"text\"\n[status]\nlisten = \"127.0.0.1:0\"\n[scanner]\nudp_port = " +
                   std::to_string(udp) +
                   "\nreconnect_initial_ms = 100\nreconnect_max_ms = 800\nconnect_timeout_ms = 800\n"
                   "[pipeline]\ndurability = \"" + durability +
                   "\"\njournal_fsync_interval_ms = 100\n"
                   "[[devices]]\nname = \"mcc-1\"\naddress = \"" + address +
                   "\"\nrpi_ms = 20\nassemblies = [101, 102, 107]\n" + device_extra +
                   // A sink that keeps minutes of samples in memory before writing them.
                   "[sinks.file]\npath = \"samples.lp\"\nbatch_size = 20000\nflush_interval_ms = 600000\n");
    REQUIRE(wait_for_tcp(44818, 5s, address));
  }
  std::vector<std::string> args() const { return {gateway_binary(), "run", "-c", (dir / "gateway.toml").string()}; }
  fs::path samples() const { return dir / "state" / "sinks" / "file" / "samples.lp"; }
  std::size_t lines() const { return fs::exists(samples()) ? count_lines(samples()) : 0; }
};

// Samples the gateway has received from a meter so far (/api/status), or -1.
long long received(const std::string& base, const std::string& name = "mcc-1") {
  const auto r = http_get(base + "/api/status");
  std::smatch m;
  const std::regex re("\"name\":\"" + name + "\".*?\"samples\":([0-9]+)");
  if (!std::regex_search(r.output, m, re)) return -1;
  return std::stoll(m[1].str());
}

// The count once it stops growing (nothing more arrives), > 0.
template <typename F>
long long settled(F count) {
  long long n = -1, again = -2;
  REQUIRE(eventually(
      [&] {
        n = count();
        std::this_thread::sleep_for(300ms);
        again = count();
        return n == again && n > 0;
      },
      10s));
  return n;
}

// Runs the gateway until the meter has sent a few hundred samples, stops the meter, reads how
// many samples the gateway received, and kills it with SIGKILL. Returns that number.
long long receive_then_kill(Plant& p) {
  Process gw(p.args());
  const std::string base = status_url(gw);
  REQUIRE_MESSAGE(!base.empty(), gw.log());
  REQUIRE_MESSAGE(eventually([&] { return received(base) >= 300; }, 15s), gw.log());
  CHECK(sim_command(p.control, "fault stop-producing").rfind("ok", 0) == 0);
  const long long n = settled([&] { return received(base); });
  CHECK(p.lines() == 0);  // the sink holds them all in memory
  std::this_thread::sleep_for(300ms);  // past the journal's fsync interval
  gw.signal(SIGKILL);
  gw.wait(5s);
  return n;
}

// Starts the gateway again after a kill: it takes the journaled samples back and the file sink
// writes them; then it stops cleanly.
void recover_and_stop(Plant& p) {
  Process gw(p.args());
  REQUIRE_MESSAGE(eventually([&] { return gw.log().find("taken back from the journal") != std::string::npos; }, 10s),
                  gw.log());
  gw.signal(SIGTERM);
  const auto code = gw.wait(15s);
  INFO(gw.log());
  INFO("exit code ", code.value_or(-1));
  REQUIRE(code == std::optional<int>(0));
}

}  // namespace

TEST_CASE("durability = journal: kill -9 loses nothing the gateway received, and sends it once") {
  Plant p("127.0.6.1", "journal");
  const long long n = receive_then_kill(p);
  recover_and_stop(p);
  CHECK(static_cast<long long>(p.lines()) == n);
}

TEST_CASE("durability = memory (default): the same kill -9 loses what the sink held in memory") {
  Plant p("127.0.6.2", "memory");
  const long long n = receive_then_kill(p);
  CHECK(n > 0);
  Process gw(p.args());
  REQUIRE(!status_url(gw).empty());
  gw.signal(SIGTERM);
  const auto code = gw.wait(15s);
  INFO(gw.log());
  INFO("exit code ", code.value_or(-1));
  REQUIRE(code == std::optional<int>(0));
  CHECK(p.lines() == 0);
}

TEST_CASE("restart gap: a new connection's sequence count is not compared with the old one's") {
  // Stop the gateway (SIGTERM: everything delivered, watermarks written) and start it again.
  // The restarted gateway gets new connections, whose counts start over: the gap is measured
  // by time at the RPI and says so; the count's restart is not taken for lost samples.
  Plant p("127.0.62.5", "memory", "transport = \"point-to-point\"\n");
  std::string log;
  for (int run = 0; run < 2; ++run) {
    Process gw(p.args());
    const std::string base = status_url(gw);
    REQUIRE_MESSAGE(!base.empty(), gw.log());
    REQUIRE_MESSAGE(eventually([&] { return received(base) >= 50; }, 15s), gw.log());
    // The sink holds its batch until the stop: custody, and the gap, come with the flush.
    gw.signal(SIGTERM);
    REQUIRE(gw.wait(15s) == std::optional<int>(0));
    log = gw.log();
  }
  INFO(log);
  CHECK(log.find("RAISED pipeline.restart_gap") != std::string::npos);
  CHECK(log.find("samples missing (by time at RPI 20 ms: a new connection, whose sequence count starts over") !=
        std::string::npos);
  CHECK(log.find("(by sequence count)") == std::string::npos);
}

TEST_CASE("durability = journal: a reload adds a meter and restarts the sink live; kill -9 right after loses nothing") {
  Plant p("127.0.41.40", "journal");
  const std::string second = "127.0.41.41";
  const int control2 = free_tcp_port();
  Process sim2({binary("pm500-sim").string(), "--address", second, "--control-port", std::to_string(control2),
                "--log-format", "text"});
  REQUIRE(wait_for_tcp(44818, 5s, second));
  long long n1 = -1, n2 = -1;
  {
    Process gw(p.args());
    const std::string base = status_url(gw);
    REQUIRE_MESSAGE(!base.empty(), gw.log());
    REQUIRE_MESSAGE(eventually([&] { return received(base) >= 100; }, 15s), gw.log());
    // The reload: a second meter, and the sink's settings changed (it is restarted; the old one
    // writes what it held, the new one holds what follows in memory).
    const fs::path cfg = p.dir / "gateway.toml";
    std::string text = read_file(cfg);
    const auto at = text.find("batch_size = 20000");
    REQUIRE(at != std::string::npos);
    text.replace(at, 18, "batch_size = 20001");
    text += "[[devices]]\nname = \"mcc-2\"\naddress = \"" + second + "\"\nrpi_ms = 20\nassemblies = [101, 102, 107]\n";
    write_file(cfg, text);
    REQUIRE(gw.signal(SIGHUP));
    REQUIRE_MESSAGE(eventually([&] { return gw.log().find("reload done: applied") != std::string::npos; }, 10s),
                    gw.log());
    CHECK(gw.log().find("restart needed") == std::string::npos);
    REQUIRE_MESSAGE(eventually([&] { return received(base, "mcc-2") >= 100; }, 15s), gw.log());
    CHECK(sim_command(p.control, "fault stop-producing").rfind("ok", 0) == 0);
    CHECK(sim_command(control2, "fault stop-producing").rfind("ok", 0) == 0);
    settled([&] { return received(base) + received(base, "mcc-2"); });
    n1 = received(base);
    n2 = received(base, "mcc-2");
    std::this_thread::sleep_for(300ms);  // past the journal's fsync interval
    gw.signal(SIGKILL);
    gw.wait(5s);
  }
  const std::size_t written_before = p.lines();  // what the first sink instance wrote at the reload
  CHECK(written_before > 0);
  recover_and_stop(p);
  // Every sample of both meters once: the lines before the reload, and the rest from the journal.
  CHECK(static_cast<long long>(p.lines()) == n1 + n2);
  const std::string lp = read_file(p.samples());
  std::size_t mcc2 = 0;
  for (std::size_t at = lp.find("asset=mcc-2"); at != std::string::npos; at = lp.find("asset=mcc-2", at + 1)) ++mcc2;
  CHECK(static_cast<long long>(mcc2) == n2);
}
