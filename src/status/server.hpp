// The embedded HTTP server: the status page, /api/status, /metrics, /health/live, /health/ready.
//
//   status::Server http(cfg.status, [&] { return gateway.view(); });
//   if (auto r = http.start(); !r) { log->critical("{}", r.error()); return 1; }
//   ...
//   http.stop();  // also done by the destructor
//
// The source callback builds a GatewayView. It is called from the server's worker threads, one
// call at a time (never concurrently), at most once per `min_refresh`: requests arriving in
// that window share the last view. So it must be safe to call from a thread other than the one
// that started the server, but it need not be reentrant.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "config/config.hpp"
#include "pm500/expected.hpp"
#include "status/render.hpp"
#include "status/snapshot.hpp"

namespace pm500::status {

// The readiness rule as configured in [status].
ReadyRule ready_rule(const config::StatusSection& cfg);

// The page served at "/", embedded at build time from src/status/page/index.html.
std::string_view page_html();

class Server {
 public:
  using Source = std::function<GatewayView()>;

  struct Tuning {
    std::chrono::milliseconds min_refresh{250};  // views younger than this are reused
    std::size_t max_queued = 64;                  // accepted connections waiting for a worker
  };

  Server(const config::StatusSection& cfg, Source source);
  Server(const config::StatusSection& cfg, Source source, Tuning tuning);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listen address (so a port in use is reported here, with the fix) and starts the
  // listener thread and the worker pool. A port of 0 picks a free port (tests); see port().
  pm500::expected<void, std::string> start();
  // Stops accepting, finishes the requests in progress and joins every thread. Idempotent.
  void stop();

  int port() const;         // the bound port, after start()
  std::string url() const;  // "http://127.0.0.1:8080"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pm500::status
