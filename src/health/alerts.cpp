#include "health/alerts.hpp"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <random>
#include <vector>

#include "health/failure_modes.hpp"
#include "http/client.hpp"
#include "log/log.hpp"
#include "pm500/json_text.hpp"
#include "pm500/thread_name.hpp"

namespace pm500::health {
namespace {

constexpr std::string_view kAlertFailure = "ops.alert_delivery_failure";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// One field's text, for the template or the built-in body.
std::string field(std::string_view name, const Alert& a, std::string_view site, std::string_view host) {
  const FailureMode* m = find_failure_mode(a.id);
  auto mode = [&](std::string_view FailureMode::*f) { return m ? std::string(m->*f) : std::string(); };
  if (name == "state") return a.state;
  if (name == "id") return a.id;
  if (name == "subject") return a.subject;
  if (name == "evidence") return a.evidence;
  if (name == "level") return m ? std::string(level_short(m->level)) : std::string();
  if (name == "level_name") return m ? std::string(level_name(m->level)) : std::string();
  if (name == "section") return mode(&FailureMode::section);
  if (name == "symptom") return mode(&FailureMode::symptom);
  if (name == "cause") return mode(&FailureMode::cause);
  if (name == "resolution") return mode(&FailureMode::resolution);
  if (name == "site") return std::string(site);
  if (name == "host") return std::string(host);
  if (name == "time") return rfc3339(a.time_ms);
  if (name == "time_ms") return std::to_string(a.time_ms);
  if (name == "text") {
    // One line for chat channels: "[site] RAISED eip.no_response (mcc-1): evidence. Fix: ..."
    std::string s = "[" + std::string(site) + "] " + a.state + " " + a.id;
    if (!a.subject.empty()) s += " (" + a.subject + ")";
    if (!a.evidence.empty()) s += ": " + a.evidence;
    if (a.state != "cleared" && m) s += ". Fix: " + std::string(m->resolution);
    return s;
  }
  return {};
}

}  // namespace

std::string render_alert(const config::AlertsSection& cfg, const Alert& a, std::string_view site,
                         std::string_view host) {
  std::string out;
  if (cfg.body_template.empty()) {
    out += "{\"source\":\"pm500-gateway\"";
    for (auto name : config::kAlertTemplateFields) {
      if (name == "text") continue;  // the fields themselves are there
      out += ",\"";
      out += name;
      out += "\":";
      if (name == "time_ms") out += std::to_string(a.time_ms);
      else json::append_string(out, field(name, a, site, host));
    }
    out += '}';
    return out;
  }
  const std::string& t = cfg.body_template;
  std::size_t pos = 0;
  for (std::size_t at = t.find("{{"); at != std::string::npos; at = t.find("{{", pos)) {
    std::size_t end = t.find("}}", at + 2);
    if (end == std::string::npos) break;  // the loader rejects this; keep the rest literally
    out.append(t, pos, at - pos);
    json::append_escaped(out, field(std::string_view(t).substr(at + 2, end - at - 2), a, site, host));
    pos = end + 2;
  }
  out.append(t, pos);
  return out;
}

std::string redacted_url(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "<webhook>";
  std::size_t host_end = url.find_first_of("/?#", scheme + 3);
  std::string_view authority = url.substr(scheme + 3, host_end == std::string_view::npos ? url.npos : host_end - scheme - 3);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);  // user:pass@
  return std::string(url.substr(0, scheme + 3)) + std::string(authority);
}

std::string PostResult::describe(std::string_view url) const {
  std::string s;
  if (http_status != 0) s = "HTTP " + std::to_string(http_status) + " from " + redacted_url(url);
  else s = "no answer from " + redacted_url(url);
  if (!error.empty()) s += ": " + error;
  return s;
}

// ---- WebhookClient ---------------------------------------------------------------------------

