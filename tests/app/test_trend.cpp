// Trend (src/app/trend.hpp): the 10 s and 5 min buckets against a reference computed from the
// raw samples by grouping them by bucket, with irregular spacing, silent gaps, NaN values, more
// than one lap of both rings, a clock that steps back, and values of other assemblies.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>

#include "app/trend.hpp"

using namespace pm500;
using namespace pm500::app;

namespace {

struct Acc {
  double sum = 0;
  float lo = 0, hi = 0;
  int n = 0;
  void add(double v) {
    const auto f = static_cast<float>(v);
    if (n == 0 || f < lo) lo = f;
    if (n == 0 || f > hi) hi = f;
    sum += v;
    ++n;
  }
};

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The expected buckets of one resolution: every sample that was kept, grouped by bucket.
std::vector<TrendBucket> reference(const std::vector<std::pair<std::int64_t, double>>& kept, std::int64_t step,
                                   std::size_t slots, std::int64_t now_ns) {
  std::map<std::int64_t, Acc> by;
  for (const auto& [t, v] : kept) {
    if (std::isfinite(v)) by[floor_div(t, step)].add(v);
  }
  std::vector<TrendBucket> out;
  const std::int64_t last = floor_div(now_ns, step);
  for (std::int64_t k = last - static_cast<std::int64_t>(slots) + 1; k <= last; ++k) {
    auto it = by.find(k);
    if (it == by.end()) {
      out.push_back({NAN, NAN, NAN});
    } else {
      const auto m = static_cast<float>(it->second.sum / it->second.n);
      out.push_back({it->second.lo, m, it->second.hi});
    }
  }
  return out;
}

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

}  // namespace

