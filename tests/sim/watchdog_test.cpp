// The simulator's O->T watchdog, kept as an adapter keeps it: a connection ends when no O->T
// datagram arrives within O->T API x 4 x 2^n (n = the Forward Open's connection timeout
// multiplier byte), never earlier and not perceptibly later; O->T RPIs and multipliers outside
// what cip/README.md documents are refused.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "client.hpp"
#include "rig.hpp"
#include "support/support.hpp"
#include "tools/pm500-sim/simulator.hpp"

using namespace pm500::sim;
using namespace pm500::sim::test;
using Clock = std::chrono::steady_clock;

namespace {

// Polls `pred` every millisecond (support's eventually() polls every 20 ms, too coarse to time a
// watchdog).
template <class Pred>
bool poll(Pred pred, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

// How long after `since` the meter had counted `n` watchdog timeouts.
Clock::duration until_timeouts(const MeterRig& rig, std::uint64_t n, Clock::time_point since) {
  REQUIRE(poll([&] { return rig.stats().timeouts >= n; }, 2s));
  return Clock::now() - since;
}

FoSpec to(const Udp& rx, std::uint32_t rpi_us, std::uint8_t multiplier) {
  FoSpec s;
  s.t_o_sockaddr = cip::SockAddr{.port = rx.port(), .address = ipv4("127.0.0.1")};
  s.rpi_us = rpi_us;
  s.multiplier = multiplier;
  return s;
}

}  // namespace

TEST_CASE("the O->T watchdog is O->T API x 4 x 2^n: gaps inside it keep the connection, the first gap beyond it ends it") {
  MeterRig rig("127.0.21.10", false);
  auto c = rig.client();
  Udp rx;
  // 50 ms x 4 x 2^1 = 400 ms.
  auto r = c->forward_open(to(rx, 50'000, 1));
  REQUIRE(r.ok);
  CHECK(r.o_t_api_us == 50'000);
  Udp hb;
  std::uint32_t seq = 0;
  // Gaps of 340 ms, almost seven O->T RPIs: kept open (60 ms of slack for a loaded host).
  for (int i = 0; i < 3; ++i) {
    REQUIRE(hb.send_heartbeat(r.o_t_id, ++seq, rig.address, rig.udp));
    std::this_thread::sleep_for(340ms);
  }
  REQUIRE(hb.send_heartbeat(r.o_t_id, ++seq, rig.address, rig.udp));
  CHECK(rig.stats().timeouts == 0);
  CHECK(rig.stats().connections == 1);
  // A gap of 420 ms, 5 % beyond the watchdog (a sleep never ends early, so it is at least
  // that): the connection is gone and the late heartbeat does not bring it back.
  std::this_thread::sleep_for(420ms);
  REQUIRE(hb.send_heartbeat(r.o_t_id, ++seq, rig.address, rig.udp));
  REQUIRE(poll([&] { return rig.stats().timeouts == 1; }, 1s));
  std::this_thread::sleep_for(20ms);
  CHECK(rig.stats().connections == 0);
  CHECK(rig.stats().heartbeats_received == 4);
  // Production stopped with it.
  rx.drain();
  CHECK(rx.collect(100ms).empty());
}

TEST_CASE("the multiplier byte counts (n = 0 is x4, n = 3 is x32); a connection ends one watchdog after its last heartbeat, not before") {
  MeterRig rig("127.0.21.11", false);
  auto c = rig.client();
  Udp rx, hb;
  // Two connections with the same O->T RPI, 10 ms: watchdogs of 40 ms and 320 ms. The short one
  // is opened last, so its first heartbeat follows its reply at once.
  auto long_w = to(rx, 10'000, 3);
  long_w.serial = 2;
  long_w.t_o_id = 0x7E570002;
  auto short_w = to(rx, 10'000, 0);
  short_w.serial = 1;
  auto b = c->forward_open(long_w);
  auto a = c->forward_open(short_w);
  REQUIRE(a.ok);
  REQUIRE(b.ok);
  REQUIRE(hb.send_heartbeat(a.o_t_id, 1, rig.address, rig.udp));
  REQUIRE(hb.send_heartbeat(b.o_t_id, 1, rig.address, rig.udp));
  const auto sent = Clock::now();
  CHECK(until_timeouts(rig, 1, sent) >= 40ms);
  CHECK(rig.stats().connections == 1);  // the x32 one lives on
  const auto second = until_timeouts(rig, 2, sent);
  CHECK(second >= 320ms);
  CHECK(second < 320ms + 150ms);
}

TEST_CASE("O->T RPIs outside 1 ms .. 3.2 s and reserved multipliers are refused") {
  MeterRig rig("127.0.21.12", false);
  auto c = rig.client();
  Udp rx;
  std::uint16_t serial = 0;
  auto open = [&](std::uint32_t o_t_rpi_us, std::uint8_t multiplier) {
    auto s = to(rx, o_t_rpi_us, multiplier);
    s.serial = ++serial;
    s.t_o_id = 0x7E570000u + serial;
    return c->forward_open(s);
  };
  // FoSpec asks for the same RPI both ways; the T->O range (1 ms .. 10 s) holds all of these.
  CHECK(open(cip::heartbeat_rpi_max_us, 7).ok);
  CHECK(open(cip::heartbeat_rpi_min_us, 7).ok);
  auto above = open(cip::heartbeat_rpi_max_us + 1, 7);
  CHECK_FALSE(above.ok);
  CHECK(above.mr.general == 0x01);
  CHECK(above.mr.extended() == 0x0111);
  auto below = open(cip::heartbeat_rpi_min_us - 1, 7);
  CHECK_FALSE(below.ok);
  CHECK(below.mr.extended() == 0x0111);
  auto reserved = open(100'000, 8);
  CHECK_FALSE(reserved.ok);
  CHECK(reserved.mr.general == 0x20);
}

TEST_CASE("fault o-t-api announces another O->T API while the watchdog keeps to the RPI") {
  MeterRig rig("127.0.21.13", false);
  CHECK(rig.sim->command("fault o-t-api 1000").rfind("ok", 0) == 0);
  auto c = rig.client();
  Udp rx;
  auto r = c->forward_open(to(rx, 20'000, 7));
  REQUIRE(r.ok);
  CHECK(r.o_t_api_us == 200'000);
  CHECK(rig.sim->command("fault o-t-api 0").rfind("error", 0) == 0);
  CHECK(rig.sim->command("fault clear").rfind("ok", 0) == 0);
  auto s = to(rx, 20'000, 7);
  s.serial = 2;
  s.t_o_id = 0x7E570002;
  auto honest = c->forward_open(s);
  REQUIRE(honest.ok);
  CHECK(honest.o_t_api_us == 20'000);
}