struct WebhookClient::Impl {
  config::AlertsSection cfg;
  http::Client client;
  std::vector<std::string> headers;
  explicit Impl(const config::AlertsSection& c)
      : cfg(c),
        // The answer's body only explains an error: its first line is enough.
        client(
            http::Options{std::chrono::milliseconds(c.timeout_ms), c.ca_file, c.insecure_skip_verify, "", "", 4096}) {
    headers.push_back("Content-Type: " + cfg.content_type);
    headers.insert(headers.end(), cfg.headers.begin(), cfg.headers.end());
  }
};

WebhookClient::WebhookClient(const config::AlertsSection& cfg) : impl_(std::make_unique<Impl>(cfg)) {}

WebhookClient::~WebhookClient() = default;

PostResult WebhookClient::post(std::string_view body) {
  Impl& i = *impl_;
  PostResult r;
  auto t0 = std::chrono::steady_clock::now();
  auto answer = i.client.request("POST", i.cfg.url, i.headers, body);
  r.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  if (!answer) {
    const http::Error& e = answer.error();
    r.error = e.evidence();
    if (e.kind == http::Failure::tls_verify || e.kind == http::Failure::ca_file)
      r.error += " (check [alerts] ca_file and the server certificate's host name and dates)";
    return r;  // retry
  }
  r.http_status = (*answer)->status;
  const std::string& answer_body = (*answer)->body;
  // The first line of the answer usually says why (e.g. "invalid_token").
  std::string first = answer_body.substr(0, answer_body.find_first_of("\r\n"));
  if (first.size() > 200) first = first.substr(0, 200) + "...";
  long s = r.http_status;
  if (s >= 200 && s < 300) {
    r.kind = PostResult::Kind::delivered;
    return r;
  }
  r.error = first;
  if (s == 401 || s == 403) r.kind = PostResult::Kind::auth_refused;
  else if (s == 400 || s == 404 || s == 405 || s == 410 || s == 413 || s == 415 || s == 422)
    r.kind = PostResult::Kind::rejected;
  else r.kind = PostResult::Kind::retry;  // 408, 429, 5xx, anything unexpected
  return r;
}

PostResult send_test_alert(const config::AlertsSection& cfg, std::string_view site) {
  Alert a;
  a.state = "test";
  a.id = std::string(kAlertFailure);
  a.subject = "alert-test";
  a.evidence = "test alert sent by `pm500-gateway alert-test`; no action needed";
  a.time_ms = now_ms();
  WebhookClient client(cfg);
  return client.post(render_alert(cfg, a, site, host_name()));
}

// ---- AlertSender -----------------------------------------------------------------------------

AlertSender::AlertSender(config::AlertsSection cfg, std::string site, ConditionSink& conditions)
    : cfg_(std::move(cfg)), site_(std::move(site)), host_(host_name()), conditions_(conditions),
      rng_(std::random_device{}()) {}

AlertSender::~AlertSender() { stop(); }

void AlertSender::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    name_this_thread("pm500-alerts");
    run();
  });
}

void AlertSender::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertSender::enqueue(const Event& e) {
  if (!e.raised && !cfg_.send_cleared) return;
  Alert a{e.raised ? "raised" : "cleared", e.id, e.subject, e.evidence, e.time_ms};
  std::uint64_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= static_cast<std::size_t>(cfg_.max_queue)) {
      queue_.pop_front();
      ++popped_;
      dropped = ++stats_.dropped;
    }
    queue_.push_back(std::move(a));
  }
  cv_.notify_all();
  // Reported from here, not the sender thread, which may be inside a long POST. The id is
  // already raised when the queue overflows (the webhook has been failing), so this updates
  // its evidence without a new log line.
  if (dropped)
    conditions_.raise(kAlertFailure, "webhook",
                      std::to_string(dropped) + " alert(s) dropped: the queue of " + std::to_string(cfg_.max_queue) +
                          " was full while " + redacted_url(cfg_.url) + " was not accepting alerts");
}

AlertSender::Stats AlertSender::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.queued = queue_.size();
  return s;
}

