// The pm500-sim executable: ready line, options, --fault, control port, SIGTERM.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include "client.hpp"
#include "support/gateway.hpp"

using namespace pm500::sim::test;
namespace t = pm500::test;

namespace {

std::string control(std::uint16_t port, const std::string& line) { return t::sim_command(port, line); }

}  // namespace

TEST_CASE("pm500-sim starts, prints its ready line, obeys --fault and the control port, stops on SIGTERM") {
  const std::string address = "127.79." + std::to_string(getpid() % 200 + 20) + ".2";
  const auto tcp = static_cast<std::uint16_t>(t::free_tcp_port());
  const auto udp = static_cast<std::uint16_t>(t::free_udp_port());
  const auto ctl = static_cast<std::uint16_t>(t::free_tcp_port());
  t::Process sim({t::binary("pm500-sim").string(), "--address", address, "--meters", "3", "--port", std::to_string(tcp),
                  "--udp-port", std::to_string(udp), "--control-port", std::to_string(ctl), "--product-code", "6",
                  "--no-owner", "--fault", "refuse 0x01 0x0106 1", "--log-format", "text"});
  REQUIRE(t::eventually([&] { return sim.log().find("pm500-sim: 3 meter(s) at ") != std::string::npos; }, 5s));
  CHECK(sim.log().find(address + ":" + std::to_string(tcp)) != std::string::npos);
  CHECK(sim.log().find("control 127.0.0.1:" + std::to_string(ctl)) != std::string::npos);

  Client c(address, tcp);
  REQUIRE(c.connected());
  Bytes storage;
  auto id = c.list_identity(storage);
  REQUIRE(id);
  CHECK(id->identity.product_code == 6);
  REQUIRE(c.register_session() != 0);
  FoSpec lo;
  lo.o_t_point = cip::pm500_heartbeat_listen_only;
  CHECK(c.forward_open(lo).mr.extended() == 0x0119);  // --no-owner

  // --fault applied to meter 1 only (the second address).
  const std::string second = address.substr(0, address.rfind('.')) + ".3";
  Client c1(second, tcp);
  REQUIRE(c1.register_session() != 0);
  CHECK(c1.forward_open(FoSpec{}).mr.extended() == 0x0106);

  CHECK(control(ctl, "status 1").rfind("ok sessions=1 connections=0", 0) == 0);
  CHECK(control(ctl, "status").find("forward_open_refused=2") != std::string::npos);

  // A client that writes its line and closes at once (bash: echo ... > /dev/tcp/...) is obeyed.
  auto quick = t::run({"bash", "-c", "echo 'fault refuse 0x01 0x0113 2' > /dev/tcp/127.0.0.1/" + std::to_string(ctl)});
  REQUIRE(quick.code == 0);
  CHECK(t::eventually(
      [&] {
        Client c2(address.substr(0, address.rfind('.')) + ".4", tcp);
        return c2.register_session() != 0 && c2.forward_open(FoSpec{}).mr.extended() == 0x0113;
      },
      3s));

  REQUIRE(sim.signal(SIGTERM));
  CHECK(sim.wait(5s) == 0);
}

TEST_CASE("pm500-sim rejects a non-loopback address and bad ratios") {
  auto r = t::run({t::binary("pm500-sim").string(), "--address", "192.0.2.7"}, 10s);
  CHECK(r.code != 0);
  CHECK(r.output.find("not a loopback address") != std::string::npos);
  r = t::run({t::binary("pm500-sim").string(), "--address", "127.0.0.9", "--ct", "400:3"}, 10s);
  CHECK(r.code == 2);
}

TEST_CASE("pm500-sim refuses more meters than its open-file limit can serve, naming the limit to set") {
  // Out of descriptors a meter could not accept connections, which would then wait unanswered:
  // a gateway would report healthy meters as not answering.
  auto r = t::run({"prlimit", "--nofile=1000:1000", t::binary("pm500-sim").string(), "--address", "127.0.0.9",
                   "--meters", "500"},
                  10s);
  CHECK(r.code != 0);
  CHECK(r.output.find("500 meters need 2756 open files, the limit is 1000") != std::string::npos);
  CHECK(r.output.find("ulimit -n 2756") != std::string::npos);
}
