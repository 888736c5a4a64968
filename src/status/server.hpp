// The embedded HTTP server: the status page, /api/status, /metrics, /health/live, /health/ready.
//
//   status::Server http(cfg.status, [&] { return gateway.view(); });
//   if (auto r = http.start(); !r) { log->critical("{}", r.error()); return 1; }
//   ...
//   http.stop();  // also done by the destructor
//
// One epoll thread owns every socket: it accepts, reads requests without blocking, enforces
// the deadlines and the connection limits, answers what needs no view (the page, errors) and
// writes every answer. Only complete requests reach a thread that may block: /api/status and
// /metrics go to `[status] threads` workers, /health/* to a thread of their own, so a probe
// never waits behind a slow client or a busy worker. Limits and timeouts: src/status/README.md.
//
// The source callback builds a GatewayView. It is called from the server's worker threads, one
// call at a time (never concurrently), at most once per `min_refresh`: requests arriving in
// that window share the last view. So it must be safe to call from a thread other than the one
// that started the server, but it need not be reentrant. A health probe that arrives while the
// source is being called answers from the previous view instead of waiting.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "pm500/expected.hpp"
#include "status/detail/ack_request.hpp"
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
  // /api/history?device=NAME: the named meter's trend, nullopt when no meter has that name.
  // Called from the worker threads, possibly concurrently: it must be thread-safe.
  using HistorySource = std::function<std::optional<HistoryView>(std::string_view device)>;
  // POST /api/acknowledge: carries out an operator's acknowledgement, shelf or undo. status 200
  // with the entry now in force, or the HTTP status and the reason (400, 404, 409). Called
  // from the worker threads, possibly concurrently: it must be thread-safe.
  struct AckAnswer {
    int status = 200;
    std::string message;
    std::optional<AckView> entry;
  };
  using AckHandler = std::function<AckAnswer(const AckRequest&)>;

  // Limits and timeouts. The defaults are the gateway's; tests shorten them.
  struct Tuning {
    std::chrono::milliseconds min_refresh{250};  // views younger than this are reused
    std::size_t max_queued = 64;  // complete /api/status and /metrics requests waiting for a worker; beyond: 503
    // The whole request (request line and headers) must arrive within this time, counted from
    // the connection's accept or, on a kept-alive connection, from the request's first byte.
    std::chrono::milliseconds request_timeout{5000};
    // A kept-alive connection with no new request for this long is closed.
    std::chrono::milliseconds keep_alive_timeout{5000};
    // The whole answer must be taken by the client within this time.
    std::chrono::milliseconds write_timeout{10000};
    std::size_t max_connections = 256;  // open at once, all client addresses together
    std::size_t max_per_address = 32;   // open at once from one client address
    // Connections beyond either limit are refused with 503 and closed, except that a health
    // probe arriving on one within `refuse_after` is still answered (a container's probe comes
    // from the same loopback address a local flood would use). At most `over_limit_slots` such
    // connections are held; a new one replaces the oldest.
    std::size_t over_limit_slots = 128;
    std::chrono::milliseconds refuse_after{500};
    int backlog = 4096;  // listen(2) backlog; the kernel caps it at net.core.somaxconn
  };

  // What the server has done since start(), for tests and diagnostics.
  struct Stats {
    std::uint64_t accepted = 0;        // connections accepted
    std::uint64_t open = 0;            // connections open now (over-limit ones included)
    std::uint64_t refused = 0;         // connections over a limit that were answered 503 or closed
    std::uint64_t over_limit_probes = 0;  // health probes answered on over-limit connections
    std::uint64_t timed_out = 0;       // closed for a request, keep-alive or write deadline
    std::uint64_t busy = 0;            // requests answered 503 because the worker queue was full
  };

  Server(const config::StatusSection& cfg, Source source);
  Server(const config::StatusSection& cfg, Source source, Tuning tuning);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listen address (so a port in use is reported here, with the fix) and starts the
  // event loop and the worker threads. A port of 0 picks a free port (tests); see port().
  pm500::expected<void, std::string> start();
  // Serves /api/history from `history` (call before start(); without it the path is 404).
  void set_history(HistorySource history);
  // Accepts POST /api/acknowledge, the server's one write (call before start(); without it the
  // path is 404). It needs [status] token: without one every such request is refused (403).
  void set_acknowledge(AckHandler handler);
  // Stops accepting, lets the answers in progress finish (for up to a second), closes every
  // connection and joins every thread. Idempotent.
  void stop();

  int port() const;         // the bound port, after start()
  std::string url() const;  // "http://127.0.0.1:8080"
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pm500::status
