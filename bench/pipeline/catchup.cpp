// Stall and recover: a producer pushes samples at a fixed rate into the ring; one sink's
// destination accepts at most a given rate, is down for a while, then comes back. Prints how
// long the backlog takes to drain after the destination returns, and what was lost or
// delivered twice (each sample is numbered; the destination records every number it takes).
//
//   catchup_bench [RATE=60000] [STALL_S=10] [CAPACITY_X=1.5] [STATE_DIR=mktemp]
//
// The destination's capacity is CAPACITY_X times RATE: it takes a batch of n samples in
// n / (RATE * CAPACITY_X) seconds (a sleep, as a server's response time would be). The
// delivery settings are the gateway's defaults (config::DeliverySection{}), with the ring
// sized as the gateway sizes it for RATE samples/s.
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "pipeline/pipeline.hpp"

using namespace pm500;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

class Destination final : public Sink {
 public:
  explicit Destination(double capacity_per_s) : capacity_(capacity_per_s) {}
  std::atomic<bool> up{true};

  DeliveryResult deliver(std::span<const Sample> batch) override {
    if (!up.load()) {
      std::this_thread::sleep_for(1ms);
      return DeliveryResult::retry("destination stopped");
    }
    // Busy for n / capacity: counted from when it was last free, so a late wake-up of this
    // thread does not lower the destination's capacity.
    const auto now = Clock::now();
    free_at_ = std::max(free_at_, now - 10ms) +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(batch.size()) / capacity_));
    std::this_thread::sleep_until(free_at_);
    std::lock_guard lk(mu_);
    for (const Sample& s : batch) {
      const std::uint64_t n = static_cast<std::uint64_t>(s.source_time_ns);
      if (n >= seen_.size()) seen_.resize(std::max<std::size_t>(n + 1, seen_.size() * 2), 0);
      ++seen_[n];
    }
    return DeliveryResult::ok();
  }

  // (lost, duplicated) among samples 0..count-1.
  std::pair<std::uint64_t, std::uint64_t> tally(std::uint64_t count) {
    std::lock_guard lk(mu_);
    std::uint64_t lost = 0, dup = 0;
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::uint8_t c = i < seen_.size() ? seen_[i] : 0;
      if (c == 0) ++lost;
      if (c > 1) dup += c - 1u;
    }
    return {lost, dup};
  }

 private:
  double capacity_;
  Clock::time_point free_at_{};
  std::mutex mu_;
  std::vector<std::uint8_t> seen_;
};

}  // namespace

int main(int argc, char** argv) {
  const double rate = argc > 1 ? std::atof(argv[1]) : 60000;
  const double stall_s = argc > 2 ? std::atof(argv[2]) : 10;
  const double cap_x = argc > 3 ? std::atof(argv[3]) : 1.5;
  std::filesystem::path dir = argc > 4 ? std::filesystem::path(argv[4])
                                       : std::filesystem::temp_directory_path() /
                                             ("catchup-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  // As config::ring_capacity_for(): two seconds of samples, a power of two, at least 4096.
  const auto ring_size = std::bit_ceil(std::max<std::uint64_t>(4096, static_cast<std::uint64_t>(rate * 2)));
  Ring ring(ring_size);
  auto dest = std::make_unique<Destination>(rate * cap_x);
  Destination* d = dest.get();
  SinkDelivery::Options o;
  o.name = "bench";
  o.state_dir = dir;
  o.delivery = config::DeliverySection{};
  auto created = SinkDelivery::create(ring, std::move(dest), o);
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().c_str());
    return 1;
  }
  auto& sink = *created;
  sink->start();

  std::atomic<bool> producing{true};
  std::atomic<std::uint64_t> produced{0};
  std::thread producer([&] {
    // 1 ms steps, as the scanner pushes what one event-loop turn received.
    const auto start = Clock::now();
    std::uint64_t n = 0;
    for (std::uint64_t tick = 1; producing.load(); ++tick) {
      const auto due = static_cast<std::uint64_t>(rate * static_cast<double>(tick) / 1000.0);
      for (; n < due; ++n) {
        Sample s;
        s.source_time_ns = static_cast<std::int64_t>(n);
        s.device = 0;
        s.assembly = 101;
        s.sequence = static_cast<std::uint16_t>(n);
        s.count = 18;
        for (std::size_t i = 0; i < s.count; ++i) s.values[i] = static_cast<double>(n + i);
        ring.push(s);
      }
      produced.store(n);
      ring.notify();
      std::this_thread::sleep_until(start + std::chrono::milliseconds(tick));
    }
  });

  std::this_thread::sleep_for(2s);  // steady state first
  d->up = false;
  const auto stalled_at = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(stall_s));
  const SinkStats at_return = sink->stats();
  d->up = true;
  const auto back_at = Clock::now();
  std::uint64_t peak_backlog = at_return.spool_backlog;
  double drained_s = -1;
  // Drained: the backlog is gone and the sink is back on the live path.
  while (Clock::now() - back_at < std::chrono::duration<double>(stall_s * 20 + 30)) {
    const SinkStats st = sink->stats();
    peak_backlog = std::max(peak_backlog, st.spool_backlog);
    if (st.state == SinkState::delivering && st.spool_backlog == 0 && st.replayed > 0) {
      drained_s = std::chrono::duration<double>(Clock::now() - back_at).count();
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(1s);
  producing = false;
  producer.join();
  sink->stop();
  const SinkStats end = sink->stats();
  const std::uint64_t total = produced.load();
  const auto [lost, dup] = d->tally(total);
  std::printf(
      "input %.0f samples/s, destination %.0f samples/s (%.2fx), stalled %.1f s\n"
      "backlog when the destination returned: %llu samples (peak %llu)\n"
      "drained in: %s s after the destination returned\n"
      "samples: %llu produced, %llu lost, %llu duplicated, %llu spooled, %llu replayed, %llu dropped\n",
      rate, rate * cap_x, cap_x, std::chrono::duration<double>(back_at - stalled_at).count(),
      static_cast<unsigned long long>(at_return.spool_backlog), static_cast<unsigned long long>(peak_backlog),
      drained_s < 0 ? "never" : std::to_string(drained_s).c_str(), static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(lost), static_cast<unsigned long long>(dup),
      static_cast<unsigned long long>(end.spooled), static_cast<unsigned long long>(end.replayed),
      static_cast<unsigned long long>(end.dropped_overrun + end.dropped_spool_full + end.dropped_disk));
  std::filesystem::remove_all(dir);
  return drained_s < 0 || lost > 0 ? 1 : 0;
}
