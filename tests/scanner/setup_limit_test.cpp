// Bring-up of many meters: at most ScannerOptions::max_setups connection set-ups are in flight at
// once (seen from the outside: devices shown identifying or opening at the same moment), the others
// wait their turn and every meter comes up; and a reply that waits in the socket while the scanner
// thread is late is handled, not judged unanswered.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cip/scanner.hpp"
#include "recorder.hpp"
#include "simulator.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
using pm500::test::eventually;

namespace {

// Counts the devices in set-up as the scanner reports them: from `identifying` until their last
// Forward Open is accepted (on_connection for every assembly) or they leave for another state
// than opening. A device holds its slot from the TCP connect, so this is a lower bound of the
// slots in use. Scanner thread only (the callbacks), so the counters need no lock.
class SetupWatcher : public scanner_test::Recorder {
 public:
  SetupWatcher(std::size_t devices, std::size_t assemblies) : in_setup_(devices, false), opened_(devices, 0), assemblies_(assemblies) {}
  std::atomic<int> peak{0};
  // Stalls the scanner thread once, at the end of a loop turn, while device `watched` is in set-up.
  std::atomic<int> stall_ms{0};
  std::uint32_t watched = 1;
  std::atomic<bool> stalled{false};

  void on_state(std::uint32_t device, const cip::DeviceStatus& st) override {
    Recorder::on_state(device, st);
    if (st.state == cip::DeviceState::identifying) {
      opened_[device] = 0;
      set(device, true);
    } else if (st.state != cip::DeviceState::opening) {
      set(device, false);
    }
  }
  void on_connection(std::uint32_t device, std::uint16_t assembly, std::uint32_t t_o_id) override {
    Recorder::on_connection(device, assembly, t_o_id);
    if (++opened_[device] == assemblies_) set(device, false);
  }
  // The end of a loop turn: the requests of the turn are sent and their timers armed.
  void on_batch_end() noexcept override {
    if (watched < in_setup_.size() && in_setup_[watched] && stall_ms.load() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(stall_ms.exchange(0)));
      stalled = true;
    }
  }

 private:
  void set(std::uint32_t device, bool setting_up) {
    if (setting_up == in_setup_[device]) return;
    in_setup_[device] = setting_up;
    now_ += setting_up ? 1 : -1;
    peak = std::max(peak.load(), now_);
  }
  std::vector<bool> in_setup_;
  std::vector<std::size_t> opened_;
  std::size_t assemblies_;
  int now_ = 0;
};

std::vector<cip::DeviceSpec> meters(std::size_t n, std::uint16_t tcp_port, std::uint16_t udp_port, std::uint32_t rpi_us) {
  std::vector<cip::DeviceSpec> specs;
  for (std::size_t i = 0; i < n; ++i) {
    cip::DeviceSpec d;
    d.host = "127.0.71." + std::to_string(10 + i);
    d.port = tcp_port;
    d.udp_port = udp_port;
    d.assemblies = {101, 102, 107};
    d.rpi_us = rpi_us;
    specs.push_back(d);
  }
  return specs;
}

bool all_running(const cip::Scanner& s, std::size_t count) {
  const auto snap = s.snapshot();
  if (snap.size() != count) return false;
  for (const auto& st : snap)
    if (st.state != cip::DeviceState::running) return false;
  return true;
}

}  // namespace

TEST_CASE("bring-up of 200 meters: never more than max_setups set-ups at once, every meter running") {
  constexpr std::size_t kMeters = 200;
  const auto tcp_port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  const auto sim_udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  pm500::sim::MeterOptions base;
  base.tcp_port = tcp_port;
  base.udp_port = sim_udp;
  auto sim = pm500::sim::Simulator::start(pm500::sim::Options::range("127.0.71.10", kMeters, base));
  REQUIRE_MESSAGE(sim, (sim ? "" : sim.error()));

  cip::ScannerOptions o;
  o.udp_port = 0;
  o.max_setups = 8;
  o.jitter_seed = 3;
  SetupWatcher rec(kMeters, 3);
  cip::Scanner scanner(o, {}, rec);
  REQUIRE(scanner.start());
  // All at once (a reconfigure starts every new device in the same turn): the rest must wait.
  std::vector<std::optional<cip::DeviceSpec>> list;
  for (auto& d : meters(kMeters, tcp_port, sim_udp, 1'000'000)) list.emplace_back(std::move(d));
  REQUIRE(scanner.reconfigure(std::move(list)));

  REQUIRE(eventually([&] { return all_running(scanner, kMeters); }, 60s));
  const auto st = scanner.setup_stats();
  CHECK(st.peak == 8);                 // the limit was reached (the meters did queue) ...
  CHECK(rec.peak.load() <= 8);         // ... and never passed, as seen in the reported states
  CHECK(st.in_flight == 0);
  CHECK(st.waiting == 0);
  CHECK(st.started >= kMeters);
  std::uint64_t timeouts = 0;
  for (const auto& s : scanner.snapshot()) timeouts += s.timeouts;
  CHECK(timeouts == 0);
  scanner.stop();
}

TEST_CASE("a reply that waits in the socket while the scanner thread is late is not a timeout") {
  const auto tcp_port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  const auto sim_udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  pm500::sim::MeterOptions base;
  base.tcp_port = tcp_port;
  base.udp_port = sim_udp;
  auto sim = pm500::sim::Simulator::start(pm500::sim::Options::range("127.0.71.240", 1, base));
  REQUIRE_MESSAGE(sim, (sim ? "" : sim.error()));

  cip::ScannerOptions o;
  o.udp_port = 0;
  o.connect_timeout_ms = 300;
  o.request_timeout_ms = 300;
  o.jitter_seed = 5;
  auto specs = meters(1, tcp_port, sim_udp, 100'000);
  specs[0].host = "127.0.71.240";
  // A set-up whose replies all come within one loop turn gives no chance to stall in it: a
  // fresh scanner tries again (it rarely takes more than one).
  for (int attempt = 0; attempt < 20; ++attempt) {
    SetupWatcher rec(1, 3);
    rec.watched = 0;
    rec.stall_ms = 800;  // past the request timeout, with a request of the set-up outstanding
    cip::Scanner scanner(o, specs, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return all_running(scanner, 1); }, 20s));
    if (!rec.stalled.load()) continue;
    const auto snap = scanner.snapshot();
    CHECK(snap[0].timeouts == 0);
    CHECK(snap[0].reconnects == 0);
    CHECK_MESSAGE(rec.faults(0).empty(), rec.fault_texts(0));
    scanner.stop();
    return;
  }
  FAIL("the scanner thread was never stalled during a set-up in 20 tries");
}
