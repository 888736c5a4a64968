// The gateway under a service manager (systemd, Type=notify): READY=1 once it is started and
// serving, STOPPING=1 when the orderly stop begins, STATUS= lines for `systemctl status`, and
// WATCHDOG=1 from the main loop only while every worker thread makes progress.
//
// Progress is counted in loop turns, not in data: the scanner's event loop turns at least once
// a second and a delivery thread at least every poll interval, busy or idle, so a sink waiting
// for samples (or a meter that is down) still counts as alive, while a thread stuck in a system
// call or a client library's blocking call stops its count. ProgressWatch notices a count that
// has not moved for `stall_after`; the main loop then stops the watchdog pings and systemd
// restarts the gateway once WatchdogSec passes without one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pm500::app {

// systemd's notification protocol, through libsystemd's sd_notify(). Nothing is sent when
// NOTIFY_SOCKET is unset (a terminal, a container, a test) or the binary was built without
// libsystemd.
class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET and the watchdog's WATCHDOG_USEC (and WATCHDOG_PID, which must be ours).
  ServiceNotifier();

  bool enabled() const noexcept { return enabled_; }
  // The service manager's watchdog interval (WatchdogSec=); zero when there is none.
  std::chrono::microseconds watchdog_interval() const noexcept { return watchdog_; }

  void ready(std::string_view status);
  // RELOADING=1 (with MONOTONIC_USEC, as systemd asks): a reload began; ready() ends it.
  void reloading(std::string_view status);
  void stopping(std::string_view status);
  void status(std::string_view status);
  // WATCHDOG=1, when the service manager asked for it (WatchdogSec=).
  void watchdog();

  // Whether this binary speaks the protocol at all (libsystemd was found at build time).
  static bool built_in() noexcept;

 private:
  void send(const std::string& message);
  bool enabled_ = false;
  std::chrono::microseconds watchdog_{0};
};

// One worker thread's progress counter, as read now.
struct ThreadProgress {
  std::string name;     // "scanner", "sink file"
  std::uint64_t turns;  // loop turns so far
};

// Remembers when each thread's count last moved and names the ones that have been still for
// longer than `stall_after`. A thread seen for the first time counts as moving now.
class ProgressWatch {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ProgressWatch(std::chrono::milliseconds stall_after) : stall_after_(stall_after) {}

  struct Stalled {
    std::string name;
    std::chrono::milliseconds still_for;
  };
  // Takes the current counts; returns the threads that have not moved for stall_after.
  std::vector<Stalled> update(const std::vector<ThreadProgress>& now_counts, Clock::time_point now);

  std::chrono::milliseconds stall_after() const noexcept { return stall_after_; }

  // How long a thread may stay still before it counts as stuck: half the watchdog interval (so
  // systemd acts within 1.5 x WatchdogSec of the stall), at least 2 s (the scanner's loop may
  // wait a whole second, and the main loop looks once a second); 30 s without a watchdog, when
  // a stall is only logged.
  static std::chrono::milliseconds stall_limit_for(std::chrono::microseconds watchdog);

 private:
  struct Seen {
    std::string name;
    std::uint64_t turns;
    Clock::time_point moved_at;
  };
  std::chrono::milliseconds stall_after_;
  std::vector<Seen> seen_;
};

// "sink file (4 s)", "scanner (3 s), sink mqtt (5 s)": for logs and STATUS=.
std::string describe(const std::vector<ProgressWatch::Stalled>& stalled);

}  // namespace pm500::app
