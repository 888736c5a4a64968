// The scanner against the in-process simulator (tools/pm500-sim) on loopback: every behaviour
// of the scanner's contract, provoked for real. Each test case uses its own loopback addresses
// and free ports, so it neither needs 44818/2222 nor collides with other suites.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "cip/encap.hpp"
#include "cip/scanner.hpp"
#include "recorder.hpp"
#include "simulator.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
using pm500::test::eventually;
using scanner_test::Recorder;
using cip::DeviceState;
using cip::Fault;

namespace {

struct Rig {
  std::uint16_t tcp_port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  std::uint16_t sim_udp_port = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  std::unique_ptr<pm500::sim::Simulator> sim;

  void start_sim(const std::string& first, std::size_t count, bool owner = true) {
    pm500::sim::MeterOptions base;
    base.tcp_port = tcp_port;
    base.udp_port = sim_udp_port;
    base.owner = owner;
    base.max_connections = 64;
    auto opts = pm500::sim::Options::range(first, count, base);
    auto s = pm500::sim::Simulator::start(std::move(opts));
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    sim = std::move(*s);
  }
  cip::DeviceSpec spec(const std::string& host, std::vector<std::uint16_t> assemblies) const {
    cip::DeviceSpec d;
    d.host = host;
    d.port = tcp_port;
    d.udp_port = sim_udp_port;
    d.assemblies = std::move(assemblies);
    d.rpi_us = 50'000;
    d.timeout_multiplier = 0;  // 200 ms
    d.poll_interval_ms = 200;
    return d;
  }
};

cip::ScannerOptions options() {
  cip::ScannerOptions o;
  o.udp_port = 0;  // any free port: Forward Opens carry Sockaddr Info 0x8001 naming it
  o.connect_timeout_ms = 500;
  o.request_timeout_ms = 500;
  o.reconnect_initial_ms = 50;
  o.reconnect_max_ms = 400;
  o.shutdown_timeout_ms = 1000;
  o.jitter_seed = 99;
  return o;
}

}  // namespace

TEST_CASE("ListIdentity, assembly sizes and explicit reads of every assembly") {
  Rig rig;
  rig.start_sim("127.0.3.1", 1);
  Recorder rec;
  const std::vector<std::uint16_t> all = {100, 101, 102, 103, 104, 105, 106, 107, 108};
  auto spec = rig.spec("127.0.3.1", all);
  spec.mode = cip::Mode::explicit_poll;
  cip::Scanner scanner(options(), {spec}, rec);
  REQUIRE(scanner.start());

  REQUIRE(eventually([&] { return rec.stream(0, 108).count >= 2; }, 5s));
  auto id = rec.identity(0);
  REQUIRE(id);
  CHECK(id->vendor == 1);
  CHECK(id->device_type == 0x92);
  CHECK(id->product_code == 9);
  CHECK(id->product_name == "PowerMonitor 500");
  const std::map<std::uint16_t, std::size_t> bytes = {{101, 48}, {102, 72}, {103, 48}, {104, 68}, {105, 48},
                                                      {106, 68}, {107, 72}, {108, 4}};
  for (auto a : all) {
    CAPTURE(a);
    auto size = rec.size(0, a);
    REQUIRE(size);
    auto s = rec.stream(0, a);
    CHECK(s.explicit_count >= 1);
    CHECK(s.last_size == *size);
    if (bytes.count(a)) CHECK(*size == bytes.at(a));
  }
  auto st = scanner_test::status(scanner, 0);
  CHECK(st.state == DeviceState::running);
  CHECK(st.path_in_use == cip::Mode::explicit_poll);
  CHECK_FALSE(st.fallback_active);
  CHECK(st.path_reason == "explicit polling every 200 ms as configured");
  CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
  scanner.stop();
  CHECK(scanner_test::status(scanner, 0).state == DeviceState::stopped);
}

