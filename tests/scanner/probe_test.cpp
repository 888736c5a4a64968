// Back as soon as the device is back: while a device waits in backoff the scanner probes it
// with a TCP connect every probe_interval_ms and reconnects at once when it accepts again,
// whatever the backoff would still wait; a device that accepts TCP but refuses the Forward Open
// is paced by the backoff, not by the probes. Against the in-process simulator on 127.0.30.x.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "cip/scanner.hpp"
#include "recorder.hpp"
#include "simulator.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
using pm500::test::eventually;
using scanner_test::Recorder;

namespace {

struct Rig {
  std::string host;
  std::uint16_t tcp_port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  std::uint16_t udp_port = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  std::unique_ptr<pm500::sim::Simulator> sim;

  explicit Rig(std::string h) : host(std::move(h)) {}
  void start_sim() {
    pm500::sim::MeterOptions m;
    m.address = host;
    m.tcp_port = tcp_port;
    m.udp_port = udp_port;
    m.owner = true;
    pm500::sim::Options o;
    o.meters.push_back(m);
    auto s = pm500::sim::Simulator::start(std::move(o));
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    sim = std::move(*s);
  }
  cip::DeviceSpec spec() const {
    cip::DeviceSpec d;
    d.host = host;
    d.port = tcp_port;
    d.udp_port = udp_port;
    d.assemblies = {101};
    d.rpi_us = 50'000;
    d.timeout_multiplier = 0;  // 200 ms
    return d;
  }
};

// A backoff that never waits less than 60 s on its own: initial = max = 60 s. Only a probe can
// bring a device back within seconds (full jitter draws in [0, 60 s]; the seed fixes them).
cip::ScannerOptions long_backoff() {
  cip::ScannerOptions o;
  o.udp_port = 0;
  o.connect_timeout_ms = 500;
  o.request_timeout_ms = 500;
  o.reconnect_initial_ms = 60'000;
  o.reconnect_max_ms = 60'000;
  o.shutdown_timeout_ms = 500;
  o.jitter_seed = 7;
  o.probe_interval_ms = 1000;  // the default
  return o;
}

using Clock = std::chrono::steady_clock;

// Stops the meter for `outage`, starts it again and returns how long after the restart data
// flowed again (or `limit` when it did not within `limit`).
Clock::duration outage(Rig& rig, Recorder& rec, std::chrono::milliseconds down, std::chrono::milliseconds limit) {
  rig.sim->stop();
  rig.sim.reset();
  std::this_thread::sleep_for(down);
  const auto before = rec.stream(0, 101).count;
  rig.start_sim();
  const auto restarted = Clock::now();
  if (!eventually([&] { return rec.stream(0, 101).count > before; }, limit)) return limit;
  return Clock::now() - restarted;
}

}  // namespace

TEST_CASE("after an outage longer than the first backoff, data flows within 3 s of the meter listening again") {
  Rig rig("127.0.30.1");
  rig.start_sim();
  Recorder rec;
  cip::Scanner scanner(long_backoff(), {rig.spec()}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return rec.stream(0, 101).count >= 3; }, 5s));

  const auto back = outage(rig, rec, 5000ms, 3000ms);
  MESSAGE("data again " << std::chrono::duration_cast<std::chrono::milliseconds>(back).count()
                        << " ms after the restart");
  CHECK(back < 3000ms);
  CHECK(scanner_test::status(scanner, 0).state == cip::DeviceState::running);
  // One reconnect: the probe's. The 60 s backoff never came due.
  CHECK(scanner_test::status(scanner, 0).reconnects == 1);
  scanner.stop();
}

TEST_CASE("a meter whose listener outlives its I/O and then reboots is back within 3 s") {
  // The meter stops producing but still accepts TCP (as an adapter does in the moments before
  // it restarts): the I/O timeout's first probe is accepted, so the device counts as there and
  // failing. The probes must go on: the reboot that follows makes them refused, and the first
  // one accepted after it reconnects at once instead of waiting for the 60 s backoff.
  Rig rig("127.0.30.4");
  rig.start_sim();
  Recorder rec;
  cip::Scanner scanner(long_backoff(), {rig.spec()}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return rec.stream(0, 101).count >= 3; }, 5s));
  REQUIRE(rig.sim->command("fault stop-producing").starts_with("ok"));
  REQUIRE(eventually([&] { return scanner_test::status(scanner, 0).state == cip::DeviceState::backoff; }, 5s));
  std::this_thread::sleep_for(1500ms);  // the first probe answered (accepted) and one more after it

  const auto back = outage(rig, rec, 2500ms, 3000ms);
  MESSAGE("data again " << std::chrono::duration_cast<std::chrono::milliseconds>(back).count()
                        << " ms after the restart");
  CHECK(back < 3000ms);
  CHECK(scanner_test::status(scanner, 0).state == cip::DeviceState::running);
  scanner.stop();
}

TEST_CASE("without probes the same outage waits for the backoff (the control)") {
  Rig rig("127.0.30.2");
  rig.start_sim();
  Recorder rec;
  auto o = long_backoff();
  o.probe_interval_ms = 0;
  cip::Scanner scanner(o, {rig.spec()}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return rec.stream(0, 101).count >= 3; }, 5s));

  const auto back = outage(rig, rec, 2000ms, 3000ms);
  CHECK(back >= 3000ms);
  CHECK(scanner_test::status(scanner, 0).state != cip::DeviceState::running);
  scanner.stop();
}

TEST_CASE("a meter that accepts TCP but refuses the Forward Open keeps its backoff") {
  Rig rig("127.0.30.3");
  rig.start_sim();
  REQUIRE(rig.sim->command("fault refuse 0x01 0x0106").starts_with("ok"));
  Recorder rec;
  cip::ScannerOptions o = long_backoff();
  o.reconnect_initial_ms = 1000;  // ceilings 1, 2, 4, 8 s: about four attempts in 6 s
  o.probe_interval_ms = 100;      // probes driving reconnects would make ~60
  cip::Scanner scanner(o, {rig.spec()}, rec);
  REQUIRE(scanner.start());
  std::this_thread::sleep_for(6s);
  const auto st = scanner_test::status(scanner, 0);
  MESSAGE("reconnects " << st.reconnects << ", refused Forward Opens " << st.forward_open_failures);
  CHECK(st.forward_open_failures >= 1);
  CHECK(st.reconnects <= 6);
  CHECK(st.forward_open_failures <= 7);
  CHECK(rig.sim->stats(0).forward_open_refused <= 7);
  scanner.stop();
}
