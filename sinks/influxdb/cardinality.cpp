#include "sinks/influxdb/cardinality.hpp"

#include <functional>

#include "sinks/influxdb/response.hpp"

namespace pm500::influx {

std::string_view series_key(std::string_view line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\')
      ++i;  // the next character is escaped
    else if (line[i] == ' ')
      return line.substr(0, i);
  }
  return line;
}

void SeriesTracker::observe(std::uint32_t device, std::string_view key) {
  const std::uint64_t h = std::hash<std::string_view>{}(key);
  if (!saturated_ && seen_.insert(h).second) {
    ++series_count_;
    if (seen_.size() > 2 * max_series_) saturated_ = true;  // enough to judge; stop spending memory
  }
  Device& d = devices_[device];
  if (d.samples > 0 && d.last != h) {
    if (d.changes++ == 0) {  // keep the first change as an example
      d.before = printable(d.last_key, 200);
      d.after = printable(key, 200);
    }
    d.last_key.assign(key);  // reuses its capacity: no allocation per sample
  } else if (d.samples == 0) {
    d.last_key.assign(key);
  }
  d.last = h;
  ++d.samples;
}

SeriesTracker::Verdict SeriesTracker::verdict_and_reset() {
  Verdict v;
  // A tag set that changed in more than half of a device's consecutive samples (at least 10):
  // one of its tag values changes with (nearly) every sample.
  for (auto& [dev, d] : devices_) {
    if (!v.high && d.samples >= 10 && d.changes * 2 > d.samples) {
      v.high = true;
      v.evidence = "device #" + std::to_string(dev) + ": the tag set changed " + std::to_string(d.changes) +
                   " times in " + std::to_string(d.samples) + " samples (e.g. \"" + d.before + "\" then \"" + d.after +
                   "\"): a tag value changes with every sample; move it to a field";
    }
    d.samples = d.changes = 0;
    d.before.clear();
    d.after.clear();
  }
  if (series_count_ > max_series_) {
    if (!v.evidence.empty()) v.evidence += "; ";
    v.high = true;
    v.evidence += std::string(saturated_ ? "more than " : "") + std::to_string(series_count_) +
                  " distinct series written (max_series = " + std::to_string(max_series_) + ")";
  }
  if (!v.high) v.evidence = std::to_string(series_count_) + " distinct series written";
  return v;
}

}  // namespace pm500::influx