TEST_CASE("listen-only is accepted while an owner exists: data at the RPI, sequence counts increase") {
  for (bool multicast : {true, false}) {
    CAPTURE(multicast);
    Rig rig;
    const std::string host = multicast ? "127.0.3.11" : "127.0.3.12";
    rig.start_sim(host, 1, /*owner=*/true);
    Recorder rec;
    auto spec = rig.spec(host, {101, 102});
    spec.multicast = multicast;
    cip::Scanner scanner(options(), {spec}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).state == DeviceState::running; }, 5s));
    const auto before = rec.stream(0, 101).count;
    std::this_thread::sleep_for(1s);
    const auto s = rec.stream(0, 101);
    // 50 ms RPI: about 20 in a second; loose bounds for a loaded CI machine.
    CHECK(s.count - before >= 12);
    CHECK(s.count - before <= 30);
    CHECK(s.in_order);
    CHECK(s.last_size == 48);
    CHECK(s.explicit_count == 0);
    CHECK(rec.stream(0, 102).count >= 12);
    auto st = scanner_test::status(scanner, 0);
    CHECK(st.path_in_use == cip::Mode::listen_only);
    CHECK(st.path_reason == "listen-only as configured");
    CHECK(st.connections_open == 2);
    // Heartbeats at the default O->T RPI of 1 s, not the 50 ms T->O RPI: one per connection at
    // once, then one a second (about 40 datagrams arrived meanwhile).
    CHECK(st.heartbeats >= 2);
    CHECK(st.heartbeats <= 8);
    const auto sim = rig.sim->stats(0);
    CHECK(sim.listeners == 2);
    CHECK(sim.heartbeats_received >= 2);
    CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
    // Timestamps are the kernel's receive time on CLOCK_REALTIME: close to now.
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const std::int64_t now_ns = std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
    CHECK(now_ns - s.last_ns < 1'000'000'000);
    CHECK(s.last_ns > s.first_ns);
  }
}

TEST_CASE("the target's Sockaddr Info is obeyed: multicast arrives on its port 2222 while udp_port is another") {
  // Like a real adapter, the simulator produces multicast T->O on 2222 whatever port the Forward
  // Open named, and says so in its reply. The simulated meters own UDP 2222 on their own
  // addresses, as a meter on another host would; the scanner binds another udp_port and also
  // receives on 0.0.0.0:2222 for the groups it joined.
  Rig rig;
  rig.sim_udp_port = cip::udp_io_port;
  rig.start_sim("127.0.29.1", 2, /*owner=*/true);
  Recorder rec;
  auto mc = rig.spec("127.0.29.1", {101, 102});
  mc.multicast = true;
  auto p2p = rig.spec("127.0.29.2", {101});
  p2p.multicast = false;
  auto opt = options();
  opt.udp_port = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  REQUIRE(opt.udp_port != cip::udp_io_port);
  cip::Scanner scanner(opt, {mc, p2p}, rec);
  REQUIRE(scanner.start());
  CHECK(scanner.udp_port() == opt.udp_port);
  REQUIRE(eventually([&] { return rec.stream(0, 102).count >= 10 && rec.stream(1, 101).count >= 10; }, 5s));
  const auto st = scanner_test::status(scanner, 0);
  CHECK(st.state == DeviceState::running);
  CHECK(st.connections_open == 2);
  REQUIRE(st.connections.size() == 2);
  for (const auto& c : st.connections) {
    CHECK((c.t_o_group >> 24) == 239u);
    CHECK(c.t_o_port == cip::udp_io_port);
  }
  CHECK(rec.stream(0, 101).in_order);
  CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
  // Point-to-point goes where the Forward Open asked: the scanner's own port, no warning.
  const auto pst = scanner_test::status(scanner, 1);
  CHECK(pst.state == DeviceState::running);
  REQUIRE(pst.connections.size() == 1);
  CHECK(pst.connections[0].t_o_group == 0);
  CHECK_MESSAGE(rec.faults(1).empty(), rec.fault_texts(1));
  scanner.stop();
}

