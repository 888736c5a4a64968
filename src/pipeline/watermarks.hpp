// Watermarks: per (device name, assembly), the last sample a sink took into custody (delivered
// or spooled), persisted at the spool's fsync interval in state_dir/sinks/<name>/watermarks.
//
// After a restart -- orderly or kill -9 -- the first new sample of each device is compared with
// the persisted one, and the gap is reported: how long, and how many samples are missing. That
// is all a restarted process can see of what it lost (the ring is memory).
//
// Keyed by the device's configured name, not its position in the list, so a configuration that
// adds or reorders devices compares each with its own history. The count of missing samples
// comes from the CIP sequence count only when both samples came on the same Class 1 connection
// (the mark records its T->O connection id: a listen-only consumer of a multicast stream that
// outlived the restart) and the count agrees with the time elapsed at the device's RPI. A new
// connection starts its count over, so its numbers say nothing about the old one's: then, as
// when the count does not agree with the time, the time and the RPI give the estimate and the
// report says which.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500 {

class Watermarks {
 public:
  struct Mark {
    std::int64_t time_ns = 0;
    std::uint16_t sequence = 0;
    std::uint32_t connection = 0;  // T->O connection id; 0 = not known (explicit, or an older file)
  };
  struct Gap {
    std::string device;  // configured name
    std::uint16_t assembly = 0;
    Mark last;   // persisted by the previous run
    Mark first;  // first of this run
    std::uint64_t missing = 0;  // samples missing (0 when unknown)
    enum class Basis { unknown, sequence, time } basis = Basis::unknown;
    std::int64_t rpi_ms = 0;     // used for Basis::time
    bool new_connection = false;  // the two came on different connections: counts not compared
    std::string describe() const;
  };

  // catalog names the devices (null: "device <index>", as a test without one).
  explicit Watermarks(std::filesystem::path file, const Catalog* catalog = nullptr)
      : file_(std::move(file)), catalog_(catalog) {}
  // Loads the previous run's marks; a missing or damaged file loads nothing.
  void load();
  // Records custody of a sample. Returns the restart gap on the first sample of a key that the
  // previous run had seen and that does not follow it directly.
  std::optional<Gap> update(const Sample& s);
  // Writes the file (atomically, by rename) when something changed since the last persist.
  pm500::expected<void, std::string> persist();

  // The gap between two marks of one stream (exposed for tests). Sequence counts are compared
  // only within one connection (equal ids, or an id not known).
  static Gap measure(std::string device, std::uint16_t assembly, Mark last, Mark first, bool class1,
                     std::int64_t rpi_ms);

 private:
  struct Entry {
    Mark mark;
    bool previous_run = false;  // loaded from the file
    bool seen_this_run = false;
  };
  std::string key_of(const Sample& s) const;
  Entry& entry(const Sample& s);

  std::filesystem::path file_;
  const Catalog* catalog_;
  std::unordered_map<std::string, Entry> marks_;  // "<assembly>\t<device name>"
  std::vector<Entry*> by_index_;  // device index x 9 + assembly - 100 -> its entry (no key per sample)
  bool dirty_ = false;
};

}  // namespace pm500
