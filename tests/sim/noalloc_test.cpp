// No allocation per produced datagram or per received heartbeat: the simulator's event-loop
// thread runs a few hundred Class 1 packets while global operator new is counted. Its own
// executable because it replaces operator new.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

#include "client.hpp"
#include "support/support.hpp"
#include "tools/pm500-sim/simulator.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

using namespace pm500::sim;
using namespace pm500::sim::test;

TEST_CASE("producing and receiving heartbeats allocates nothing") {
  MeterOptions m;
  m.address = "127.80." + std::to_string(getpid() % 200 + 20) + ".2";
  m.tcp_port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  m.udp_port = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  Options o;
  o.meters.push_back(m);
  auto sim = Simulator::start(std::move(o));
  REQUIRE(sim.has_value());
  Client c(m.address, m.tcp_port);
  REQUIRE(c.register_session() != 0);
  Udp rx;
  std::vector<FoResult> conns;
  // Sizes from attribute 4, so the test follows the profile.
  for (std::uint16_t point = 101; point <= 108; ++point) {
    auto size = c.get_attribute_single(4, point, 4);
    REQUIRE(size);
    FoSpec s;
    s.serial = point;
    s.t_o_point = point;
    s.rpi_us = 2'000;
    s.t_o_size = static_cast<std::uint16_t>((size->data[0] | (size->data[1] << 8)) + 2);
    s.t_o_sockaddr = cip::SockAddr{.port = rx.port(), .address = ipv4("127.0.0.1")};
    auto r = c.forward_open(s);
    REQUIRE(r.ok);
    conns.push_back(r);
  }
  const Bytes hb = heartbeat(conns[0].o_t_id, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // warm up: timer heap at its size

  const auto before_packets = (*sim)->stats(0).packets_sent;
  const auto before = g_allocations.load();
  for (int i = 0; i < 100; ++i) {
    rx.send_raw(hb, m.address, m.udp_port);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto after = g_allocations.load();
  const auto stats = (*sim)->stats(0);
  CHECK(stats.packets_sent - before_packets > 300);
  CHECK(stats.heartbeats_received >= 90);
  CHECK(after - before == 0);
}