TEST_CASE("lone listen-only is refused with 0x0119, named, and the configured fallback takes over") {
  SUBCASE("fallback explicit") {
    Rig rig;
    rig.start_sim("127.0.3.21", 1, /*owner=*/false);
    Recorder rec;
    auto spec = rig.spec("127.0.3.21", {101});
    spec.fallback = cip::Fallback::explicit_poll;
    cip::Scanner scanner(options(), {spec}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.stream(0, 101).explicit_count >= 2; }, 5s));
    auto st = scanner_test::status(scanner, 0);
    CHECK(st.state == DeviceState::running);
    CHECK(st.configured == cip::Mode::listen_only);
    CHECK(st.path_in_use == cip::Mode::explicit_poll);
    CHECK(st.fallback_active);
    INFO(st.path_reason);
    CHECK(st.path_reason.find("listen-only refused 0x01/0x0119 non-listen-only connection not opened") == 0);
    CHECK(st.path_reason.find("fell back to explicit polling every 200 ms") != std::string::npos);
    CHECK(st.forward_open_failures == 1);
    CHECK(rig.sim->stats(0).forward_open_refused == 1);
    CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));  // data flows: a path, not a fault
  }
  SUBCASE("fallback input-only") {
    Rig rig;
    rig.start_sim("127.0.3.22", 1, /*owner=*/false);
    Recorder rec;
    auto spec = rig.spec("127.0.3.22", {101, 107});
    spec.fallback = cip::Fallback::input_only;
    cip::Scanner scanner(options(), {spec}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.stream(0, 107).count >= 5; }, 5s));
    auto st = scanner_test::status(scanner, 0);
    CHECK(st.path_in_use == cip::Mode::input_only);
    CHECK(st.path_reason.find("fell back to input-only") != std::string::npos);
    CHECK(rec.stream(0, 101).explicit_count == 0);
    CHECK(rig.sim->stats(0).owners == 2);
  }
  SUBCASE("no fallback: a fault naming the status") {
    Rig rig;
    rig.start_sim("127.0.3.23", 1, /*owner=*/false);
    Recorder rec;
    auto spec = rig.spec("127.0.3.23", {101});
    spec.fallback = cip::Fallback::none;
    cip::Scanner scanner(options(), {spec}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.fault(0, Fault::Kind::forward_open_refused).has_value(); }, 5s));
    auto f = *rec.fault(0, Fault::Kind::forward_open_refused);
    CHECK(f.general == 0x01);
    CHECK(f.extended == 0x0119);
    CHECK(f.assembly == 101);
    CHECK(f.text.find("non-listen-only connection not opened") != std::string::npos);
    // Retries with backoff, but the fault is reported once.
    REQUIRE(eventually([&] { return rig.sim->stats(0).forward_open_refused >= 3; }, 5s));
    std::size_t n = 0;
    for (auto& x : rec.faults(0)) n += x.kind == Fault::Kind::forward_open_refused;
    CHECK(n == 1);
    CHECK(scanner_test::status(scanner, 0).reconnects >= 2);
    // An owner appears: listen-only works, the fault clears.
    CHECK(rig.sim->command("owner on").rfind("ok", 0) == 0);
    REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).state == DeviceState::running; }, 5s));
    CHECK(rec.was_cleared(0, Fault::Kind::forward_open_refused));
    CHECK(scanner_test::status(scanner, 0).path_in_use == cip::Mode::listen_only);
  }
}

TEST_CASE("an I/O timeout is detected when the meter stops producing; the scanner reconnects when it resumes") {
  Rig rig;
  rig.start_sim("127.0.3.31", 1);
  Recorder rec;
  cip::Scanner scanner(options(), {rig.spec("127.0.3.31", {102})}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).state == DeviceState::running; }, 5s));
  CHECK(rig.sim->command("fault stop-producing").rfind("ok", 0) == 0);
  REQUIRE(eventually([&] { return rec.fault(0, Fault::Kind::io_timeout).has_value(); }, 3s));
  auto f = *rec.fault(0, Fault::Kind::io_timeout);
  CHECK(f.assembly == 102);
  CHECK(f.text.find("200 ms (RPI 50 ms x 4 x 2^0)") != std::string::npos);
  CHECK(scanner_test::status(scanner, 0).state != DeviceState::running);
  CHECK(scanner_test::status(scanner, 0).timeouts >= 1);
  // Still nothing: the scanner keeps trying (Forward Open works, data never comes) without
  // reporting the same fault again.
  std::this_thread::sleep_for(800ms);
  CHECK(rec.faults(0).size() == 1);
  const auto packets = rec.stream(0, 102).count;
  CHECK(rig.sim->command("fault resume-producing").rfind("ok", 0) == 0);
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).state == DeviceState::running; }, 5s));
  REQUIRE(eventually([&] { return rec.stream(0, 102).count > packets + 5; }, 3s));
  CHECK(rec.was_cleared(0, Fault::Kind::io_timeout));
  CHECK(scanner_test::status(scanner, 0).reconnects >= 1);
}

TEST_CASE("stop() sends Forward Close for every connection and unregisters the session") {
  Rig rig;
  rig.start_sim("127.0.3.41", 1);
  Recorder rec;
  cip::Scanner scanner(options(), {rig.spec("127.0.3.41", {101, 102, 107})}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).connections_open == 3; }, 5s));
  CHECK(rig.sim->stats(0).connections == 3);
  const auto t0 = std::chrono::steady_clock::now();
  scanner.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 1500ms);
  CHECK(scanner_test::status(scanner, 0).state == DeviceState::stopped);
  REQUIRE(eventually([&] { return rig.sim->stats(0).sessions == 0; }, 2s));
  const auto sim = rig.sim->stats(0);
  CHECK(sim.forward_close == 3);
  CHECK(sim.connections == 0);
  CHECK(sim.timeouts == 0);
}

