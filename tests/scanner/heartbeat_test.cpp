// O->T heartbeats against the simulator's watchdog (cip/README.md, "O->T heartbeat RPI"): with
// the default heartbeat RPI a listen-only connection at T->O RPI 100 ms sends at most one
// heartbeat per eight datagrams it receives and is never timed out; heartbeats follow the O->T
// API of the Forward Open reply, so one the meter's watchdog does not allow gets the connection
// dropped.
#include <doctest/doctest.h>

#include <thread>

#include "cip/scanner.hpp"
#include "recorder.hpp"
#include "simulator.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
using pm500::test::eventually;
using scanner_test::Recorder;

namespace {

// `count` simulated meters from 127.0.21.<first>, on ports of their own.
struct Meters {
  std::uint16_t tcp = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  std::uint16_t udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  std::string first;
  std::unique_ptr<pm500::sim::Simulator> sim;

  Meters(int first_host, std::size_t count) : first("127.0.21." + std::to_string(first_host)) {
    pm500::sim::MeterOptions base;
    base.tcp_port = tcp;
    base.udp_port = udp;
    auto s = pm500::sim::Simulator::start(pm500::sim::Options::range(first, count, base));
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    sim = std::move(*s);
  }
  // Listen-only, multicast, three assemblies: the gateway's usual connection.
  cip::DeviceSpec device(int i, std::uint32_t rpi_us) const {
    cip::DeviceSpec d;
    d.host = "127.0.21." + std::to_string(std::stoi(first.substr(first.rfind('.') + 1)) + i);
    d.port = tcp;
    d.udp_port = udp;
    d.assemblies = {101, 102, 107};
    d.rpi_us = rpi_us;
    return d;
  }
};

cip::ScannerOptions scanner_options() {
  cip::ScannerOptions o;
  o.udp_port = 0;
  o.reconnect_initial_ms = 50;
  o.reconnect_max_ms = 300;
  o.jitter_seed = 21;
  return o;
}

bool all_running(const cip::Scanner& s) {
  for (const auto& d : s.snapshot())
    if (d.state != cip::DeviceState::running) return false;
  return true;
}

}  // namespace

TEST_CASE("default heartbeat RPI at T->O RPI 100 ms: at most one heartbeat per eight datagrams, no drop") {
  Meters meters(20, 2);
  Recorder rec;
  auto by_default = meters.device(0, 100'000);
  REQUIRE(by_default.heartbeat_rpi_us == cip::heartbeat_rpi_default_us);
  // For comparison, the earlier behaviour: the O->T RPI equal to the T->O RPI.
  auto as_before = meters.device(1, 100'000);
  as_before.heartbeat_rpi_us = as_before.rpi_us;
  cip::Scanner scanner(scanner_options(), {by_default, as_before}, rec);
  REQUIRE(scanner.start());
  REQUIRE(eventually([&] { return all_running(scanner); }, 5s));

  const auto t0 = scanner.snapshot();
  std::this_thread::sleep_for(3s);
  const auto t1 = scanner.snapshot();
  auto received = [&](std::size_t d) {
    return (t1[d].packets + t1[d].stale_packets) - (t0[d].packets + t0[d].stale_packets);
  };
  auto heartbeats = [&](std::size_t d) { return t1[d].heartbeats - t0[d].heartbeats; };
  MESSAGE("heartbeats per received datagram: default ", heartbeats(0), "/", received(0), ", O->T RPI = T->O RPI ",
          heartbeats(1), "/", received(1));
  // 3 connections x ~30 datagrams; at most one heartbeat per connection beyond the ratio, for
  // where the window's edges fall.
  CHECK(received(0) >= 60);
  CHECK(heartbeats(0) >= 3);  // they do go out
  CHECK(heartbeats(0) <= received(0) / 8 + 3);
  CHECK(heartbeats(1) * 10 >= received(1) * 8);  // the measure tells the two apart
  for (std::size_t d = 0; d < 2; ++d) {
    CAPTURE(d);
    CHECK(t1[d].timeouts == 0);
    CHECK(t1[d].reconnects == 0);
    CHECK(t1[d].connections_open == 3);
    CHECK(meters.sim->stats(d).timeouts == 0);
    CHECK(meters.sim->stats(d).listeners == 3);
  }
  INFO(scanner_test::describe(rec.faults(0)));
  CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
}

TEST_CASE("heartbeats follow the O->T API of the reply; one longer than the meter's watchdog gets the connection dropped") {
  Meters meters(30, 3);
  // Meter 0 announces 10 x the O->T RPI while its watchdog stays at RPI x 8: heartbeats every
  // 500 ms against a 400 ms watchdog. Meter 1 announces a fifth of it: heartbeats every 200 ms
  // where the RPI asked for is 1 s. Meter 2 is honest.
  REQUIRE(meters.sim->command("fault o-t-api 1000 0").rfind("ok", 0) == 0);
  REQUIRE(meters.sim->command("fault o-t-api 20 1").rfind("ok", 0) == 0);
  auto too_long = meters.device(0, 50'000);
  too_long.heartbeat_rpi_us = 50'000;  // x 4 x 2^1: a 400 ms watchdog
  auto faster = meters.device(1, 50'000);
  auto honest = meters.device(2, 50'000);
  honest.heartbeat_rpi_us = 50'000;
  Recorder rec;
  cip::Scanner scanner(scanner_options(), {too_long, faster, honest}, rec);
  REQUIRE(scanner.start());

  // Meter 0 drops the connections; the scanner sees its data stop and reconnects.
  REQUIRE(eventually([&] { return meters.sim->stats(0).timeouts >= 3; }, 5s));
  REQUIRE(eventually([&] { return rec.fault(0, cip::Fault::Kind::io_timeout).has_value(); }, 3s));
  CHECK(rec.fault(0, cip::Fault::Kind::io_timeout)->text.find("no Class 1 data") == 0);

  REQUIRE(eventually([&] {
    const auto s = scanner.snapshot();
    return s[1].state == cip::DeviceState::running && s[2].state == cip::DeviceState::running;
  }, 5s));
  const auto t0 = scanner.snapshot();
  std::this_thread::sleep_for(2s);
  const auto t1 = scanner.snapshot();
  for (std::size_t d = 1; d < 3; ++d) {
    CAPTURE(d);
    CHECK(meters.sim->stats(d).timeouts == 0);
    CHECK(t1[d].timeouts == 0);
    CHECK(t1[d].connections_open == 3);
  }
  // 3 connections x 2 s / 200 ms = 30 at the announced API; 6 at the RPI asked for.
  const auto faster_heartbeats = t1[1].heartbeats - t0[1].heartbeats;
  CHECK(faster_heartbeats >= 21);
  CHECK(faster_heartbeats <= 36);
  CHECK(t1[0].timeouts >= 1);
}
