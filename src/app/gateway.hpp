// The running gateway: owns the scanner, the ring, the sinks and the status server, and stops
// them in order (Forward Close every connection, drain the ring to the sinks or their spools,
// UnRegisterSession).
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <vector>

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

// Runs until SIGTERM or SIGINT; returns the process exit code. Under systemd (NOTIFY_SOCKET) it
// reports READY=1 once started, WATCHDOG=1 while every worker thread makes progress, and
// STOPPING=1 when the stop begins.
int run_until_signalled(const config::GatewayConfig& cfg);

}  // namespace pm500::app