TEST_CASE("another device at the address is not scanned and is reported as such") {
  SUBCASE("another vendor and type") {
    Rig rig;
    rig.start_sim("127.0.3.51", 1);
    CHECK(rig.sim->command("fault identity 42 12 77").rfind("ok", 0) == 0);
    Recorder rec;
    cip::Scanner scanner(options(), {rig.spec("127.0.3.51", {101})}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.fault(0, Fault::Kind::wrong_identity).has_value(); }, 5s));
    auto f = *rec.fault(0, Fault::Kind::wrong_identity);
    CHECK(f.text.find("another device answers at this address") == 0);
    CHECK(f.text.find("vendor 42, device type 0x0C, product code 77") != std::string::npos);
    // The fault reaches the recorder before the device's published state moves on (both from
    // the scanner thread, the state a moment later): wait for the state rather than race it.
    CHECK(eventually([&] { return scanner_test::status(scanner, 0).state == DeviceState::wrong_device; }, 2s));
    std::this_thread::sleep_for(300ms);
    CHECK(rig.sim->stats(0).forward_open_ok == 0);
    CHECK(rec.stream(0, 101).count == 0);
  }
  SUBCASE("a PowerMonitor 500 of another catalog number than configured") {
    Rig rig;
    rig.start_sim("127.0.3.52", 1);  // product code 9
    Recorder rec;
    auto spec = rig.spec("127.0.3.52", {101});
    spec.product_code = 4;
    cip::Scanner scanner(options(), {spec}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.fault(0, Fault::Kind::wrong_identity).has_value(); }, 5s));
    CHECK(rec.fault(0, Fault::Kind::wrong_identity)->text.find("product code 4)") != std::string::npos);
  }
}

TEST_CASE("electronic key: the meter checks it and accepts its own identity") {
  Rig rig;
  rig.start_sim("127.0.3.55", 1);
  Recorder rec;
  auto spec = rig.spec("127.0.3.55", {101});
  spec.electronic_key = true;
  cip::Scanner scanner(options(), {spec}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).state == DeviceState::running; }, 5s));
}

TEST_CASE("connect refused, connect timed out and a silent session are told apart") {
  Rig rig;
  rig.start_sim("127.0.3.61", 1);
  CHECK(rig.sim->command("fault silent-tcp on").rfind("ok", 0) == 0);

  // A listener whose accept queue is full: the kernel drops further SYNs, so the connect
  // times out (as with a firewall that drops), rather than being refused.
  const std::uint16_t full_port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in la{};
  la.sin_family = AF_INET;
  la.sin_port = htons(full_port);
  ::inet_pton(AF_INET, "127.0.3.62", &la.sin_addr);
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&la), sizeof la) == 0);
  REQUIRE(::listen(lfd, 0) == 0);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(c, reinterpret_cast<sockaddr*>(&la), sizeof la);
    fillers.push_back(c);
  }
  std::this_thread::sleep_for(100ms);

  Recorder rec;
  auto refused = rig.spec("127.0.3.63", {101});  // nothing listens there
  auto timed_out = rig.spec("127.0.3.62", {101});
  timed_out.port = full_port;
  auto silent = rig.spec("127.0.3.61", {101});
  cip::Scanner scanner(options(), {refused, timed_out, silent}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return rec.fault(0, Fault::Kind::connect_refused).has_value(); }, 3s));
  REQUIRE(eventually([&] { return rec.fault(1, Fault::Kind::connect_timeout).has_value(); }, 3s));
  REQUIRE(eventually([&] { return rec.fault(2, Fault::Kind::request_timeout).has_value(); }, 3s));
  INFO(scanner_test::describe(rec.faults(0)) << scanner_test::describe(rec.faults(1)) << scanner_test::describe(rec.faults(2)));
  CHECK(rec.fault(0, Fault::Kind::connect_refused)->text.find("ECONNREFUSED") != std::string::npos);
  CHECK(rec.fault(1, Fault::Kind::connect_timeout)->text.find("within 500 ms") != std::string::npos);
  CHECK(rec.fault(2, Fault::Kind::request_timeout)->text.find("RegisterSession") == 0);
  CHECK(rec.faults(0).size() == 1);
  CHECK(rec.faults(1).size() == 1);
  CHECK(rec.faults(2).size() == 1);
  CHECK_FALSE(rec.fault(0, Fault::Kind::connect_timeout));
  CHECK_FALSE(rec.fault(1, Fault::Kind::connect_refused));

  // The silent meter speaks again: its session comes up and the fault clears.
  CHECK(rig.sim->command("fault silent-tcp off").rfind("ok", 0) == 0);
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 2).state == DeviceState::running; }, 5s));
  CHECK(rec.was_cleared(2, Fault::Kind::request_timeout));
  scanner.stop();
  for (int c : fillers) ::close(c);
  ::close(lfd);
}

