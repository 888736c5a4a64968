// Ring throughput: 1 producer -> 1 and 3 consumers, against the obvious alternative measured in
// the same run: one mutex-protected std::deque per consumer (producer locks each in turn).
// Every run moves kItems samples; time is wall time until every consumer has accounted for all
// of them (read or, for the ring only, counted as missed -- reported as a counter).
#include <benchmark/benchmark.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "pipeline/ring.hpp"

using namespace pm500;

namespace {

constexpr std::uint64_t kItems = 1'000'000;

Sample make(std::uint64_t n) {
  Sample s;
  s.source_time_ns = static_cast<std::int64_t>(n);
  s.count = kMaxSampleValues;
  s.values[0] = static_cast<double>(n);
  return s;
}

void BM_RingPushOnly(benchmark::State& state) {
  Ring ring(1 << 16);
  std::uint64_t n = 0;
  for (auto _ : state) {
    ring.push(make(n++));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
}
BENCHMARK(BM_RingPushOnly);

void BM_RingPushRead_SameThread(benchmark::State& state) {
  Ring ring(1 << 10);
  auto c = ring.subscribe();
  Sample out;
  std::uint64_t n = 0;
  for (auto _ : state) {
    ring.push(make(n++));
    benchmark::DoNotOptimize(c.try_read(out));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
}
BENCHMARK(BM_RingPushRead_SameThread);

void BM_Ring_1P_NC(benchmark::State& state) {
  const int consumers = static_cast<int>(state.range(0));
  std::uint64_t missed_total = 0;
  for (auto _ : state) {
    Ring ring(1 << 16);
    std::vector<Ring::Cursor> cursors;
    for (int i = 0; i < consumers; ++i) cursors.push_back(ring.subscribe());
    std::vector<std::uint64_t> sums(consumers, 0);
    std::vector<std::thread> threads;
    for (int k = 0; k < consumers; ++k)
      threads.emplace_back([&, k] {
        Sample buf[256];
        std::uint64_t got = 0, sum = 0;
        while (got + cursors[k].missed() < kItems) {
          const std::size_t n = cursors[k].try_read(buf);
          for (std::size_t i = 0; i < n; ++i) sum += static_cast<std::uint64_t>(buf[i].source_time_ns);
          got += n;
          if (n == 0) std::this_thread::yield();  // 2 cores, 4 threads: let the producer run
        }
        sums[k] = sum;
      });
    for (std::uint64_t i = 0; i < kItems; ++i) ring.push(make(i));
    for (auto& t : threads) t.join();
    for (auto& c : cursors) missed_total += c.missed();
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kItems));
  state.counters["missed_per_run"] = static_cast<double>(missed_total) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Ring_1P_NC)->Arg(1)->Arg(3)->UseRealTime()->Unit(benchmark::kMillisecond);

struct LockedQueue {
  std::mutex mu;
  std::deque<Sample> q;
};

void BM_MutexDeque_1P_NC(benchmark::State& state) {
  const int consumers = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::vector<LockedQueue> queues(consumers);
    std::vector<std::uint64_t> sums(consumers, 0);
    std::vector<std::thread> threads;
    for (int k = 0; k < consumers; ++k)
      threads.emplace_back([&, k] {
        std::vector<Sample> buf;
        buf.reserve(256);
        std::uint64_t got = 0, sum = 0;
        while (got < kItems) {
          {
            std::lock_guard lk(queues[k].mu);
            while (!queues[k].q.empty() && buf.size() < 256) {
              buf.push_back(queues[k].q.front());
              queues[k].q.pop_front();
            }
          }
          for (const Sample& s : buf) sum += static_cast<std::uint64_t>(s.source_time_ns);
          got += buf.size();
          if (buf.empty()) std::this_thread::yield();
          buf.clear();
        }
        sums[k] = sum;
      });
    for (std::uint64_t i = 0; i < kItems; ++i) {
      const Sample s = make(i);
      for (auto& q : queues) {
        std::lock_guard lk(q.mu);
        q.q.push_back(s);
      }
    }
    for (auto& t : threads) t.join();
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kItems));
}
BENCHMARK(BM_MutexDeque_1P_NC)->Arg(1)->Arg(3)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