std::chrono::milliseconds AlertSender::next_delay() {
  // Full jitter, as for reconnects (cip/backoff.hpp): uniform in [0, min(max, initial x 2^n)].
  std::int64_t ceiling = cfg_.retry_initial_ms;
  for (std::uint32_t i = 1; i < attempt_ && ceiling < cfg_.retry_max_ms; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cfg_.retry_max_ms);
  rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;  // LCG: jitter, not security
  return std::chrono::milliseconds(static_cast<std::int64_t>((rng_ >> 33) % static_cast<std::uint64_t>(ceiling + 1)));
}

void AlertSender::run() {
  auto log = log::get("alerts");
  WebhookClient client(cfg_);
  const auto stop_grace = std::chrono::milliseconds(cfg_.timeout_ms);
  std::chrono::steady_clock::time_point stop_deadline{};
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      if (stop_deadline == std::chrono::steady_clock::time_point{})
        stop_deadline = std::chrono::steady_clock::now() + stop_grace;
      if (queue_.empty() || std::chrono::steady_clock::now() >= stop_deadline) break;
    }
    Alert a = queue_.front();
    const std::uint64_t taken = popped_;
    lock.unlock();
    PostResult r = client.post(render_alert(cfg_, a, site_, host_));
    std::string what = r.describe(cfg_.url);
    lock.lock();
    if (r.kind == PostResult::Kind::delivered || r.kind == PostResult::Kind::rejected) {
      // Delivered or refused for good: either way this alert leaves the queue, unless enqueue
      // dropped it (queue full) while it was in flight.
      if (popped_ == taken) {
        queue_.pop_front();
        ++popped_;
      }
    }
    bool was_failing = attempt_ > 0;
    std::uint32_t failed_before = attempt_;
    if (r.kind == PostResult::Kind::delivered) {
      ++stats_.sent;
      stats_.last_error.clear();
      attempt_ = 0;
      bool clear = alarm_;
      alarm_ = false;
      lock.unlock();
      if (was_failing) log->info("alert webhook {} accepts alerts again after {} failed attempt(s)",
                                 redacted_url(cfg_.url), failed_before);
      if (clear) conditions_.clear(kAlertFailure, "webhook");
      lock.lock();
      continue;
    }
    if (r.kind == PostResult::Kind::rejected) {
      ++stats_.rejected;
      stats_.last_error = what;
      alarm_ = true;
      lock.unlock();
      conditions_.raise(kAlertFailure, "webhook",
                        what + "; the alert for " + a.id + " was dropped (fix [alerts] url or template)");
      lock.lock();
      continue;
    }
    ++stats_.failed_attempts;
    ++attempt_;
    stats_.last_error = what;
    bool raise_now = !alarm_ && (r.kind == PostResult::Kind::auth_refused ||
                                 attempt_ >= static_cast<std::uint32_t>(cfg_.failures_before_alarm));
    bool first = attempt_ == 1;
    auto delay = next_delay();
    if (raise_now) alarm_ = true;
    lock.unlock();
    if (first) log->warn("alert webhook: {}; retrying with backoff, alerts are queued", what);
    if (raise_now || r.kind == PostResult::Kind::auth_refused)
      conditions_.raise(kAlertFailure, "webhook",
                        what + (r.kind == PostResult::Kind::auth_refused
                                    ? " (credentials refused: renew the token in [alerts] headers or url)"
                                    : " after " + std::to_string(attempt_) + " attempt(s)"));
    lock.lock();
    if (stopping_) break;  // no retries at shutdown: the endpoint is failing
    cv_.wait_for(lock, delay, [&] { return stopping_; });
  }
  if (!queue_.empty()) {
    log->warn("alert webhook: {} alert(s) not delivered at shutdown ({}); they remain on the status page history",
              queue_.size(), stats_.last_error.empty() ? "no time left" : stats_.last_error);
    stats_.dropped += queue_.size();
    queue_.clear();
  }
}

}  // namespace pm500::health
