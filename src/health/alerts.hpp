// The alert webhook: every raise and clear of a failure mode becomes one HTTP POST (JSON by
// default, or the configured template) to [alerts] url, sent from its own thread so a slow or
// absent receiver never holds up the registry, the scanner or a sink.
//
//   health::AlertSender alerts(cfg.alerts, cfg.gateway.site, registry);
//   registry.on_event([&](const health::Event& e) { alerts.enqueue(e); });
//   alerts.start();
//   ...
//   alerts.stop();  // tries what is queued for up to one timeout, then reports what it dropped
//
// Delivery: alerts leave in order; a failed POST is retried with exponential backoff and full
// jitter, and nothing behind it overtakes it. 401/403 raise ops.alert_delivery_failure at once
// (the token expired); timeouts, refused connections and 5xx raise it after
// failures_before_alarm attempts in a row. 400/404/413/422 reject that one alert (the template
// or the URL is wrong; retrying cannot help) and raise it too. The first delivered POST clears it.
// When the queue is full the oldest alert is dropped, counted and reported.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "config/config.hpp"
#include "health/registry.hpp"
#include "pipeline/conditions.hpp"

namespace pm500::health {

// One alert as the template sees it. state: "raised", "cleared" or "test".
struct Alert {
  std::string state;
  std::string id, subject, evidence;
  std::int64_t time_ms = 0;
};

// The request body for `a`: the template with every {{field}} JSON-escaped, or the built-in JSON
// object when the template is empty.
std::string render_alert(const config::AlertsSection& cfg, const Alert& a, std::string_view site,
                         std::string_view host);

// "https://hooks.example.net:443": what logs and evidence may show of a webhook URL (its path
// and query often carry the token).
std::string redacted_url(std::string_view url);

// One POST's outcome.
struct PostResult {
  enum class Kind { delivered, auth_refused, rejected, retry };
  Kind kind = Kind::retry;
  long http_status = 0;       // 0: no HTTP answer (see error)
  std::string error;          // transport error, or the answer's first line of body
  std::int64_t elapsed_ms = 0;
  std::string describe(std::string_view url) const;  // "HTTP 401 from https://host:443: invalid token"
};

// A blocking HTTP client (src/http) for one webhook; one connection kept alive between POSTs.
class WebhookClient {
 public:
  explicit WebhookClient(const config::AlertsSection& cfg);
  ~WebhookClient();
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;
  PostResult post(std::string_view body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `pm500-gateway alert-test`: one test alert, one attempt, the outcome.
PostResult send_test_alert(const config::AlertsSection& cfg, std::string_view site);

class AlertSender {
 public:
  struct Stats {
    std::uint64_t sent = 0, failed_attempts = 0, rejected = 0, dropped = 0;
    std::size_t queued = 0;
    std::string last_error;  // "" after a delivery
  };

  AlertSender(config::AlertsSection cfg, std::string site, ConditionSink& conditions);
  ~AlertSender();  // stop()
  AlertSender(const AlertSender&) = delete;
  AlertSender& operator=(const AlertSender&) = delete;

  void start();
  // Delivers what is queued for at most one timeout_ms more, then drops and logs the rest.
  void stop();
  // Registry listener: queues the event as an alert (clears only with send_cleared). Never blocks
  // on the network.
  void enqueue(const Event& e);
  Stats stats() const;

 private:
  void run();
  std::chrono::milliseconds next_delay();

  config::AlertsSection cfg_;
  std::string site_, host_;
  ConditionSink& conditions_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Alert> queue_;
  std::uint64_t popped_ = 0;  // alerts that left the queue's front: tells whether the one in flight is still first
  Stats stats_;               // queued is filled in by stats()
  bool stopping_ = false;
  std::uint32_t attempt_ = 0;   // failed attempts in a row
  bool alarm_ = false;          // ops.alert_delivery_failure raised by us
  std::uint64_t rng_;
  std::thread thread_;
};

}  // namespace pm500::health
