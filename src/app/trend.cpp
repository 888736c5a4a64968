#include "app/trend.hpp"

#include <bit>
#include <cmath>
#include <limits>

namespace pm500::app {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

constexpr std::string_view kDefaultNames[] = {"voltage_ll_avg_v", "current_l1_a",       "current_l2_a", "current_l3_a",
                                              "active_power_total_kw", "power_factor_total", "frequency_hz"};

}  // namespace

// One resolution of one value: the open bucket's running statistics and the closed buckets.
struct Trend::Ring {
  std::int64_t step = 0;
  std::size_t slots = 0;
  bool min_max = false;  // keep min and max per bucket (coarse), or only the mean (fine)
  std::unique_ptr<float[]> mean, min, max;
  std::int64_t open = std::numeric_limits<std::int64_t>::min();  // bucket number of the open bucket
  // The open bucket's span of source time, [open_from, open_to): a sample inside it needs no
  // division to find its bucket (nearly every sample). Empty until the first bucket opens.
  std::int64_t open_from = 0, open_to = 0;
  double sum = 0;
  float lo = 0, hi = 0;
  std::uint32_t n = 0;

  Ring(std::int64_t step_ns, std::size_t count, bool keep_min_max)
      : step(step_ns), slots(count), min_max(keep_min_max), mean(new float[count]) {
    std::fill_n(mean.get(), slots, kNaN);
    if (min_max) {
      min.reset(new float[count]);
      max.reset(new float[count]);
      std::fill_n(min.get(), slots, kNaN);
      std::fill_n(max.get(), slots, kNaN);
    }
  }

  std::size_t slot(std::int64_t bucket) const { return static_cast<std::size_t>(bucket % static_cast<std::int64_t>(slots)); }

  void store(std::int64_t bucket, float lo_v, float mean_v, float hi_v) {
    const std::size_t i = slot(bucket);
    mean[i] = mean_v;
    if (min_max) {
      min[i] = lo_v;
      max[i] = hi_v;
    }
  }

  TrendBucket open_bucket() const {
    if (n == 0) return {kNaN, kNaN, kNaN};
    const auto m = static_cast<float>(sum / n);
    return {min_max ? lo : m, m, min_max ? hi : m};
  }

  // Closes the open bucket and opens the one holding t_ns; false when t_ns is not kept.
  [[gnu::noinline]] bool open_at(std::int64_t t_ns) {
    const std::int64_t b = floor_div(t_ns, step);
    if (b < 0) return false;
    if (b < open) return false;  // older than the open bucket (the clock stepped back): not kept
    if (open >= 0) {
      const TrendBucket done = open_bucket();
      store(open, done.min, done.mean, done.max);
      // Buckets nothing arrived in read as NaN (at most one lap of the ring).
      for (std::int64_t k = open + 1; k < b && k <= open + static_cast<std::int64_t>(slots); ++k)
        store(k, kNaN, kNaN, kNaN);
    }
    open = b;
    open_from = b * step;
    open_to = open_from + step;
    sum = 0;
    n = 0;
    lo = std::numeric_limits<float>::infinity();  // the first value replaces both
    hi = -lo;
    return true;
  }

  // Inlined into Trend::add: for a sample in the open bucket, a few instructions.
  [[gnu::always_inline]] void add(std::int64_t t_ns, double v) {
    if ((t_ns < open_from || t_ns >= open_to) && !open_at(t_ns)) return;
    if (!std::isfinite(v)) return;
    const auto f = static_cast<float>(v);
    if (f < lo) lo = f;
    if (f > hi) hi = f;
    sum += v;
    ++n;
  }

  std::vector<TrendBucket> read(std::int64_t now_ns) const {
    std::vector<TrendBucket> out(slots, TrendBucket{kNaN, kNaN, kNaN});
    const std::int64_t last = floor_div(now_ns, step);
    const auto first = last - static_cast<std::int64_t>(slots) + 1;
    for (std::size_t j = 0; j < slots; ++j) {
      const std::int64_t k = first + static_cast<std::int64_t>(j);
      if (k < 0 || k > open) continue;  // nothing after the open bucket yet
      if (k == open) {
        out[j] = open_bucket();
      } else if (k > open - static_cast<std::int64_t>(slots)) {
        const std::size_t i = slot(k);
        out[j] = {min_max ? min[i] : mean[i], mean[i], min_max ? max[i] : mean[i]};
      }
    }
    return out;
  }
};

std::span<const std::string_view> Trend::default_names() { return kDefaultNames; }

std::vector<std::string_view> Trend::names_of(const device::Profile& profile) {
  if (!profile.trend) return {default_names().begin(), default_names().end()};
  return {profile.trend->begin(), profile.trend->end()};
}

std::vector<Trend::Channel> Trend::channels(const device::Profile& profile, std::span<const std::string_view> names) {
  std::vector<Channel> out;
  auto find = [&](std::string_view name) {
    for (std::uint16_t a = device::kFirstAssembly; a <= device::kLastAssembly; ++a)
      if (const device::Assembly* asmb = profile.assembly(a))
        for (std::size_t i = 0; i < asmb->elements.size(); ++i)
          if (asmb->elements[i].name == name) {
            out.push_back({asmb->elements[i].name, asmb->elements[i].unit, a,
                           static_cast<std::uint8_t>(i % kMaxSampleValues), static_cast<std::uint8_t>(i / kMaxSampleValues)});
            return;
          }
  };
  for (auto name : names)
    if (out.size() < kMaxValues) find(name);
  return out;
}

Trend::Trend(std::vector<Channel> channels) : channels_(std::move(channels)) {
  if (channels_.size() > kMaxValues) channels_.resize(kMaxValues);
  fine_.reserve(channels_.size());
  coarse_.reserve(channels_.size());
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    fine_.emplace_back(kFineStepNs, kFineSlots, false);
    coarse_.emplace_back(kCoarseStepNs, kCoarseSlots, true);
    if (channels_[c].assembly >= device::kFirstAssembly && channels_[c].assembly <= device::kLastAssembly)
      of_assembly_[channels_[c].assembly - device::kFirstAssembly] |= 1u << c;
  }
}

Trend::~Trend() = default;

void Trend::add(const pm500::Sample& s) noexcept {
  if (s.assembly < device::kFirstAssembly || s.assembly > device::kLastAssembly) return;
  for (std::uint32_t m = of_assembly_[s.assembly - device::kFirstAssembly]; m != 0; m &= m - 1) {
    const auto c = static_cast<std::size_t>(std::countr_zero(m));
    const Channel& ch = channels_[c];
    if (ch.part != s.part || ch.index >= s.count) continue;
    fine_[c].add(s.source_time_ns, s.values[ch.index]);
    coarse_[c].add(s.source_time_ns, s.values[ch.index]);
  }
}

std::vector<Trend::Series> Trend::read(std::int64_t now_ns) const {
  std::vector<Series> out;
  out.reserve(channels_.size());
  for (std::size_t c = 0; c < channels_.size(); ++c)
    out.push_back({channels_[c].name, channels_[c].unit, fine_[c].read(now_ns), coarse_[c].read(now_ns)});
  return out;
}

}  // namespace pm500::app
