#include "pipeline/disk_space.hpp"

#include <cstdio>

#include <sys/statvfs.h>

#include <spdlog/spdlog.h>

namespace pm500 {
namespace {

constexpr std::string_view kSubject = "state_dir";

std::string mib(std::uint64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return b;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(DiskSpace::Clock::now().time_since_epoch()).count();
}

}  // namespace

DiskSpace::DiskSpace(std::filesystem::path dir, std::uint64_t reserve_bytes, ConditionSink* conditions)
    : dir_(std::move(dir)), reserve_(reserve_bytes), conditions_(conditions) {
  std::uint64_t f = 0, t = 0;
  if (read_free(f, t)) {
    free_.store(f, std::memory_order_relaxed);
    total_.store(t, std::memory_order_relaxed);
  }
}

bool DiskSpace::read_free(std::uint64_t& free_bytes, std::uint64_t& total_bytes) const {
  struct statvfs v{};
  if (::statvfs(dir_.c_str(), &v) != 0) return false;
  free_bytes = static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
  total_bytes = static_cast<std::uint64_t>(v.f_blocks) * v.f_frsize;
  return true;
}

bool DiskSpace::room_for(std::uint64_t bytes) {
  std::uint64_t f = 0, t = 0;
  if (!read_free(f, t)) return true;  // cannot tell: let the write itself find out
  free_.store(f, std::memory_order_relaxed);
  total_.store(t, std::memory_order_relaxed);
  return f >= bytes && f - bytes >= reserve_;
}

void DiskSpace::note_no_space() { no_space_.store(true, std::memory_order_relaxed); }

void DiskSpace::note_dropped(std::uint64_t samples) {
  if (samples == 0) return;
  dropped_.fetch_add(samples, std::memory_order_relaxed);
  last_drop_ns_.store(now_ns(), std::memory_order_relaxed);
  std::lock_guard lk(check_mu_);
  raise_locked();
}

void DiskSpace::raise_locked() {
  const Snapshot s = snapshot();
  const std::string evidence = describe(s);
  if (!raised_.exchange(true, std::memory_order_relaxed)) spdlog::warn("condition pipeline.disk_full raised: {}", evidence);
  // A repeated raise refreshes the evidence: the numbers shown are the counters' now.
  if (conditions_) conditions_->raise(condition::kDiskFull, kSubject, evidence);
}

void DiskSpace::check(Clock::time_point now) {
  std::lock_guard lk(check_mu_);
  if (now < next_check_) return;
  next_check_ = now + std::chrono::seconds(1);
  std::uint64_t f = 0, t = 0;
  if (!read_free(f, t)) return;
  free_.store(f, std::memory_order_relaxed);
  total_.store(t, std::memory_order_relaxed);
  // Clear only with a margin above the reserve (a tenth of it, at least 1 MiB) and a quiet second
  // without drops, so a disk hovering at the reserve does not raise and clear every second.
  const std::uint64_t margin = std::max<std::uint64_t>(reserve_ / 10, 1u << 20);
  const bool recent_drop = now_ns() - last_drop_ns_.load(std::memory_order_relaxed) < 1'000'000'000;
  if (f >= reserve_ + margin && !recent_drop) no_space_.store(false, std::memory_order_relaxed);
  const bool short_now = f < reserve_ || no_space_.load(std::memory_order_relaxed) || (raised_ && (f < reserve_ + margin || recent_drop));
  if (short_now) {
    raise_locked();
  } else if (raised_.exchange(false, std::memory_order_relaxed)) {
    spdlog::info("condition pipeline.disk_full cleared: {} free on {}", mib(f), dir_.string());
    if (conditions_) conditions_->clear(condition::kDiskFull, kSubject);
  }
}

DiskSpace::Snapshot DiskSpace::snapshot() const {
  Snapshot s;
  s.free_bytes = free_.load(std::memory_order_relaxed);
  s.total_bytes = total_.load(std::memory_order_relaxed);
  s.reserve_bytes = reserve_;
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.short_of_space = raised_.load(std::memory_order_relaxed);
  return s;
}

std::string DiskSpace::describe(const Snapshot& s) const {
  return dir_.string() + ": " + mib(s.free_bytes) + " free of " + mib(s.total_bytes) + " (reserve " +
         mib(s.reserve_bytes) + ", [pipeline] disk_reserve_mb); " + std::to_string(s.dropped) +
         " spooled samples dropped for disk space so far, oldest first; free space on that filesystem, move "
         "state_dir to a larger volume, or lower the sinks' spool_max_mb and the file sink's max_mb x max_files";
}

}  // namespace pm500