TEST_CASE("a session that stops answering while Class 1 data flows is reported once; data keeps flowing; it clears") {
  Rig rig;
  rig.start_sim("127.0.5.30", 1);
  Recorder rec;
  auto opt = options();
  opt.session_check_ms = 200;
  opt.request_timeout_ms = 400;
  auto spec = rig.spec("127.0.5.30", {101, 102});
  spec.timeout_multiplier = 2;  // 800 ms I/O timeout: headroom on a loaded machine
  cip::Scanner scanner(opt, {spec}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).state == DeviceState::running; }, 5s));
  // A healthy session answers every check: nothing is raised.
  std::this_thread::sleep_for(700ms);
  INFO(scanner_test::describe(rec.faults(0)));
  CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
  CHECK(rig.sim->stats(0).sessions == 1);

  // The meter's TCP side goes silent; its Class 1 production and our heartbeats go on.
  CHECK(rig.sim->command("fault silent-tcp on").rfind("ok", 0) == 0);
  REQUIRE(eventually([&] { return rec.fault(0, Fault::Kind::session_unanswered).has_value(); }, 3s));
  const auto f = *rec.fault(0, Fault::Kind::session_unanswered);
  CHECK(f.text.find("EtherNet/IP session with 127.0.5.30:") == 0);
  CHECK(f.text.find("Get_Attribute_Single (Identity attribute 1, the session check)") != std::string::npos);
  CHECK(f.text.find("unanswered after 400 ms") != std::string::npos);
  CHECK(f.text.find("Class 1 data for assemblies 101, 102 (listen-only) keeps arriving") != std::string::npos);
  CHECK(std::string(cip::to_string(f.kind)) == "session_unanswered");

  // Several tries to register a new session fail meanwhile; none of it touches the data.
  const auto before = rec.stream(0, 101).count;
  std::this_thread::sleep_for(1500ms);
  CHECK(rec.stream(0, 101).count >= before + 12);  // 50 ms RPI: about 30
  CHECK(rec.stream(0, 101).in_order);
  auto st = scanner_test::status(scanner, 0);
  CHECK(st.state == DeviceState::running);
  CHECK(st.connections_open == 2);
  CHECK(st.reconnects == 0);
  CHECK(rig.sim->stats(0).forward_open_ok == 2);  // never re-opened
  CHECK_FALSE(rec.fault(0, Fault::Kind::io_timeout));
  std::size_t raised = 0;
  for (const auto& x : rec.faults(0)) raised += x.kind == Fault::Kind::session_unanswered;
  CHECK(raised == 1);  // once, not once per try
  CHECK_FALSE(rec.was_cleared(0, Fault::Kind::session_unanswered));

  // The meter answers again: the next try registers a session and the fault clears.
  CHECK(rig.sim->command("fault silent-tcp off").rfind("ok", 0) == 0);
  REQUIRE(eventually([&] { return rec.was_cleared(0, Fault::Kind::session_unanswered); }, 3s));
  REQUIRE(eventually([&] { return rig.sim->stats(0).sessions == 1; }, 2s));
  st = scanner_test::status(scanner, 0);
  CHECK(st.state == DeviceState::running);
  CHECK(st.connections_open == 2);
  CHECK(rig.sim->stats(0).forward_open_ok == 2);
  // Checks go on on the new session without raising anything.
  std::this_thread::sleep_for(600ms);
  raised = 0;
  for (const auto& x : rec.faults(0)) raised += x.kind == Fault::Kind::session_unanswered;
  CHECK(raised == 1);
  // stop() closes the connections on the new session.
  scanner.stop();
  REQUIRE(eventually([&] { return rig.sim->stats(0).forward_close == 2; }, 2s));
}

