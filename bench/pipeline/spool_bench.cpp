// Spool: append (batches of 500, one write(2) each, no fsync in the loop -- fsync is batched by
// interval in production) and replay (read + ack, batches of 500) of a 100 000-sample backlog.
// Bytes are record bytes (184 per sample). The folder is under $TMPDIR (see BENCHMARKS.md for
// what file system that was).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "pipeline/spool.hpp"

using namespace pm500;
namespace fs = std::filesystem;

namespace {

fs::path bench_dir(const char* name) {
  const char* t = std::getenv("TMPDIR");
  fs::path p = fs::path(t ? t : "/tmp") / ("pm500-bench-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(p);
  return p;
}

std::vector<Sample> batch(std::size_t n) {
  std::vector<Sample> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i].source_time_ns = static_cast<std::int64_t>(i);
    v[i].count = kMaxSampleValues;
    for (std::size_t j = 0; j < kMaxSampleValues; ++j) v[i].values[j] = static_cast<double>(i * j);
  }
  return v;
}

void BM_SpoolAppend(benchmark::State& state) {
  const fs::path dir = bench_dir("append");
  auto sp = std::move(*Spool::open({.dir = dir, .max_bytes = 256ull << 20, .segment_bytes = 32ull << 20}));
  const auto b = batch(static_cast<std::size_t>(state.range(0)));
  std::uint64_t samples = 0;
  for (auto _ : state) {
    if (!sp->append(b)) state.SkipWithError("append failed");
    samples += b.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.SetBytesProcessed(static_cast<std::int64_t>(samples * Spool::kRecordSize));
  sp.reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_SpoolAppend)->Arg(500)->Arg(1)->UseRealTime();

// What batching fsync saves: the same append with an fdatasync after every batch.
void BM_SpoolAppendFsyncEveryBatch(benchmark::State& state) {
  const fs::path dir = bench_dir("append-fsync");
  auto sp = std::move(*Spool::open({.dir = dir, .max_bytes = 256ull << 20, .segment_bytes = 32ull << 20}));
  const auto b = batch(static_cast<std::size_t>(state.range(0)));
  std::uint64_t samples = 0;
  for (auto _ : state) {
    if (!sp->append(b) || !sp->sync()) state.SkipWithError("append failed");
    samples += b.size();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.SetBytesProcessed(static_cast<std::int64_t>(samples * Spool::kRecordSize));
  sp.reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_SpoolAppendFsyncEveryBatch)->Arg(500)->UseRealTime();

void BM_SpoolReplay(benchmark::State& state) {
  constexpr std::size_t kBacklog = 100'000;
  const auto b = batch(500);
  std::vector<Sample> out(500);
  std::uint64_t samples = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const fs::path dir = bench_dir("replay");
    auto sp = std::move(*Spool::open({.dir = dir, .max_bytes = 256ull << 20, .segment_bytes = 32ull << 20}));
    for (std::size_t i = 0; i < kBacklog / b.size(); ++i) (void)sp->append(b);
    state.ResumeTiming();
    while (!sp->empty()) {
      auto r = sp->read(out);
      samples += r->count;
      sp->ack(r->end);
    }
    state.PauseTiming();
    sp.reset();
    fs::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.SetBytesProcessed(static_cast<std::int64_t>(samples * Spool::kRecordSize));
}
BENCHMARK(BM_SpoolReplay)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
