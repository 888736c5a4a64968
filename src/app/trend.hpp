// Trend: the recent history of a meter's headline values, for the status page's sparklines and
// /api/history (docs/status-api.md). Per value two fixed-size rings, allocated once when the
// gateway starts:
//
//   fine    the last hour in 10 s buckets (360), the mean of each bucket
//   coarse  the last 24 h in 5 min buckets (288), min / mean / max of each bucket
//
// A bucket covers [k x step, (k + 1) x step) of the samples' source time; both rings are fed
// from the raw samples (the coarse buckets are not means of means). Adding a sample updates the
// open buckets' running min, max, sum and count and, when a sample opens a new bucket, writes
// the closed one into its slot: no allocation, no formatting. A bucket nothing arrived in (the
// meter was silent) reads as NaN. Memory: Trend::kBytesPerValue per value (4.9 KB), 34 KB for the
// seven default values of a meter, 68 MB at 2,000 meters.
//
// Not thread-safe: the owner (Devices) adds and reads under the device's lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "device/profile.hpp"
#include "pipeline/sample.hpp"

namespace pm500::app {

struct TrendBucket {
  float min, mean, max;  // NaN when no sample fell into the bucket
};

class Trend {
 public:
  static constexpr std::int64_t kFineStepNs = 10'000'000'000;
  static constexpr std::size_t kFineSlots = 360;  // 1 h
  static constexpr std::int64_t kCoarseStepNs = 300'000'000'000;
  static constexpr std::size_t kCoarseSlots = 288;  // 24 h
  static constexpr std::size_t kMaxValues = device::kMaxTrendValues;
  static constexpr std::size_t kBytesPerValue = kFineSlots * sizeof(float) + kCoarseSlots * sizeof(TrendBucket);

  // The headline values, by element name, in this order; those the profile lacks are left out.
  static std::span<const std::string_view> default_names();
  // What a meter with this profile trends: its [trend] values, or default_names().
  static std::vector<std::string_view> names_of(const device::Profile& profile);

  struct Channel {
    std::string name, unit;
    std::uint16_t assembly = 0;
    std::uint8_t index = 0;  // value index in the part's Sample (element 18 x part + index)
    std::uint8_t part = 0;   // Sample::part the element travels in
  };
  // The channels for `names` (at most kMaxValues) as the profile places them.
  static std::vector<Channel> channels(const device::Profile& profile, std::span<const std::string_view> names);

  explicit Trend(std::vector<Channel> channels);
  Trend(const Trend&) = delete;
  Trend& operator=(const Trend&) = delete;
  ~Trend();

  // One decoded and scaled sample: its values of the channels' assembly enter the open buckets.
  void add(const pm500::Sample& s) noexcept;

  struct Series {
    std::string name, unit;
    std::vector<TrendBucket> fine;    // kFineSlots buckets, oldest first; the last holds now_ns
    std::vector<TrendBucket> coarse;  // kCoarseSlots buckets, likewise
  };
  // Every channel's buckets up to the one holding now_ns (the open bucket so far included).
  std::vector<Series> read(std::int64_t now_ns) const;
  const std::vector<Channel>& channel_list() const { return channels_; }

 private:
  struct Ring;
  std::vector<Channel> channels_;
  std::vector<Ring> fine_, coarse_;  // one per channel, sized once
  // The channels of each assembly (bit c = channels_[c]), so add() visits only the sample's.
  std::array<std::uint32_t, device::kAssemblySlots> of_assembly_{};
};

}  // namespace pm500::app
