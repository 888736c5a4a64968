// The running gateway: owns the scanner, the ring, the sinks and the status server, and stops
// them in order (Forward Close every connection, drain the ring to the sinks or their spools,
// UnRegisterSession).
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <vector>

#include "app/reload.hpp"
#include "app/service.hpp"
#include "config/config.hpp"

namespace pm500::app {

class Gateway {
 public:
  explicit Gateway(const config::GatewayConfig& cfg);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Starts every component; returns an error text naming the cause and the fix.
  pm500::expected<void, std::string> start();
  // Called about once a second from the main thread: supervision, periodic reporting.
  void tick();
  // Reads the configuration file again and applies what changed that can change while running
  // (sinks: added, removed, changed); the rest is named in the outcome's restart_needed. An
  // invalid file changes nothing. Logs the outcome and keeps it for the status page. Main
  // thread, after start().
  ReloadOutcome reload();
  // The worker threads' loop counts (the scanner, each sink's delivery thread), for the
  // service watchdog. Thread-safe.
  std::vector<ThreadProgress> progress() const;
  // "2 device(s), 1 sink(s)": for the service manager's status line.
  std::string summary() const;
  // Orderly shutdown; loses nothing that was received. `reason` goes to the restart history.
  void stop(const std::string& reason = "stopped");

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs until SIGTERM or SIGINT, reloading the configuration on SIGHUP; returns the process exit
// code. Under systemd (NOTIFY_SOCKET) it reports READY=1 once started, RELOADING=1 and READY=1
// around each reload, WATCHDOG=1 while every worker thread makes progress, and STOPPING=1 when
// the stop begins.
int run_until_signalled(const config::GatewayConfig& cfg);

}  // namespace pm500::app