TEST_CASE("200 simulated meters, one scanner thread, all running") {
  Rig rig;
  constexpr std::size_t n = 200;
  rig.start_sim("127.0.4.1", n);
  Recorder rec;
  std::vector<cip::DeviceSpec> specs;
  for (std::size_t i = 0; i < n; ++i) {
    auto s = rig.spec("127.0.4." + std::to_string(1 + i), {101, 107});
    s.rpi_us = 100'000;
    s.timeout_multiplier = 2;  // 1.6 s: headroom for a loaded test machine
    specs.push_back(s);
  }
  auto o = options();
  o.request_timeout_ms = 3000;
  o.connect_timeout_ms = 3000;
  cip::Scanner scanner(o, specs, rec);
  REQUIRE(scanner.start());
  auto running = [&] {
    std::size_t r = 0;
    for (auto& s : scanner.snapshot()) r += s.state == DeviceState::running;
    return r;
  };
  REQUIRE_MESSAGE(eventually([&] { return running() == n; }, 30s), "running: " << running());
  std::this_thread::sleep_for(1s);
  CHECK(running() == n);
  std::uint64_t timeouts = 0;
  for (auto& s : scanner.snapshot()) timeouts += s.timeouts;
  CHECK(timeouts == 0);
  for (std::uint32_t i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(rec.stream(i, 101).count >= 5);
    CHECK(rec.stream(i, 107).in_order);
  }
  pm500::sim::MeterStats total;
  for (std::size_t i = 0; i < n; ++i) total += rig.sim->stats(i);
  CHECK(total.listeners == 2 * n);
  scanner.stop();
  REQUIRE(eventually([&] {
    pm500::sim::MeterStats t;
    for (std::size_t i = 0; i < n; ++i) t += rig.sim->stats(i);
    return t.forward_close == 2 * n;
  }, 5s));
}

// ---------------------------------------------------------------------------------------------
// Identity, connection points and real-time formats from the device's profile; size refusals.

namespace {

// One simulated meter on `host` played from `profile` ("" = the PowerMonitor 500), demanding
// the T->O / O->T real-time formats given ("" = the profile's).
std::unique_ptr<pm500::sim::Simulator> start_device(Rig& rig, const std::string& host, const std::string& profile,
                                                    const std::string& t_o_header = "",
                                                    const std::string& o_t_header = "") {
  pm500::sim::MeterOptions m;
  m.address = host;
  m.tcp_port = rig.tcp_port;
  m.udp_port = rig.sim_udp_port;
  m.profile_path = profile;
  m.product_code = 0;
  m.t_o_header = t_o_header;
  m.o_t_header = o_t_header;
  auto s = pm500::sim::Simulator::start(pm500::sim::Options::range(host, 1, m));
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  return std::move(*s);
}

std::string sample_adapter() { return (pm500::test::source_dir() / "etc/profiles/sample-adapter.toml").string(); }

// The sample adapter's identity and connection values, as the gateway takes them from its profile.
cip::DeviceSpec adapter_spec(const Rig& rig, const std::string& host) {
  auto d = rig.spec(host, {100});
  d.mode = cip::Mode::input_only;
  d.identity = {.device = "sample adapter", .vendor = 65000, .device_type = 0x0C, .product_codes = {1},
                .product_name = "*Sample Adapter*"};
  d.config_instance = 151;
  d.input_only_point = 152;
  d.listen_only_point = 153;
  d.o_t_run_idle_header = true;
  return d;
}

bool fault_with(Recorder& rec, Fault::Kind k, const std::string& part) {
  for (const auto& f : rec.faults(0))
    if (f.kind == k && f.text.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a sample adapter from its profile: configuration 151, heartbeat 152 with a run/idle header, 32 bytes") {
  Rig rig;
  rig.sim = start_device(rig, "127.0.40.11", sample_adapter());
  Recorder rec;
  cip::Scanner scanner(options(), {adapter_spec(rig, "127.0.40.11")}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return rec.stream(0, 100).count >= 3; }, 5s));
  auto id = rec.identity(0);
  REQUIRE(id);
  CHECK(id->vendor == 65000);
  CHECK(id->device_type == 0x0C);
  CHECK(id->product_name == "EtherNet/IP Sample Adapter");
  CHECK(rec.stream(0, 100).last_size == 32);
  auto st = scanner_test::status(scanner, 0);
  CHECK(st.state == DeviceState::running);
  CHECK(st.format_note.empty());
  // The adapter's watchdog is fed: its heartbeats (6 bytes, run) arrive.
  REQUIRE(eventually([&] { return rig.sim->stats(0).heartbeats_received >= 2; }, 5s));
  CHECK(rig.sim->stats(0).owners == 1);
  CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
}

