// Line-protocol encoding of a batch of PowerMonitor 500 samples (18 values each):
// sinks/common/line_protocol.hpp into a reused buffer, vs a naive std::ostringstream encoder
// (the way the Node-RED flow's JavaScript built its lines), and the cost of gzip on top.
// `_before` rows run the encoders as they were before the names were cached and numbers
// formatted in-house (sinks/common/tests/reference_encoders.cpp), in the same run. The JSON rows
// are the MQTT / AWS IoT documents (sinks/common/json_sample.hpp).
#include <benchmark/benchmark.h>

#include <charconv>
#include <cstring>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "pm500/number_text.hpp"
#include "sinks/common/json_sample.hpp"
#include "sinks/common/line_protocol.hpp"
#include "sinks/common/tests/reference_encoders.hpp"
#include "sinks/influxdb/transport.hpp"

using namespace pm500;

namespace {

constexpr std::size_t kBatch = 500;

Catalog catalog() {
  Catalog c;
  for (int d = 0; d < 4; ++d) {
    DeviceMeta m;
    m.name = "mcc-" + std::to_string(d + 1);
    m.site = "plant north";
    m.asset = "feeder " + std::to_string(d + 1);
    for (int i = 0; i < 18; ++i) m.fields[2].push_back("element_" + std::to_string(i) + "_value");
    c.devices.push_back(std::move(m));
  }
  return c;
}

// `meter_floats`: float32 values, as the meter sends them (REAL) and as the gateway publishes them
// after CT/PT scaling (rounded to float, src/device/scaling.hpp); otherwise values with double
// precision, as scaled values were before that (and as energy counters still are). These values
// have three decimals, so their shortest text is short (230.137); `readings()` below are floats
// with every digit a measurement has (230.13717).
std::vector<Sample> batch(bool meter_floats = false) {
  std::vector<Sample> v(kBatch);
  for (std::size_t n = 0; n < kBatch; ++n) {
    Sample& s = v[n];
    s.source_time_ns = 1'714'564'800'123'000'000 + static_cast<std::int64_t>(n) * 1'000'000;
    s.device = static_cast<std::uint32_t>(n % 4);
    s.assembly = 102;
    s.count = 18;
    for (int i = 0; i < 18; ++i) {
      s.values[i] = 230.0 + 0.137 * static_cast<double>(n) + 1.5 * i;
      if (meter_floats) s.values[i] = static_cast<float>(s.values[i]);
    }
  }
  return v;
}

// Float32 values with every digit a measurement has, as an ADC's readings scaled to volts,
// amperes, watts and a power factor give them (230.13717, 0.9831452): the shortest text of such
// a float has 7 to 9 digits.
std::vector<Sample> readings() {
  std::vector<Sample> v = batch(true);
  std::uint32_t x = 12345;
  for (Sample& s : v)
    for (int i = 0; i < 18; ++i) {
      x = x * 1664525u + 1013904223u;  // a fixed pseudo-random sequence: the same values every run
      const double scale[4] = {230.0, 41.7, 5912.0, 0.97};
      s.values[i] = static_cast<float>(scale[i % 4] * (1.0 + static_cast<double>(x >> 8) / (1u << 24) * 0.02));
    }
  return v;
}

// The naive baseline: a new escaped std::string per name, an ostringstream per batch, values
// printed with 17 significant digits (what round-trips a double with iostreams).
std::string escape(const std::string& s, const char* special) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || std::strchr(special, c)) out += '\\';
    out += c;
  }
  return out;
}

std::string naive_encode(const std::vector<Sample>& b, const Catalog& cat, const std::string& measurement) {
  std::ostringstream os;
  os << std::setprecision(std::numeric_limits<double>::max_digits10);
  for (const Sample& s : b) {
    const DeviceMeta& m = cat.devices[s.device];
    os << escape(measurement, ", ") << ",asset=" << escape(m.asset, ",= ") << ",device=" << escape(m.name, ",= ")
       << ",site=" << escape(m.site, ",= ");
    auto names = m.field_names(s.assembly);
    for (std::size_t i = 0; i < s.count; ++i) os << (i ? "," : " ") << escape(names[i], ",= ") << "=" << s.values[i];
    os << " " << s.source_time_ns << "\n";
  }
  return os.str();
}

enum class Lp { encoder, free_function, before };

