// Watermarks: per (device, assembly), the last sample a sink took into custody (delivered or
// spooled), persisted at the spool's fsync interval in state_dir/sinks/<name>/watermarks.
//
// After a restart -- orderly or kill -9 -- the first new sample of each device is compared with
// the persisted one, and the gap is reported: how long, and how many CIP sequence counts are
// missing. That is all a restarted process can see of what it lost (the ring is memory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500 {

class Watermarks {
 public:
  struct Mark {
    std::int64_t time_ns = 0;
    std::uint16_t sequence = 0;
  };
  struct Gap {
    std::uint32_t device = 0;
    std::uint16_t assembly = 0;
    Mark last;   // persisted by the previous run
    Mark first;  // first of this run
    // (first.sequence - last.sequence - 1) mod 2^16: a lower bound of the samples missing when
    // both come from Class 1 I/O; 0 when unknown (explicit reads carry no sequence).
    std::uint32_t missing_sequences = 0;
    std::string describe() const;
  };

  explicit Watermarks(std::filesystem::path file) : file_(std::move(file)) {}
  // Loads the previous run's marks; a missing or damaged file loads nothing.
  void load();
  // Records custody of a sample. Returns the restart gap on the first sample of a key that the
  // previous run had seen and that does not follow it directly.
  std::optional<Gap> update(const Sample& s);
  // Writes the file (atomically, by rename) when something changed since the last persist.
  pm500::expected<void, std::string> persist();

 private:
  struct Entry {
    Mark mark;
    bool seen_this_run = false;
  };
  std::filesystem::path file_;
  std::unordered_map<std::uint64_t, Entry> marks_;
  bool dirty_ = false;
};

}  // namespace pm500
