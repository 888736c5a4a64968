#include "status/server.hpp"

#include <pthread.h>
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include "log/log.hpp"

namespace pm500::status {
namespace {

// httplib's own ThreadPool queues without limit; this one bounds the queue too. When it is full
// the accepting thread waits, so further clients wait in the kernel's listen backlog instead of
// in memory.
class BoundedPool final : public httplib::TaskQueue {
 public:
  BoundedPool(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
    for (std::size_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] {
        pthread_setname_np(pthread_self(), "pm500-http");
        work();
      });
  }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return jobs_.size() < max_queued_ || shutdown_; });
    jobs_.push_back(std::move(fn));
    ready_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      shutdown_ = true;
    }
    ready_.notify_all();
    space_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
        // Jobs still queued at shutdown run anyway: each owns an accepted socket it must close.
        if (jobs_.empty()) return;
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      space_.notify_one();
      fn();
    }
  }

  std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

// "host:port" or "[v6]:port"; the configuration has validated the form already.
bool split_listen(const std::string& listen, std::string& host, int& port) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return false;
  }
  return port >= 0 && port <= 65535;
}

// Compares without an early exit, so the response time does not reveal how much of a guess
// matched. (The loop length follows the guess, which the client knows anyway.)
bool same_secret(std::string_view given, std::string_view secret) {
  unsigned diff = given.size() == secret.size() ? 0u : 1u;
  for (std::size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned>(static_cast<unsigned char>(given[i]) ^
                                  static_cast<unsigned char>(i < secret.size() ? secret[i] : 0));
  return diff == 0;
}

std::int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string error_json(std::string_view message) {
  std::string s = "{\"error\":\"";
  for (char c : message) s += c == '"' ? std::string("\\\"") : std::string(1, c);  // our own fixed texts
  return s + "\"}";
}

// The page holds no data (it fetches /api/status), so it is served without the token; its
// script then asks for the token. Inline script and style are its only code.
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace

ReadyRule ready_rule(const config::StatusSection& cfg) {
  ReadyRule r;
  r.requires_scanner = cfg.ready_requires_scanner;
  r.max_not_delivering_ms = cfg.ready_max_spooling_s * 1000;
  r.max_backlog = static_cast<std::uint64_t>(cfg.ready_max_backlog);
  return r;
}

struct Server::Impl {
  config::StatusSection cfg;
  Source source;
  Tuning tuning;
  ReadyRule rule;
  std::shared_ptr<spdlog::logger> log = log::get("status");
  httplib::Server http;
  std::thread listener;
  std::atomic<bool> listener_done{false};
  std::string host;
  int port = 0;
  bool started = false;

  // The last view, shared by the requests that arrive within tuning.min_refresh.
  std::mutex view_mu;
  std::shared_ptr<const GatewayView> view;
  std::chrono::steady_clock::time_point view_at;
  // Sink states as first seen, for views that do not say since when a sink is in its state.
  std::map<std::string, std::pair<std::string, std::int64_t>> sink_since;

  Impl(const config::StatusSection& c, Source s, Tuning t)
      : cfg(c), source(std::move(s)), tuning(t), rule(ready_rule(c)) {}

  std::shared_ptr<const GatewayView> snapshot() {
    std::lock_guard lock(view_mu);
    auto now = std::chrono::steady_clock::now();
    if (view && now - view_at < tuning.min_refresh) return view;
    GatewayView v = source();
    if (v.now_ms == 0) v.now_ms = epoch_ms();
    for (auto& s : v.sinks) {
      if (s.state_since_ms != 0) continue;
      auto& seen = sink_since[s.name];
      if (seen.first != s.state) seen = {s.state, v.now_ms};
      s.state_since_ms = seen.second;
    }
    view = std::make_shared<const GatewayView>(std::move(v));
    view_at = now;
    return view;
  }

  bool is_public(const std::string& path) const {
    if (path == "/" || path == "/index.html" || path == "/favicon.ico") return true;
    return cfg.public_health && (path == "/health/live" || path == "/health/ready");
  }

  bool authorized(const httplib::Request& req) const {
    if (cfg.token.empty()) return true;
    std::string h = req.get_header_value("Authorization");
    constexpr std::string_view scheme = "bearer ";
    if (h.size() <= scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(h[i])) != scheme[i]) return false;
    return same_secret(std::string_view(h).substr(scheme.size()), cfg.token);
  }

  void routes() {
    http.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                              {"Cache-Control", "no-store"},
                              {"Referrer-Policy", "no-referrer"},
                              {"X-Frame-Options", "DENY"}});
    // Shorter than the page's 2 s poll: a polling page reconnects (cheap on a LAN) instead of
    // holding a worker between polls.
    http.set_keep_alive_timeout(1);
    http.set_keep_alive_max_count(100);
    http.set_read_timeout(5, 0);
    http.set_write_timeout(5, 0);
    http.set_payload_max_length(16 * 1024);
    // httplib sets SO_REUSEPORT, which lets a second gateway bind the same port and silently
    // take half the requests. SO_REUSEADDR alone still allows a quick restart (TIME_WAIT).
    http.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });

    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.method != "GET" && req.method != "HEAD") {
        res.status = 405;
        res.set_header("Allow", "GET, HEAD");
        res.set_content(error_json("read-only: only GET and HEAD are allowed"), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!is_public(req.path) && !authorized(req)) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer realm=\"pm500-gateway\"");
        res.set_content(error_json("a bearer token is required ([status] token)"), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    auto page = [](const httplib::Request&, httplib::Response& res) {
      std::string_view p = page_html();
      res.set_header("Content-Security-Policy", kPagePolicy);
      res.set_content(p.data(), p.size(), "text/html; charset=utf-8");
    };
    http.Get("/", page);
    http.Get("/index.html", page);
    http.Get("/favicon.ico", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    http.Get("/api/status", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(render_json(*snapshot()), "application/json");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(render_metrics(*snapshot()), "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Get("/health/live", [this](const httplib::Request&, httplib::Response& res) {
      auto r = render_live(*snapshot());
      res.status = r.ok ? 200 : 503;
      res.set_content(r.json, "application/json");
    });
    http.Get("/health/ready", [this](const httplib::Request&, httplib::Response& res) {
      auto r = render_ready(*snapshot(), rule);
      res.status = r.ok ? 200 : 503;
      res.set_content(r.json, "application/json");
    });

    http.set_error_handler(httplib::Server::Handler([](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty())
        res.set_content(error_json(res.status == 404 ? "not found" : "request failed"), "application/json");
    }));
    // httplib would put the exception's text in a response header; keep it in the log instead.
    http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      log->warn("{} {} failed: {}", req.method, req.path, what);
      res.status = 500;
      res.set_content(error_json("the gateway could not build its status; see the log"), "application/json");
    });
  }
};

