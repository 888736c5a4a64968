// Overload is a state, not a collapse: the scanner thread is stalled (its on_data blocks) while
// simulated meters keep producing into a deliberately small receive buffer, so the kernel drops
// datagrams. The scanner counts exactly what the kernel dropped (its count in /proc/net/udp),
// every meter is running again within 10 s of the stall, and no meter is shown `opening` after
// its data arrived on the current connection. Short stalls on each meter's first datagram add
// drops at start-up; before the I/O timeouts were stretched during drops, they set off a
// reconnect storm that kept meters cycling through `opening` for the whole test. (The ordering
// that left a meter in `opening` for good is reproduced exactly in session_test.cpp.)
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <filesystem>
#include <set>
#include <sstream>
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

constexpr std::size_t kMeters = 20;

// Records like Recorder, stalls the scanner thread on request, and notes every `opening` shown
// after data of the same connection attempt was delivered.
class StallingRecorder : public scanner_test::Recorder {
 public:
  std::atomic<int> stall_ms{0};             // the next on_data blocks this long (once)
  std::atomic<int> stall_first_ms{0};       // each device's first datagram per connect blocks this long
  std::atomic<int> opening_after_data{0};

  void on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data, std::int64_t recv_ns,
               std::uint16_t seq, bool explicit_read) noexcept override {
    Recorder::on_data(device, assembly, data, recv_ns, seq, explicit_read);
    int ms = stall_ms.exchange(0);
    if (device < kMeters && !data_since_connect_[device]) ms = std::max(ms, stall_first_ms.load());
    if (device < kMeters) data_since_connect_[device] = true;
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  void on_state(std::uint32_t device, const cip::DeviceStatus& st) override {
    Recorder::on_state(device, st);
    if (device >= kMeters) return;
    if (st.state == cip::DeviceState::connecting || st.state == cip::DeviceState::backoff) {
      data_since_connect_[device] = false;
    } else if (st.state == cip::DeviceState::opening && data_since_connect_[device]) {
      ++opening_after_data;
    }
  }

 private:
  bool data_since_connect_[kMeters] = {};  // scanner thread only
};

// The kernel's drop count (last column of /proc/net/udp) summed over this process's UDP
// sockets bound to 0.0.0.0: the scanner's (its own port, and the port the meters' replies name
// for multicast); the simulated meters bind their own addresses. Matched by socket inode, so
// another process's socket on the same port is not counted.
std::uint64_t kernel_drops() {
  std::set<std::string> mine;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (!ec && target.starts_with("socket:[")) mine.insert(target.substr(8, target.size() - 9));
  }
  std::ifstream in("/proc/net/udp");
  std::string line;
  std::uint64_t sum = 0;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> col;
    for (std::string field; f >> field;) col.push_back(field);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (col.size() < 13 || !col[1].starts_with("00000000:") || !mine.contains(col[9])) continue;
    sum += std::stoull(col.back());
  }
  return sum;
}

std::string not_running(const cip::Scanner& s, scanner_test::Recorder& rec) {
  std::string out;
  for (const auto& st : s.snapshot()) {
    if (st.state == cip::DeviceState::running) continue;
    out += "device " + std::to_string(st.device) + " " + cip::to_string(st.state) + " open " +
           std::to_string(st.connections_open) + " packets " + std::to_string(st.packets) + "\n" +
           scanner_test::describe(rec.faults(st.device));
  }
  return out;
}

bool all_running(const cip::Scanner& s) {
  for (const auto& st : s.snapshot())
    if (st.state != cip::DeviceState::running) return false;
  return true;
}

}  // namespace

TEST_CASE("a burst that overflows a small receive buffer: drops counted exactly, every meter running again") {
  const auto tcp_port = static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  const auto sim_udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  pm500::sim::MeterOptions base;
  base.tcp_port = tcp_port;
  base.udp_port = sim_udp;
  auto sim = pm500::sim::Simulator::start(pm500::sim::Options::range("127.0.24.10", kMeters, base));
  REQUIRE_MESSAGE(sim, (sim ? "" : sim.error()));

  std::vector<cip::DeviceSpec> specs;
  for (std::size_t i = 0; i < kMeters; ++i) {
    cip::DeviceSpec d;
    d.host = "127.0.24." + std::to_string(10 + i);
    d.port = tcp_port;
    d.udp_port = sim_udp;
    d.assemblies = {101, 102, 107};
    d.rpi_us = 10'000;  // 20 meters x 3 assemblies: 6,000 datagrams/s
    d.timeout_multiplier = 2;  // I/O timeout 160 ms
    specs.push_back(d);
  }
  cip::ScannerOptions o;
  o.udp_port = 0;
  o.local_address = "0.0.0.0";
  o.connect_timeout_ms = 1000;
  o.request_timeout_ms = 1000;
  o.reconnect_initial_ms = 50;
  o.reconnect_max_ms = 500;
  o.jitter_seed = 7;
  o.receive_buffer_bytes = 16384;  // the kernel doubles it: a few dozen datagrams
  StallingRecorder rec;
  rec.stall_first_ms = 20;  // each meter's first datagram per connection: drops at start-up
  cip::Scanner scanner(o, specs, rec);
  REQUIRE(scanner.start());

  REQUIRE_MESSAGE(eventually([&] { return all_running(scanner); }, 10s), not_running(scanner, rec));
  rec.stall_first_ms = 0;
  const auto rx0 = scanner.receive_stats();
  CHECK(rx0.buffer_wanted == 16384);
  CHECK(rx0.buffer_granted == 16384);

  // The burst: the scanner thread stops reading for 400 ms while 2,400 datagrams arrive.
  rec.stall_ms = 400;
  REQUIRE(eventually([&] { return rec.stall_ms.load() == 0; }, 2s));
  const auto stalled_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(450ms);  // the stall itself

  // Every meter is running within 10 s after the overload ended, with data flowing again.
  std::vector<std::uint64_t> packets;
  for (const auto& st : scanner.snapshot()) packets.push_back(st.packets);
  CHECK_MESSAGE(eventually(
                    [&] {
                      if (!all_running(scanner)) return false;
                      const auto snap = scanner.snapshot();
                      for (std::size_t i = 0; i < snap.size(); ++i)
                        if (snap[i].packets < packets[i] + 10) return false;
                      return true;
                    },
                    10s),
                not_running(scanner, rec));
  CHECK(std::chrono::steady_clock::now() - stalled_at < 11s);

  // Drops: counted, and exactly the kernel's count for the socket.
  // The meters produce multicast on their own UDP port (their Forward Open replies say so), so
  // the scanner receives on a second socket bound there; it counts the drops of both.
  auto kernel_total = [] { return kernel_drops(); };
  CHECK(kernel_total() > 1000);
  CHECK_MESSAGE(eventually([&] { return scanner.receive_stats().kernel_drops == kernel_total(); }, 2s),
                "scanner " << scanner.receive_stats().kernel_drops << " kernel " << kernel_total());
  CHECK(rec.opening_after_data.load() == 0);

  const auto rx = scanner.receive_stats();
  CHECK(rx.datagrams > 0);
  CHECK(rx.receive_calls > 0);
  CHECK(rx.cpu_ns > 0);
  scanner.stop();
}