void encode_line_protocol(benchmark::State& st, bool meter_floats, Lp how = Lp::encoder, bool every_digit = false) {
  const Catalog cat = catalog();
  const auto b = every_digit ? readings() : batch(meter_floats);
  lp::Options o;
  lp::Encoder enc(o);
  std::string buf;
  for (auto _ : st) {
    buf.clear();
    switch (how) {
      case Lp::encoder:
        for (const Sample& s : b) (void)enc.append(buf, s, cat.devices[s.device]);
        break;
      case Lp::free_function:
        for (const Sample& s : b) (void)lp::append_sample(buf, s, cat.devices[s.device], o);
        break;
      case Lp::before:
        for (const Sample& s : b) (void)reference::lp_append_sample(buf, s, cat.devices[s.device], o);
        break;
    }
    benchmark::DoNotOptimize(buf.data());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kBatch));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * buf.size()));
  st.counters["bytes_per_point"] = static_cast<double>(buf.size()) / kBatch;
  if (meter_floats && how == Lp::encoder) {
    // What the same points took when every value was written as a double (64.12857055664062).
    std::size_t extra = 0;
    char a[32], d[32];
    for (const Sample& s : b)
      for (std::size_t i = 0; i < s.count; ++i)
        extra += static_cast<std::size_t>(std::to_chars(d, d + sizeof d, s.values[i]).ptr - d) -
                 static_cast<std::size_t>(pm500::to_chars_measured(a, a + sizeof a, s.values[i]).ptr - a);
    st.counters["bytes_per_point_as_double"] = static_cast<double>(buf.size() + extra) / kBatch;
  }
}

// Values with double precision (before values scaled in the gateway were rounded to float).
void BM_encode_line_protocol(benchmark::State& st) { encode_line_protocol(st, false); }
void BM_encode_line_protocol_before(benchmark::State& st) { encode_line_protocol(st, false, Lp::before); }
// Float32 values, as from the meter or scaled in the gateway: written at float precision.
void BM_encode_line_protocol_meter_floats(benchmark::State& st) { encode_line_protocol(st, true); }
// Readings with every digit (readings()).
void BM_encode_line_protocol_meter_readings(benchmark::State& st) {
  encode_line_protocol(st, true, Lp::encoder, true);
}
void BM_encode_line_protocol_meter_readings_before(benchmark::State& st) {
  encode_line_protocol(st, true, Lp::before, true);
}
void BM_encode_line_protocol_meter_floats_before(benchmark::State& st) { encode_line_protocol(st, true, Lp::before); }
// lp::append_sample(), which renders the names per call (for one-off lines).
void BM_encode_line_protocol_meter_floats_uncached(benchmark::State& st) {
  encode_line_protocol(st, true, Lp::free_function);
}

enum class Js { encoder, free_function, before };

// JSON documents as the MQTT sink (one per sample) and the file sink (format = "json") write them.
void encode_json(benchmark::State& st, Js how) {
  const Catalog cat = catalog();
  const auto b = batch(true);
  json::Encoder enc;
  std::string buf;
  for (auto _ : st) {
    buf.clear();
    for (const Sample& s : b) {
      const DeviceMeta* m = &cat.devices[s.device];
      switch (how) {
        case Js::encoder: enc.append_sample(buf, s, m); break;
        case Js::free_function: json::append_sample(buf, s, m); break;
        case Js::before: reference::json_append_sample(buf, s, m); break;
      }
      buf += '\n';
    }
    benchmark::DoNotOptimize(buf.data());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kBatch));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * buf.size()));
  st.counters["bytes_per_point"] = static_cast<double>(buf.size()) / kBatch;
}

void BM_encode_json(benchmark::State& st) { encode_json(st, Js::encoder); }
void BM_encode_json_uncached(benchmark::State& st) { encode_json(st, Js::free_function); }
void BM_encode_json_before(benchmark::State& st) { encode_json(st, Js::before); }

void BM_encode_naive_iostream(benchmark::State& st) {
  const Catalog cat = catalog();
  const auto b = batch();
  std::size_t bytes = 0;
  for (auto _ : st) {
    std::string out = naive_encode(b, cat, "powermonitor_500");
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kBatch));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * bytes));
  st.counters["bytes_per_point"] = static_cast<double>(bytes) / kBatch;
}

void BM_encode_line_protocol_gzip(benchmark::State& st) {
  const Catalog cat = catalog();
  const auto b = batch();
  lp::Encoder enc;
  std::string buf, gz;
  influx::Gzip gzip(1);
  for (auto _ : st) {
    buf.clear();
    for (const Sample& s : b) (void)enc.append(buf, s, cat.devices[s.device]);
    gzip.compress(buf, gz);
    benchmark::DoNotOptimize(gz.data());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kBatch));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * buf.size()));
  st.counters["gzip_ratio"] = static_cast<double>(buf.size()) / static_cast<double>(gz.size());
}

}  // namespace

BENCHMARK(BM_encode_line_protocol);
BENCHMARK(BM_encode_line_protocol_before);
BENCHMARK(BM_encode_line_protocol_meter_floats);
BENCHMARK(BM_encode_line_protocol_meter_floats_before);
BENCHMARK(BM_encode_line_protocol_meter_readings);
BENCHMARK(BM_encode_line_protocol_meter_readings_before);
BENCHMARK(BM_encode_line_protocol_meter_floats_uncached);
BENCHMARK(BM_encode_json);
BENCHMARK(BM_encode_json_uncached);
BENCHMARK(BM_encode_json_before);
BENCHMARK(BM_encode_naive_iostream);
BENCHMARK(BM_encode_line_protocol_gzip);
