// The scanner thread allocates nothing and formats no text in steady state: every Class 1
// datagram, heartbeat, timer and explicit poll runs on buffers sized at start. Allocations are
// counted by replacing the global operator new in this executable, formatting by replacing the
// printf family (support/format_counter.cpp), for the scanner thread only (the simulator and
// the test thread allocate and format freely), over a window after the devices reached "running".
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "cip/scanner.hpp"
#include "simulator.hpp"
#include "support/format_counter.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;

// Defined in alloc_counter.cpp (a separate file, so GCC does not inline the replaced
// operator delete into library code and warn about a malloc/delete mismatch).
extern std::atomic<std::thread::id> watched;
extern std::atomic<long> allocations;

namespace {

// Counts and never allocates itself.
class Quiet : public cip::ScannerEvents {
 public:
  void on_data(std::uint32_t, std::uint16_t, std::span<const std::uint8_t> data, std::int64_t, std::uint16_t,
               bool explicit_read) noexcept override {
    watched.store(std::this_thread::get_id(), std::memory_order_relaxed);
    pm500::test::watch_formatting();
    (explicit_read ? explicit_ : class1_).fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(data.size(), std::memory_order_relaxed);
  }
  void on_state(std::uint32_t, const cip::DeviceStatus&) override {}
  void on_fault(std::uint32_t, const cip::Fault&) override { faults_.fetch_add(1); }
  void on_fault_cleared(std::uint32_t, cip::Fault::Kind) override {}
  std::atomic<long> class1_{0}, explicit_{0}, faults_{0};
  std::atomic<std::uint64_t> bytes_{0};
};
}  // namespace

TEST_CASE("no allocation on the scanner thread in steady state (Class 1 and explicit)") {
  const auto tcp_port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  const auto sim_udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  pm500::sim::MeterOptions base;
  base.tcp_port = tcp_port;
  base.udp_port = sim_udp;
  auto sim = pm500::sim::Simulator::start(pm500::sim::Options::range("127.0.3.91", 4, base));
  REQUIRE_MESSAGE(sim, (sim ? "" : sim.error()));

  std::vector<cip::DeviceSpec> specs;
  for (int i = 0; i < 4; ++i) {
    cip::DeviceSpec d;
    d.host = "127.0.3." + std::to_string(91 + i);
    d.port = tcp_port;
    d.udp_port = sim_udp;
    d.assemblies = {101, 102, 107};
    d.rpi_us = 10'000;  // 100 datagrams/s per connection
    d.multicast = i % 2 == 0;
    d.mode = i == 3 ? cip::Mode::explicit_poll : cip::Mode::listen_only;
    d.poll_interval_ms = 20;
    specs.push_back(d);
  }
  cip::ScannerOptions opt;
  opt.udp_port = 0;
  opt.session_check_ms = 50;  // the Class 1 devices' session checks run in the measured second too
  Quiet events;
  cip::Scanner scanner(opt, specs, events);
  REQUIRE(scanner.start());
  REQUIRE(pm500::test::eventually(
      [&] {
        for (auto& s : scanner.snapshot())
          if (s.state != cip::DeviceState::running) return false;
        return true;
      },
      5s));
  std::this_thread::sleep_for(300ms);  // past the first heartbeats and poll rounds
  const long before = allocations.load();
  const long formatted = pm500::test::formatting_calls();
  const long c1 = events.class1_.load(), ex = events.explicit_.load();
  std::this_thread::sleep_for(1s);
  const long during = allocations.load() - before;
  const long formatting = pm500::test::formatting_calls() - formatted;
  const long c1_n = events.class1_.load() - c1, ex_n = events.explicit_.load() - ex;
  scanner.stop();
  MESSAGE("in 1 s: " << c1_n << " Class 1 payloads, " << ex_n << " explicit reads, " << during << " allocations, "
                     << formatting << " formatting calls");
  CHECK(c1_n > 500);
  CHECK(ex_n > 50);
  CHECK(events.faults_.load() == 0);
  CHECK(during == 0);
  CHECK(formatting == 0);
}
