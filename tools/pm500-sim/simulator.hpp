// pm500::sim -- simulated PowerMonitor 500 meters (EtherNet/IP adapters) for tests, the
// gateway's demo mode and scale runs. One event-loop thread serves every meter.
//
//   auto opts = pm500::sim::Options::range("127.0.0.10", 50);       // 127.0.0.10 .. 127.0.0.59
//   auto sim = pm500::sim::Simulator::start(std::move(opts));
//   if (!sim) die(sim.error());                                      // "127.0.0.12:44818: bind: ..."
//   (*sim)->command("fault refuse 0x01 0x0106 3");                  // meter 3 refuses Forward Open
//   auto s = (*sim)->stats(0);                                        // s.connections, s.packets_sent ...
//
// Each meter listens on its own loopback address: TCP `tcp_port` (encapsulation), UDP
// `tcp_port` (ListIdentity) and UDP `udp_port` (Class 1: O->T heartbeats in, T->O data out).
// The wire behaviour, the fault list and the assumptions about the real meter are in README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "device/feeder_model.hpp"
#include "pm500/expected.hpp"

namespace pm500::sim {

struct MeterOptions {
  std::string address = "127.0.0.2";  // must be in 127.0.0.0/8
  std::uint16_t tcp_port = 44818;
  std::uint16_t udp_port = 2222;
  std::uint16_t product_code = 9;  // 4..9 = 1420-V1-ENT .. 1420-V2A-ENT; must be one of the profile's
                                   // product codes; 0 = the highest of them
  std::uint32_t serial = 0;        // 0 = derived from the address (940000000 + host part)
  bool owner = true;               // a simulated PLC owns every T->O point (listen-only works)
  std::string profile_path;        // "" = the built-in PowerMonitor 500 profile
  // The real-time format the meter demands, overriding its profile's [connection] t_o_header /
  // o_t_header: "" = as the profile says, "none" or "run_idle" (32-bit run/idle header). A
  // Forward Open with the other size is refused 0x01/0x0128 (0x0127) naming the size wanted.
  std::string t_o_header;
  std::string o_t_header;
  device::FeederSettings feeder;
  std::uint64_t seed = 1;
  std::size_t max_connections = 32;  // open Class 1 connections before 0x01/0x0113 (at most 1024)
};

struct Options {
  std::vector<MeterOptions> meters;
  std::uint16_t control_port = 0;  // 0 = no control socket; listens on 127.0.0.1
  // Also accept private (RFC 1918) meter addresses, but only while the simulator runs in a
  // named network namespace of its own (`ip netns add`, e.g. one end of a veth pair for scale
  // runs); elsewhere start() refuses them as before.
  bool private_netns = false;

  // `count` copies of `base` on consecutive addresses from `first_address` (127.0.0.254 is
  // followed by 127.0.0.255, then 127.0.1.0); seeds are base.seed + i, and a non-zero base
  // serial becomes serial + i. An unparsable address is kept as is and start() reports it.
  static Options range(std::string_view first_address, std::size_t count, const MeterOptions& base = {});
};

struct MeterStats {
  std::uint64_t sessions = 0;      // registered now
  std::uint64_t connections = 0;   // open Class 1 connections now
  std::uint64_t owners = 0;        // ... of which input-only (98); the simulated owner is not counted
  std::uint64_t listeners = 0;     // ... of which listen-only (99)
  std::uint64_t packets_sent = 0;  // T->O datagrams since start
  std::uint64_t forward_open_ok = 0;
  std::uint64_t forward_open_refused = 0;
  std::uint64_t forward_close = 0;        // connections closed by Forward Close
  std::uint64_t heartbeats_received = 0;  // O->T datagrams for an open connection
  std::uint64_t timeouts = 0;             // connections closed because O->T heartbeats stopped

  MeterStats& operator+=(const MeterStats& o);
};

class Simulator {
 public:
  // Binds every meter's sockets and starts the event-loop thread. Fails (nothing left running)
  // on a bad option, a non-loopback address, an unreadable profile or a port in use.
  static pm500::expected<std::unique_ptr<Simulator>, std::string> start(Options options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Stops the thread and closes every socket (connections end without Forward Close, like a
  // meter losing power). Idempotent.
  void stop();

  // One control command, the same protocol as the control port; returns the reply line
  // ("ok ..." or "error <reason>"), without a newline. Thread-safe.
  std::string command(std::string_view line);

  MeterStats stats(std::size_t meter) const;
  std::size_t meter_count() const;
  // The control port actually listening (0 when there is none).
  std::uint16_t control_port() const;

  struct Impl;

 private:
  explicit Simulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pm500::sim