TEST_CASE("trend buckets equal a reference computed from the raw samples") {
  Trend::Channel volts{"voltage_ll_avg_v", "V", 101, 3};
  Trend::Channel hz{"frequency_hz", "Hz", 102, 0};
  Trend trend({volts, hz});
  std::mt19937_64 rng(18);
  std::uniform_real_distribution<double> value(380, 420);
  // Channel 0 as each ring keeps it: a sample older than that ring's open bucket is dropped.
  std::vector<std::pair<std::int64_t, double>> kept_fine, kept_coarse;
  std::int64_t t = 1'700'000'000'000'000'000;          // ns
  std::int64_t newest = 0;
  const std::int64_t end = t + 30LL * 3600 * 1'000'000'000;  // 30 h: more than a lap of both rings
  int stepped_back = 0;
  while (t < end) {
    // Mostly 1 s apart, sometimes 0.2 s, now and then a silent gap of up to 10 min.
    const auto r = rng() % 1000;
    t += r < 990 ? 1'000'000'000 : r < 999 ? 200'000'000 : static_cast<std::int64_t>(rng() % 600) * 1'000'000'000;
    Sample s;
    s.assembly = 101;
    s.count = 4;
    s.source_time_ns = t;
    s.values[3] = rng() % 5000 == 0 ? NAN : value(rng);
    // Once in a while the clock steps back 15 s: a sample older than the open bucket is dropped.
    if (rng() % 20000 == 0) {
      s.source_time_ns = t - 15'000'000'000;
      ++stepped_back;
    }
    trend.add(s);
    for (auto [list, step] : {std::pair{&kept_fine, Trend::kFineStepNs}, std::pair{&kept_coarse, Trend::kCoarseStepNs}})
      if (floor_div(s.source_time_ns, step) >= floor_div(newest, step)) list->emplace_back(s.source_time_ns, s.values[3]);
    newest = std::max(newest, s.source_time_ns);
    Sample other;  // another assembly: not this channel's values
    other.assembly = 102;
    other.count = 4;
    other.source_time_ns = t;
    other.values[0] = 50.0;
    other.values[3] = 1e9;
    trend.add(other);
  }
  CAPTURE(stepped_back);
  for (std::int64_t now : {t, t + 7'000'000'000, t + 3'600'000'000'000}) {  // now, a little later, an hour later
    CAPTURE(now);
    auto series = trend.read(now);
    REQUIRE(series.size() == 2);
    CHECK(series[0].name == "voltage_ll_avg_v");
    const auto fine = reference(kept_fine, Trend::kFineStepNs, Trend::kFineSlots, now);
    const auto coarse = reference(kept_coarse, Trend::kCoarseStepNs, Trend::kCoarseSlots, now);
    REQUIRE(series[0].fine.size() == fine.size());
    REQUIRE(series[0].coarse.size() == coarse.size());
    int with_data = 0;
    for (std::size_t i = 0; i < fine.size(); ++i) {
      CAPTURE(i);
      CHECK(same(series[0].fine[i].mean, fine[i].mean));
      with_data += !std::isnan(fine[i].mean);
    }
    for (std::size_t i = 0; i < coarse.size(); ++i) {
      CAPTURE(i);
      CHECK(same(series[0].coarse[i].min, coarse[i].min));
      CHECK(same(series[0].coarse[i].mean, coarse[i].mean));
      CHECK(same(series[0].coarse[i].max, coarse[i].max));
    }
    if (now == t) CHECK(with_data > 200);  // the test means something: most buckets hold data
    // Frequency came only from assembly 102 at 50 Hz: every bucket with data says so.
    for (const auto& b : series[1].coarse)
      if (!std::isnan(b.mean)) CHECK((b.min == 50.f && b.mean == 50.f && b.max == 50.f));
  }
}

TEST_CASE("trend channels follow the profile's element names; memory per value is fixed") {
  device::Profile p;
  auto& a = p.assemblies[101 - device::kFirstAssembly];
  a.instance = 101;
  for (const char* n : {"frequency_hz", "current_l1_a", "voltage_ll_avg_v"}) a.elements.push_back({.name = n, .unit = "x"});
  auto ch = Trend::channels(p, Trend::default_names());
  REQUIRE(ch.size() == 3);
  CHECK(ch[0].name == "voltage_ll_avg_v");  // in the order of the names asked for
  CHECK(ch[0].index == 2);
  CHECK(ch[2].name == "frequency_hz");
  CHECK(ch[2].assembly == 101);
  CHECK(Trend::kBytesPerValue == 360 * 4 + 288 * 12);
}

TEST_CASE("a meter trends its profile's [trend] values, in their order; the default without them") {
  device::Profile p;
  auto& a = p.assemblies[101 - device::kFirstAssembly];
  a.instance = 101;
  for (const char* n : {"frequency_hz", "current_l1_a", "voltage_ll_avg_v", "voltage_l1_n_v"})
    a.elements.push_back({.name = n, .unit = "x"});
  auto names = [](const std::vector<Trend::Channel>& ch) {
    std::vector<std::string> out;
    for (const auto& c : ch) out.push_back(c.name);
    return out;
  };
  CHECK(names(Trend::channels(p, Trend::names_of(p))) ==
        std::vector<std::string>{"voltage_ll_avg_v", "current_l1_a", "frequency_hz"});
  p.trend = std::vector<std::string>{"voltage_l1_n_v", "frequency_hz"};
  const auto ch = Trend::channels(p, Trend::names_of(p));
  CHECK(names(ch) == std::vector<std::string>{"voltage_l1_n_v", "frequency_hz"});
  // What /api/history serves is exactly these: a sample feeds them, nothing else is kept.
  Trend t(ch);
  pm500::Sample s{};
  s.assembly = 101;
  s.source_time_ns = 1'700'000'000'000'000'000;
  s.count = 4;
  s.values[0] = 50.0;
  s.values[3] = 277.0;
  t.add(s);
  const auto series = t.read(s.source_time_ns);
  REQUIRE(series.size() == 2);
  CHECK(series[0].name == "voltage_l1_n_v");
  CHECK(series[0].fine.back().mean == 277.0f);
  CHECK(series[1].fine.back().mean == 50.0f);
  p.trend = std::vector<std::string>{};
  CHECK(Trend::channels(p, Trend::names_of(p)).empty());  // values = []: none
}