TEST_CASE("the sample adapter refuses the PowerMonitor 500's numbers as a real adapter does") {
  Rig rig;
  rig.sim = start_device(rig, "127.0.40.12", sample_adapter());
  SUBCASE("a PowerMonitor 500 is expected: another device answers") {
    Recorder rec;
    auto d = rig.spec("127.0.40.12", {100});
    cip::Scanner scanner(options(), {d}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return fault_with(rec, Fault::Kind::wrong_identity, "expected a PowerMonitor 500"); },
                       5s));
  }
  SUBCASE("configuration instance 1: 0x01/0x0315, a path error") {
    Recorder rec;
    auto d = adapter_spec(rig, "127.0.40.12");
    d.config_instance = 1;
    cip::Scanner scanner(options(), {d}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return fault_with(rec, Fault::Kind::path_error, "0x01/0x0315"); }, 5s));
    CHECK(rec.stream(0, 100).count == 0);
  }
  SUBCASE("heartbeat point 98: 0x01/0x012F, a path error") {
    Recorder rec;
    auto d = adapter_spec(rig, "127.0.40.12");
    d.input_only_point = 98;
    cip::Scanner scanner(options(), {d}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return fault_with(rec, Fault::Kind::path_error, "0x01/0x012F"); }, 5s));
  }
}

TEST_CASE("a size refusal that a run/idle header explains is retried at once in that format and noted") {
  Rig rig;
  SUBCASE("T->O: the meter wants its data with a 32-bit run/idle header (0x0128, 54 for assembly 101)") {
    rig.sim = start_device(rig, "127.0.40.13", "", "run_idle");
    Recorder rec;
    cip::Scanner scanner(options(), {rig.spec("127.0.40.13", {101})}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.stream(0, 101).count >= 3; }, 5s));
    CHECK(rec.stream(0, 101).last_size == 48);  // the header is taken off: the assembly's bytes
    auto st = scanner_test::status(scanner, 0);
    CHECK(st.state == DeviceState::running);
    CHECK(st.format_note.find("T->O with a 32-bit run/idle header") != std::string::npos);
    CHECK(st.format_note.find("at 50 bytes and the device asked for 54") != std::string::npos);
    CHECK(st.path_reason.find(st.format_note) != std::string::npos);
    CHECK(rig.sim->stats(0).forward_open_refused == 1);
    CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
  }
  SUBCASE("O->T: the meter wants heartbeats with a run/idle header (0x0127, 6)") {
    rig.sim = start_device(rig, "127.0.40.14", "", "", "run_idle");
    Recorder rec;
    cip::Scanner scanner(options(), {rig.spec("127.0.40.14", {101})}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.stream(0, 101).count >= 3; }, 5s));
    CHECK(scanner_test::status(scanner, 0).format_note.find("O->T with a 32-bit run/idle header") !=
          std::string::npos);
  }
  SUBCASE("a header the meter does not want is taken away") {
    rig.sim = start_device(rig, "127.0.40.15", "");
    Recorder rec;
    auto d = rig.spec("127.0.40.15", {101});
    d.run_idle_header = true;
    cip::Scanner scanner(options(), {d}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.stream(0, 101).count >= 3; }, 5s));
    CHECK(scanner_test::status(scanner, 0).format_note.find("T->O without a 32-bit run/idle header") !=
          std::string::npos);
  }
}

TEST_CASE("a size refusal no header explains names both sizes and the profile key, and is not retried at once") {
  Rig rig;
  rig.sim = start_device(rig, "127.0.40.16", "");
  REQUIRE(rig.sim->command("fault t-o-size 60").starts_with("ok"));
  Recorder rec;
  auto d = rig.spec("127.0.40.16", {101});
  d.profile = "site.toml";
  cip::Scanner scanner(options(), {d}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return fault_with(rec, Fault::Kind::forward_open_refused, "the device wants 62 bytes"); },
                     5s));
  CHECK(fault_with(rec, Fault::Kind::forward_open_refused, "asked for 50 bytes (48 data + 2 sequence count)"));
  CHECK(fault_with(rec, Fault::Kind::forward_open_refused, "assembly.101.size_bytes"));
  CHECK(fault_with(rec, Fault::Kind::forward_open_refused, "the profile site.toml"));
  CHECK(scanner_test::status(scanner, 0).format_note.empty());
  CHECK(rec.stream(0, 101).count == 0);
}

