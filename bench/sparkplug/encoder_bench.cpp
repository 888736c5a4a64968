// Sparkplug B DDATA encoding (sinks/sparkplug/payload.hpp, nanopb) of one PowerMonitor 500
// sample: the metrics by alias with their timestamps, as the sink builds them, into a reused
// buffer. Baseline in the same run: the MQTT sink's JSON document of the same sample
// (sinks/common/json_sample.hpp).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "sinks/common/json_sample.hpp"
#include "sinks/sparkplug/payload.hpp"

using namespace pm500;
using namespace pm500::sinks::sparkplug;

namespace {

Sample sample(int values) {
  Sample s;
  s.source_time_ns = 1'714'564'800'123'000'000;
  s.assembly = 102;
  s.count = static_cast<std::uint8_t>(values);
  for (int i = 0; i < values; ++i) s.values[i] = static_cast<float>(230.0 + 1.37 * i);
  return s;
}

DeviceMeta meta() {
  DeviceMeta m;
  m.name = "mcc-1";
  m.site = "plant north";
  m.asset = "feeder 1";
  for (int i = 0; i < 18; ++i) m.fields[2].push_back("element_" + std::to_string(i) + "_value");
  return m;
}

// One DDATA: every value of the sample (report = "all", or a sample where all changed).
void BM_sparkplug_ddata(benchmark::State& state) {
  const Sample s = sample(static_cast<int>(state.range(0)));
  std::vector<Metric> metrics;
  metrics.reserve(18);
  std::string out;
  std::uint64_t seq = 0;
  for (auto _ : state) {
    metrics.clear();
    const auto ms = static_cast<std::uint64_t>(s.source_time_ns / 1'000'000);
    for (int i = 0; i < s.count; ++i) {
      Metric m;
      m.alias = 110200 + static_cast<std::uint64_t>(i);
      m.timestamp_ms = ms;
      m.with_datatype = false;
      m.value = Value::real(DataType::Float, s.values[i]);
      metrics.push_back(m);
    }
    Payload p;
    p.timestamp_ms = ms;
    p.seq = seq++ & 0xFF;
    p.metrics = metrics;
    if (!encode(p, out).empty()) state.SkipWithError("encode failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_sparkplug_ddata)->Arg(1)->Arg(12)->Arg(18);

// Baseline: the MQTT sink's JSON document of the same sample.
void BM_json_sample(benchmark::State& state) {
  const Sample s = sample(static_cast<int>(state.range(0)));
  DeviceMeta m = meta();
  const auto names = m.fields[2].span().first(static_cast<std::size_t>(state.range(0)));
  m.fields[2] = std::vector<std::string>(names.begin(), names.end());
  std::string out;
  for (auto _ : state) {
    out.clear();
    json::append_sample(out, s, &m);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_json_sample)->Arg(1)->Arg(12)->Arg(18);

}  // namespace
