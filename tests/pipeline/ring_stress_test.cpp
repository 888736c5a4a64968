// 1 producer, 3 consumers, millions of samples. Also built under the tsan preset (LABELS tsan);
// sized to stay well under 10 s there.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "pipeline/ring.hpp"

using namespace pm500;

namespace {
#if defined(__SANITIZE_THREAD__)
constexpr std::uint64_t kSamples = 200'000;
#else
constexpr std::uint64_t kSamples = 3'000'000;
#endif
constexpr int kConsumers = 3;

struct alignas(64) Progress {
  std::atomic<std::uint64_t> position{0};
};

struct Result {
  test::Checksum sum;
  std::uint64_t torn = 0, out_of_order = 0, missed = 0;
};

// Runs the producer and three consumers; with `throttle` the test (not the ring) keeps the
// producer within half a ring of the slowest consumer so nothing is overwritten.
std::vector<Result> run(bool throttle, std::size_t capacity) {
  Ring ring(capacity);
  std::vector<Ring::Cursor> cursors;
  for (int i = 0; i < kConsumers; ++i) cursors.push_back(ring.subscribe());
  std::vector<Result> results(kConsumers);
  std::vector<Progress> progress(kConsumers);
  std::vector<std::thread> consumers;
  for (int k = 0; k < kConsumers; ++k)
    consumers.emplace_back([&, k] {
      Ring::Cursor& c = cursors[k];
      Result& r = results[k];
      Sample buf[64];
      std::uint64_t last = 0;
      bool first = true;
      while (r.sum.count + c.missed() < kSamples) {
        const std::size_t n = c.try_read(buf);
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint64_t num = test::sample_number(buf[i]);
          if (num == ~0ull) ++r.torn;
          if (!first && num <= last) ++r.out_of_order;
          first = false;
          last = num;
          r.sum.add(num);
        }
        progress[k].position.store(c.position(), std::memory_order_release);
        if (n == 0) std::this_thread::yield();
      }
      r.missed = c.missed();
    });
  for (std::uint64_t i = 0; i < kSamples; ++i) {
    if (throttle && (i & 255) == 0)
      for (;;) {
        std::uint64_t slowest = ~0ull;
        for (auto& p : progress) slowest = std::min(slowest, p.position.load(std::memory_order_acquire));
        if (i - slowest < capacity / 2) break;
        std::this_thread::yield();
      }
    ring.push(test::make_sample(i));
  }
  for (auto& t : consumers) t.join();
  return results;
}

}  // namespace

TEST_CASE("ring stress: consumers that keep up see every sample exactly once, in order") {
  const auto results = run(true, 1 << 14);
  const test::Checksum want = test::checksum_of(0, kSamples);
  for (int k = 0; k < kConsumers; ++k) {
    INFO("consumer " << k);
    CHECK(results[k].torn == 0);
    CHECK(results[k].out_of_order == 0);
    CHECK(results[k].missed == 0);
    CHECK(results[k].sum == want);
  }
}

TEST_CASE("ring stress: overrun consumers never see a torn sample and count every miss") {
  // A small ring and no throttle: consumers are overwritten all the time.
  const auto results = run(false, 64);
  for (int k = 0; k < kConsumers; ++k) {
    INFO("consumer " << k << " missed " << results[k].missed);
    CHECK(results[k].torn == 0);
    CHECK(results[k].out_of_order == 0);
    CHECK(results[k].sum.count + results[k].missed == kSamples);
  }
}
