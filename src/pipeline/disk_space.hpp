// DiskSpace: the free space of the filesystem under state_dir, shared by every sink's spool.
//
// The spools, the dead-letter files and the file sink's output all live on one filesystem. A
// spool asks room_for() before each append: when the append would leave less than the reserve
// free, the spool deletes its own oldest segment first (those samples counted, exactly, as
// dropped for disk space), and when it has nothing left to delete it drops the incoming batch
// -- the oldest samples still waiting -- instead of waiting for space: a sink whose destination
// is up never stalls behind a full disk. A write that fails with ENOSPC or EDQUOT counts the
// same way (another program may fill the disk between two checks).
//
// While space is short, check() raises `pipeline.disk_full` (subject "state_dir") with the path,
// the free space, the reserve, the samples dropped so far and the fix; it clears once the free
// space is back above the reserve (plus a margin, so it does not flap) and nothing has been
// dropped for a second.
//
// Thread-safe: every delivery thread shares one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

#include "pipeline/conditions.hpp"

namespace pm500 {

class DiskSpace {
 public:
  using Clock = std::chrono::steady_clock;

  // conditions: where pipeline.disk_full is raised and cleared (null: logged only).
  DiskSpace(std::filesystem::path dir, std::uint64_t reserve_bytes, ConditionSink* conditions = nullptr);

  // True when writing `bytes` more still leaves the reserve free. Reads the filesystem's free
  // space (statvfs, about a microsecond; called once per spooled batch, never per sample).
  bool room_for(std::uint64_t bytes);
  // A write failed for lack of space (ENOSPC, EDQUOT): short until the space is back.
  void note_no_space();
  // Samples a spool deleted (or refused) to stay within the disk. Raises pipeline.disk_full at
  // once, or refreshes its evidence, so the count it shows is the counter's.
  void note_dropped(std::uint64_t samples);

  // Raises or clears pipeline.disk_full. Cheap when called often (every delivery thread calls it
  // in its housekeeping): does its work at most once per second.
  void check(Clock::time_point now);

  struct Snapshot {
    std::uint64_t free_bytes = 0;   // available to this process (f_bavail)
    std::uint64_t total_bytes = 0;  // size of the filesystem
    std::uint64_t reserve_bytes = 0;
    std::uint64_t dropped = 0;      // samples dropped for disk space since start
    bool short_of_space = false;    // pipeline.disk_full is raised
  };
  Snapshot snapshot() const;
  const std::filesystem::path& dir() const noexcept { return dir_; }

  // The evidence line of pipeline.disk_full for a snapshot.
  std::string describe(const Snapshot& s) const;

 private:
  bool read_free(std::uint64_t& free_bytes, std::uint64_t& total_bytes) const;
  void raise_locked();

  const std::filesystem::path dir_;
  const std::uint64_t reserve_;
  ConditionSink* const conditions_;
  std::atomic<std::uint64_t> free_{0}, total_{0}, dropped_{0};
  std::atomic<bool> no_space_{false};   // an ENOSPC was seen and space has not come back yet
  std::atomic<bool> raised_{false};
  std::atomic<std::int64_t> last_drop_ns_{0};
  std::mutex check_mu_;
  Clock::time_point next_check_{};
};

}  // namespace pm500