Server::Server(const config::StatusSection& cfg, Source source) : Server(cfg, std::move(source), Tuning{}) {}

Server::Server(const config::StatusSection& cfg, Source source, Tuning tuning)
    : impl_(std::make_unique<Impl>(cfg, std::move(source), tuning)) {}

Server::~Server() { stop(); }

pm500::expected<void, std::string> Server::start() {
  Impl& s = *impl_;
  if (s.started) return {};
  if (!split_listen(s.cfg.listen, s.host, s.port))
    return pm500::unexpected("[status] listen = \"" + s.cfg.listen + "\" is not \"host:port\"");
  std::size_t threads = static_cast<std::size_t>(std::max<std::int64_t>(1, s.cfg.threads));
  std::size_t queued = std::max<std::size_t>(1, s.tuning.max_queued);
  s.http.new_task_queue = [threads, queued] { return new BoundedPool(threads, queued); };
  s.routes();

  bool bound;
  errno = 0;
  if (s.port == 0) {
    int p = s.http.bind_to_any_port(s.host);
    bound = p > 0;
    if (bound) s.port = p;
  } else {
    bound = s.http.bind_to_port(s.host, s.port);
  }
  if (!bound) {
    int err = errno;
    return pm500::unexpected("status server cannot listen on " + s.cfg.listen + ": " +
                             (err ? std::string(std::strerror(err)) : std::string("address not usable")) +
                             "; another program may use the port, or the address is not on this machine: set "
                             "[status] listen (or enabled = false)");
  }
  s.listener_done = false;
  s.listener = std::thread([&s] {
    pthread_setname_np(pthread_self(), "pm500-http-acc");
    if (!s.http.listen_after_bind()) s.log->error("status server on {} stopped accepting", s.cfg.listen);
    s.listener_done = true;
  });
  // httplib's stop() does nothing until its accept loop runs; wait for it so that a stop()
  // right after start() cannot leave the listener running (and the join hanging).
  while (!s.http.is_running() && !s.listener_done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s.started = true;
  s.log->info("status page on {}{}", url(), s.cfg.token.empty() ? "" : " (bearer token required for the API)");
  return {};
}

void Server::stop() {
  Impl& s = *impl_;
  if (!s.started) return;
  s.http.stop();
  if (s.listener.joinable()) s.listener.join();
  s.started = false;
}

int Server::port() const { return impl_->port; }

std::string Server::url() const {
  const std::string& h = impl_->host;
  std::string shown = h.find(':') != std::string::npos ? "[" + h + "]" : h;
  return "http://" + shown + ":" + std::to_string(impl_->port);
}

}  // namespace pm500::status