TEST_CASE("reconfigure: added devices open, removed ones close, changed ones reopen, unchanged ones are untouched") {
  Rig rig;
  rig.start_sim("127.0.62.10", 3);
  Recorder rec;
  auto a = rig.spec("127.0.62.10", {101, 102});
  auto b = rig.spec("127.0.62.11", {101});
  cip::Scanner scanner(options(), {a, b}, rec);
  REQUIRE(scanner.start());
  auto running = [&](std::uint32_t i) { return scanner_test::status(scanner, i).state == DeviceState::running; };
  REQUIRE(eventually([&] { return running(0) && running(1); }, 5s));
  const auto a_before = scanner_test::status(scanner, 0);
  const auto a_id = a_before.connections.at(0).t_o_id;

  // a unchanged, b changed (another RPI), c added.
  auto b2 = b;
  b2.rpi_us = 100'000;
  auto c = rig.spec("127.0.62.12", {107});
  REQUIRE(scanner.reconfigure({a, b2, c}));
  REQUIRE(eventually([&] { return scanner.snapshot().size() == 3 && running(2) && rec.stream(2, 107).count >= 3; }, 5s));
  REQUIRE(eventually([&] { return running(1) && scanner_test::status(scanner, 1).forward_opens == 2; }, 5s));
  CHECK(rig.sim->stats(1).forward_close == 1);  // b's old connection was closed, not dropped
  const auto b_now = scanner_test::status(scanner, 1);
  REQUIRE(b_now.connections.size() == 1);
  CHECK(b_now.connections[0].t_o_api_us == 100'000);
  // a kept its connections and session: no Forward Open, no Forward Close, the same id, data on.
  const std::uint64_t a_packets = scanner_test::status(scanner, 0).packets;
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).packets >= a_packets + 5; }, 5s));
  auto a_now = scanner_test::status(scanner, 0);
  CHECK(a_now.forward_opens == a_before.forward_opens);
  CHECK(a_now.reconnects == a_before.reconnects);
  CHECK(a_now.connections.at(0).t_o_id == a_id);
  CHECK(rig.sim->stats(0).forward_close == 0);
  CHECK(rec.stream(0, 101).in_order);

  // b removed (nullopt), a and c stay: b is stopped after a Forward Close, its index kept.
  REQUIRE(scanner.reconfigure({a, std::nullopt, c}));
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 1).state == DeviceState::stopped; }, 5s));
  CHECK(eventually([&] { return rig.sim->stats(1).forward_close == 2; }, 5s));
  CHECK(eventually([&] { return scanner_test::status(scanner, 1).connections_open == 0; }, 2s));
  const std::uint64_t b_packets = scanner_test::status(scanner, 1).packets;
  std::this_thread::sleep_for(300ms);
  CHECK(scanner_test::status(scanner, 1).packets == b_packets);  // nothing more from it
  CHECK(running(0));
  CHECK(running(2));
  CHECK(scanner_test::status(scanner, 0).forward_opens == a_before.forward_opens);

  // A spec the scanner refuses changes nothing.
  auto bad = a;
  bad.rpi_us = 0;
  auto refused = scanner.reconfigure({bad, std::nullopt, c});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find("rpi_us") != std::string::npos);
  scanner.stop();
  CHECK(rig.sim->stats(0).forward_close == 2);  // a closed at the stop, only then
}

TEST_CASE("reconfigure: the receive buffer follows the devices added, at receive_buffer_ms of their datagrams") {
  Rig rig;
  rig.start_sim("127.0.72.10", 3);
  Recorder rec;
  auto opts = options();
  // 2 connections at 50 ms = 40 datagrams/s x 1,280 B x 60 s = 3,072,000 B; above the 1 MiB floor.
  opts.receive_buffer_ms = 60'000;
  cip::Scanner scanner(opts, {rig.spec("127.0.72.10", {101, 102})}, rec);
  REQUIRE(scanner.start());
  CHECK(scanner.receive_stats().buffer_wanted == 40u * cip::receive_buffer_datagram_bytes * 60);
  const std::uint32_t granted = scanner.receive_stats().buffer_granted;
  // Two more meters, five more connections: 140 datagrams/s.
  REQUIRE(scanner.reconfigure({rig.spec("127.0.72.10", {101, 102}), rig.spec("127.0.72.11", {101, 102, 107}),
                               rig.spec("127.0.72.12", {101, 107})}));
  const std::uint32_t want = 140u * cip::receive_buffer_datagram_bytes * 60;
  CHECK(eventually([&] { return scanner.receive_stats().buffer_wanted == want; }, 5s));
  // Granted: as asked, unless net.core.rmem_max (without CAP_NET_ADMIN) caps it; so at least as before.
  CHECK(scanner.receive_stats().buffer_granted >= granted);
  scanner.stop();
}
