// Series accounting for historian.high_cardinality: how many distinct series (measurement + tag
// set) the sink has written, and whether a device's tag set changes from one sample to the next
// (a tag value that changes with every sample creates a new series each time and makes
// dashboards slow). Fed with the series key of every encoded line; cheap (one hash per line).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace pm500::influx {

class SeriesTracker {
 public:
  explicit SeriesTracker(std::uint64_t max_series) : max_series_(max_series) {}

  // One written line of `device`; `series_key` is the line up to its first unescaped space.
  void observe(std::uint32_t device, std::string_view series_key);

  struct Verdict {
    bool high = false;
    std::string evidence;
  };
  // Judges what was seen since the last call (series count: since start) and starts a new window.
  Verdict verdict_and_reset();

  std::uint64_t series() const { return series_count_; }

 private:
  struct Device {
    std::uint64_t last = 0;
    std::uint64_t samples = 0, changes = 0;
    std::string last_key;       // the key behind `last`
    std::string before, after;  // one example of a change, for the evidence
  };
  std::uint64_t max_series_;
  std::unordered_set<std::uint64_t> seen_;  // bounded: stops growing past 2 x max_series
  std::uint64_t series_count_ = 0;
  bool saturated_ = false;
  std::unordered_map<std::uint32_t, Device> devices_;
};

// The series key of a line-protocol line: up to the first space that is not escaped.
std::string_view series_key(std::string_view line);

}  // namespace pm500::influx
