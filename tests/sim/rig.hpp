// One simulated meter on a loopback address of the test's choosing, on free ports, with a
// registered-session client to it: the set-up of the simulator's tests.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "client.hpp"
#include "support/support.hpp"
#include "tools/pm500-sim/simulator.hpp"

namespace pm500::sim::test {

struct MeterRig {
  std::string address;
  std::uint16_t tcp = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  std::uint16_t udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  std::unique_ptr<Simulator> sim;

  explicit MeterRig(std::string meter_address, bool owner = true, std::uint16_t control_port = 0,
               std::size_t max_connections = 32)
      : MeterRig(std::move(meter_address), options(owner, max_connections), control_port) {}
  static MeterOptions options(bool owner, std::size_t max_connections) {
    MeterOptions m;
    m.owner = owner;
    m.max_connections = max_connections;
    return m;
  }
  // A meter with these options (profile, demanded formats, ...); address and ports are the rig's.
  MeterRig(std::string meter_address, MeterOptions m, std::uint16_t control_port = 0)
      : address(std::move(meter_address)) {
    m.address = address;
    m.tcp_port = tcp;
    m.udp_port = udp;
    Options o;
    o.meters.push_back(m);
    o.control_port = control_port;
    auto s = Simulator::start(std::move(o));
    REQUIRE_MESSAGE(s.has_value(), (s ? "" : s.error()));
    sim = std::move(*s);
  }
  std::unique_ptr<Client> client() {
    auto c = std::make_unique<Client>(address, tcp);
    REQUIRE(c->connected());
    REQUIRE(c->register_session() != 0);
    return c;
  }
  MeterStats stats() const { return sim->stats(0); }
};

}  // namespace pm500::sim::test
