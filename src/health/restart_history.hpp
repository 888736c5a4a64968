// The gateway's start and stop history, kept in the state directory so that a container that
// restarts over and over (crashes, OOM kills, a watchdog) is noticed by the gateway itself:
// ops.restart_loop. A start with no clean stop before it means the previous run ended uncleanly.
//
//   auto h = health::RestartHistory::open(state_dir / "restart-history", now_ms);
//   if (h.unclean_within(10min) >= 3) registry.raise("ops.restart_loop", "", h.summary(10min));
//   ...
//   h.record_stop("SIGTERM");
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace pm500::health {

class RestartHistory {
 public:
  struct Entry {
    std::int64_t time_ms = 0;
    bool start = false;  // false: a clean stop
    std::string reason;  // for stops: "SIGTERM", "start failed: ..."
  };

  // Reads the file (a missing or damaged file is a fresh history), appends this start, and
  // keeps the newest kKeep entries.
  static RestartHistory open(std::filesystem::path file, std::int64_t now_ms);
  void record_stop(const std::string& reason, std::int64_t now_ms);

  // Stop reasons that mean the run failed (a restart loop in a container), not a clean stop.
  static constexpr std::string_view kStartFailed = "start failed: ";
  static constexpr std::string_view kConfigError = "configuration error: ";

  // Starts before this one within the window, and those of them that ended without a clean stop.
  std::size_t starts_within(std::chrono::milliseconds window) const;
  std::size_t unclean_within(std::chrono::milliseconds window) const;
  // Runs within the window that stopped because they could not start (kStartFailed,
  // kConfigError): a configuration error or a missing environment variable loops a container.
  std::size_t failed_within(std::chrono::milliseconds window) const;
  std::uint64_t total_starts() const { return total_starts_; }
  std::string summary(std::chrono::milliseconds window) const;
  const std::vector<Entry>& entries() const { return entries_; }

  static constexpr std::size_t kKeep = 200;

 private:
  void save() const;
  std::filesystem::path file_;
  std::vector<Entry> entries_;
  std::int64_t now_ms_ = 0;
  std::uint64_t total_starts_ = 0;
};

}  // namespace pm500::health
