// The per-datagram device path on the scanner thread: decode -> Scaler::apply ->
// Plausibility::check, for the default assemblies 101, 102 and 107 of one meter (400:5 CT,
// 480:120 PT, ratios applied by the gateway, measurement noise), one RPI per round.
//
// Each benchmark runs a fixed number of samples (kSamples, one iteration each) so that
// callgrind can count instructions per sample: the measured work is in the noinline
// functions pm500_bench_check() and pm500_bench_datagram(), for --toggle-collect
// (bench/device/run.sh; results in BENCHMARKS.md).
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "device/decode.hpp"
#include "device/feeder_model.hpp"
#include "device/plausibility.hpp"
#include "device/profile.hpp"
#include "device/scaling.hpp"

namespace {

using namespace pm500::device;

constexpr int kRounds = 10'000;
constexpr int kSamples = 3 * kRounds;
constexpr std::array<std::uint16_t, 3> kAssemblies{101, 102, 107};

struct Datagram {
  std::array<std::uint8_t, 128> bytes{};
  std::size_t size = 0;
  std::uint16_t assembly = 0;
  std::int64_t time_ns = 0;
};

DeviceSettings meter_settings() {
  auto s = make_settings("mcc-1", "400:5", "480:120", "gateway", 480, "3PN");
  if (!s) std::abort();
  return *s;
}

// kRounds RPIs of a healthy (or faulty) meter, as the wire carries them. Energy counters rise
// throughout, so no wrap-around looks like a counter running backwards.
std::vector<Datagram> feed(bool ct_applied_twice) {
  FeederSettings fs;
  fs.device = meter_settings();
  fs.noise = 0.005;
  fs.faults.ct_applied_twice = ct_applied_twice;
  FeederModel model(builtin_profile(), fs, 7);
  std::vector<Datagram> out;
  out.reserve(kSamples);
  std::int64_t t = 1'700'000'000'000'000'000;
  for (int r = 0; r < kRounds; ++r) {
    t += 100'000'000;  // RPI 100 ms
    model.step(t);
    for (auto a : kAssemblies) {
      Datagram d;
      d.assembly = a;
      d.time_ns = t;
      d.size = model.encode(a, d.bytes).value_or(0);
      out.push_back(d);
    }
  }
  return out;
}

std::vector<pm500::Sample> decoded(const std::vector<Datagram>& f, const Scaler& scaler) {
  std::vector<pm500::Sample> out;
  out.reserve(f.size());
  for (const auto& d : f) {
    pm500::Sample s{};
    s.source_time_ns = d.time_ns;
    if (!decode(builtin_profile(), d.assembly, std::span<const std::uint8_t>(d.bytes.data(), d.size), s)) std::abort();
    scaler.apply(s);
    out.push_back(s);
  }
  return out;
}

}  // namespace

// Outside the anonymous namespace and never inlined: callgrind's --toggle-collect names them.
[[gnu::noinline]] void pm500_bench_check(Plausibility& check, pm500::Sample& s) {
  check.check(s);
}

[[gnu::noinline]] void pm500_bench_datagram(const Datagram& d, const Scaler& scaler, Plausibility& check,
                                            pm500::Sample& s) {
  s.source_time_ns = d.time_ns;
  s.flags = 0;
  if (!decode(builtin_profile(), d.assembly, std::span<const std::uint8_t>(d.bytes.data(), d.size), s)) return;
  scaler.apply(s);
  check.check(s);
}

namespace {

// Plausibility::check alone, on samples already decoded and scaled.
void run_check(benchmark::State& state, bool faulty) {
  const DeviceSettings d = meter_settings();
  const Scaler scaler(builtin_profile(), d);
  std::vector<pm500::Sample> samples = decoded(feed(faulty), scaler);
  Plausibility check(builtin_profile(), d);
  std::size_t i = 0;
  for (auto _ : state) pm500_bench_check(check, samples[i++]);
  if (check.any_active() != faulty) state.SkipWithError("unexpected plausibility verdict");
  state.counters["samples"] = static_cast<double>(i);
}

// decode + scale + check from the datagram's assembly bytes.
void run_datagram(benchmark::State& state, bool faulty) {
  const DeviceSettings d = meter_settings();
  const Scaler scaler(builtin_profile(), d);
  const std::vector<Datagram> f = feed(faulty);
  Plausibility check(builtin_profile(), d);
  pm500::Sample s{};
  std::size_t i = 0;
  for (auto _ : state) pm500_bench_datagram(f[i++], scaler, check, s);
  benchmark::DoNotOptimize(s);
  if (check.any_active() != faulty) state.SkipWithError("unexpected plausibility verdict");
  state.counters["samples"] = static_cast<double>(i);
}

void BM_check_healthy(benchmark::State& state) { run_check(state, false); }
void BM_check_finding_active(benchmark::State& state) { run_check(state, true); }
void BM_datagram_healthy(benchmark::State& state) { run_datagram(state, false); }
void BM_datagram_finding_active(benchmark::State& state) { run_datagram(state, true); }

}  // namespace

BENCHMARK(BM_check_healthy)->Iterations(kSamples);
BENCHMARK(BM_check_finding_active)->Iterations(kSamples);
BENCHMARK(BM_datagram_healthy)->Iterations(kSamples);
BENCHMARK(BM_datagram_finding_active)->Iterations(kSamples);
