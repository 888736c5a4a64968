// The status server: one epoll thread owns every socket, worker threads render views.
//
// Why not a thread per connection (cpp-httplib, which this replaced): a thread that reads a
// request with blocking calls can bound each read, but not the whole request, so a client that
// sends one header line every few seconds holds it for as long as it likes; a few such clients
// take every worker, and a health probe then waits in the listen backlog behind them. Here no
// thread ever waits for a client: the event loop reads whatever has arrived, keeps one deadline
// per connection (whole request, keep-alive, whole answer) and hands only complete requests on.
#include "status/server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "log/log.hpp"
#include "status/detail/ack_request.hpp"
#include "status/detail/http_request.hpp"
#include "status/detail/text.hpp"

namespace pm500::status {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using detail::head_end;
using detail::kMaxHead;
using detail::parse_head;
using detail::Request;

constexpr unsigned kMaxRequestsPerConnection = 1000;
constexpr milliseconds kLinger{1000};     // reading what a client still sends after our last answer
constexpr milliseconds kStopGrace{1000};  // answers in progress when stop() is called
constexpr std::size_t kGzipMin = 1024;    // smaller bodies are sent as they are

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
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string error_json(std::string_view message) {
  std::string s = "{\"error\":\"";
  detail::json_escape(message, s);  // may quote evidence: any text
  return s + "\"}";
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// CSRF: a page of another origin must not be able to act through an operator's browser. The
// token travels in a header that only the page's own script sets (never a cookie, which a
// browser would attach to a forged request), and a browser names where a request comes from:
// Sec-Fetch-Site, and Origin on every cross-origin request and on same-origin POSTs. Requests
// without either come from programs (curl), which hold the token themselves.
bool cross_origin(const Request& r) {
  if (!r.fetch_site.empty() && r.fetch_site != "same-origin" && r.fetch_site != "none") return true;
  if (r.origin.empty()) return false;
  const std::size_t scheme = r.origin.find("://");
  return scheme == std::string::npos || !iequals(std::string_view(r.origin).substr(scheme + 3), r.host);
}

bool is_json(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return iequals(type, "application/json");
}

// The page holds no data (it fetches /api/status), so it is served without the token; its
// script then asks for the token. Inline script and style are its only code.
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// ---------------------------------------------------------------------------------------------
// Answers.

std::string gzip(std::string_view in) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return {};
  out.resize(z.total_out);
  return out;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

struct Reply {
  int status = 200;
  std::string_view type = "application/json";
  std::string body;
  std::string extra;      // further header lines, each ending in "\r\n"
  bool gzipped = false;   // body is gzip already (the page, compressed once)
};

// The bytes on the wire. HEAD gets the headers GET would get, without the body.
std::string wire(Reply r, bool head, bool gzip_ok, bool close, milliseconds keep_alive) {
  if (gzip_ok && !r.gzipped && r.body.size() >= kGzipMin)
    if (std::string z = gzip(r.body); !z.empty()) {
      r.body = std::move(z);
      r.gzipped = true;
    }
  std::string s;
  s.reserve(320 + r.extra.size() + (head ? 0 : r.body.size()));
  s += "HTTP/1.1 ";
  s += std::to_string(r.status);
  s += ' ';
  s += reason_phrase(r.status);
  s += "\r\n";
  if (r.status != 204) {
    s += "Content-Type: ";
    s += r.type;
    s += "\r\nContent-Length: ";
    s += std::to_string(r.body.size());
    s += "\r\n";
    if (r.gzipped) s += "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n";
  }
  s += "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n"
       "X-Frame-Options: DENY\r\n";
  s += r.extra;
  if (close) {
    s += "Connection: close\r\n\r\n";
  } else {
    s += "Connection: keep-alive\r\nKeep-Alive: timeout=";
    s += std::to_string(std::max<std::int64_t>(1, keep_alive.count() / 1000));
    s += "\r\n\r\n";
  }
  if (!head && r.status != 204) s += r.body;
  return s;
}

Reply error_reply(int status, std::string_view message, std::string extra = {}) {
  Reply r;
  r.status = status;
  r.body = error_json(message);
  r.extra = std::move(extra);
  return r;
}

enum class Route { none, page, favicon, api, history, acknowledge, metrics, live, ready };

Route route_of(std::string_view path) {
  if (path == "/" || path == "/index.html") return Route::page;
  if (path == "/favicon.ico") return Route::favicon;
  if (path == "/api/status") return Route::api;
  if (path == "/api/history") return Route::history;
  if (path == "/api/acknowledge") return Route::acknowledge;
  if (path == "/metrics") return Route::metrics;
  if (path == "/health/live") return Route::live;
  if (path == "/health/ready") return Route::ready;
  return Route::none;
}

bool is_probe(Route r) { return r == Route::live || r == Route::ready; }

// A client address as bytes (IPv4-mapped IPv6 as IPv4) for the per-address count, and as text.
std::string address_key(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    return std::string(reinterpret_cast<const char*>(&a->sin_addr), 4);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    const char* b = reinterpret_cast<const char*>(&a->sin6_addr);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) return std::string(b + 12, 4);
    return std::string(b, 16);
  }
  return {};
}

std::string address_text(const std::string& key) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (key.size() == 4) inet_ntop(AF_INET, key.data(), text, sizeof text);
  if (key.size() == 16) inet_ntop(AF_INET6, key.data(), text, sizeof text);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Threads that may block (they call the source): a bounded queue each.

struct Job {
  std::uint64_t conn = 0;
  Route route = Route::none;
  bool head = false;
  bool gzip = false;
  bool close = false;
  std::string device;  // /api/history: the device named in the query, decoded
  std::string body;    // /api/acknowledge: the request body
};

// The value of `name` in an application/x-www-form-urlencoded query ("device=mcc%2D1&x=1"),
// percent-decoded ('+' is a space); nullopt when absent or malformed.
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name || eq == std::string_view::npos) continue;
    std::string out;
    for (std::size_t i = eq + 1; i < pair.size(); ++i) {
      char c = pair[i];
      if (c == '+') c = ' ';
      else if (c == '%') {
        auto hex = [](char h) { return std::isxdigit(static_cast<unsigned char>(h)) ? (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10) : -1; };
        if (i + 2 >= pair.size()) return std::nullopt;
        const int hi = hex(pair[i + 1]), lo = hex(pair[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        c = static_cast<char>(hi * 16 + lo);
        i += 2;
      }
      out += c;
    }
    return out;
  }
  return std::nullopt;
}

class JobQueue {
 public:
  explicit JobQueue(std::size_t capacity) : capacity_(capacity) {}

  bool push(const Job& j) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || jobs_.size() >= capacity_) return false;
      jobs_.push_back(j);
    }
    ready_.notify_one();
    return true;
  }
  std::optional<Job> pop() {
    std::unique_lock lock(mu_);
    ready_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
    if (closed_) return std::nullopt;  // queued jobs are dropped: their connections are closed
    Job j = jobs_.front();
    jobs_.pop_front();
    return j;
  }
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  bool closed_ = false;
};

enum class Phase { reading, working, writing, draining };

struct Conn {
  int fd = -1;
  std::uint64_t id = 0;
  std::string key;          // client address (address_key)
  bool over_limit = false;  // beyond a connection limit: only a health probe is answered
  bool dead = false;        // closed; erased at the end of the loop iteration
  Phase phase = Phase::reading;
  std::string in;
  std::size_t scanned = 0;
  bool started = true;  // the current request's clock runs (from accept, or its first byte)
  bool peer_closed = false;
  Clock::time_point accepted_at;
  Clock::time_point deadline = Clock::time_point::max();
  std::string out;
  std::size_t out_off = 0;
  bool close_after = false;
  unsigned served = 0;
  std::uint32_t interest = 0;
};

constexpr std::uint64_t kListenId = 1;
constexpr std::uint64_t kWakeId = 2;
constexpr std::uint64_t kFirstConnId = 16;

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
  HistorySource history;
  AckHandler acknowledge;
  Tuning tuning;
  ReadyRule rule;
  std::shared_ptr<spdlog::logger> log = log::get("status");
  std::string host;
  int port = 0;
  bool started = false;

  // The last view, shared by the requests that arrive within tuning.min_refresh.
  std::mutex view_mu;   // guards view and view_at
  std::mutex build_mu;  // held while the source runs: one call at a time; guards sink_since
  std::shared_ptr<const GatewayView> view;
  Clock::time_point view_at;
  // Sink states as first seen, for views that do not say since when a sink is in its state.
  std::map<std::string, std::pair<std::string, std::int64_t>> sink_since;

  std::string page_gz;  // the page, compressed once

  // Sockets, owned by the loop thread.
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
  std::thread loop;
  std::atomic<bool> stopping{false};
  std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns;
  std::vector<std::uint64_t> graveyard;
  std::unordered_map<std::string, std::size_t> per_address;
  std::size_t regular = 0, over = 0;
  std::uint64_t next_id = kFirstConnId;
  Clock::time_point next_due = Clock::time_point::max();
  Clock::time_point accept_paused_until{};
  bool accept_paused = false;
  Clock::time_point last_refusal_log{}, last_accept_error_log{};
  std::uint64_t refusals_unlogged = 0;

  // Workers: /api/status and /metrics; one thread for the health probes.
  std::unique_ptr<JobQueue> pages, probes;
  std::vector<std::thread> workers;
  std::mutex done_mu;
  struct Done {
    std::uint64_t conn;
    std::string bytes;
    bool close;
  };
  std::vector<Done> done;

  struct Counters {
    std::atomic<std::uint64_t> accepted{0}, open{0}, refused{0}, over_limit_probes{0}, timed_out{0}, busy{0};
  } counters;

  Impl(const config::StatusSection& c, Source s, Tuning t)
      : cfg(c), source(std::move(s)), tuning(t), rule(ready_rule(c)) {}

  ~Impl() { close_fds(); }

  void close_fds() {
    for (int* fd : {&listen_fd, &epoll_fd, &wake_fd})
      if (*fd >= 0) {
        ::close(*fd);
        *fd = -1;
      }
  }

  // --- views --------------------------------------------------------------------------------

  // The current view. Requests for data wait for the source (`may_wait`); health probes take
  // the previous view while another thread is calling it, so a slow source never delays them.
  std::shared_ptr<const GatewayView> snapshot(bool may_wait) {
    auto fresh = [&]() -> std::shared_ptr<const GatewayView> {
      std::lock_guard lock(view_mu);
      if (view && Clock::now() - view_at < tuning.min_refresh) return view;
      return nullptr;
    };
    if (auto v = fresh()) return v;
    std::unique_lock build(build_mu, std::try_to_lock);
    if (!build.owns_lock()) {
      if (!may_wait) {
        std::lock_guard lock(view_mu);
        if (view) return view;
      }
      build.lock();
      if (auto v = fresh()) return v;  // built by the thread we waited for
    }
    auto at = Clock::now();
    GatewayView v = source();
    v.acknowledge_enabled = acknowledge && !cfg.token.empty();
    if (v.now_ms == 0) v.now_ms = epoch_ms();
    for (auto& s : v.sinks) {
      if (s.state_since_ms != 0) continue;
      auto& seen = sink_since[s.name];
      if (seen.first != s.state) seen = {s.state, v.now_ms};
      s.state_since_ms = seen.second;
    }
    auto shared = std::make_shared<const GatewayView>(std::move(v));
    std::lock_guard lock(view_mu);
    view = shared;
    view_at = at;
    return shared;
  }

  bool is_public(Route r) const {
    if (r == Route::page || r == Route::favicon) return true;
    return cfg.public_health && is_probe(r);
  }

  // Why a POST /api/acknowledge is not carried out, checked before any thread sees it.
  std::optional<Reply> refuse_write(const Request& req) const {
    if (cfg.token.empty())
      return error_reply(403,
                         "acknowledging and shelving are refused while no token is configured: set [status] token "
                         "(writes require it; docs/status-api.md)");
    if (!authorized(req.authorization))
      return error_reply(401, "a bearer token is required ([status] token)",
                         "WWW-Authenticate: Bearer realm=\"pm500-gateway\"\r\n");
    if (cross_origin(req))
      return error_reply(403, "cross-origin request refused: acknowledge from the status page of this gateway");
    if (!is_json(req.content_type))
      return error_reply(415, "the body must be JSON (Content-Type: application/json)");
    if (req.chunked) return error_reply(411, "send the body with a Content-Length");
    if (req.content_length > detail::kMaxAckBody)
      return error_reply(413, "the body is larger than " + std::to_string(detail::kMaxAckBody) + " bytes");
    if (req.content_length == 0) return error_reply(400, "the body is empty: a JSON object is expected");
    return std::nullopt;
  }

  bool authorized(const std::string& h) const {
    if (cfg.token.empty()) return true;
    constexpr std::string_view scheme = "bearer ";
    if (h.size() <= scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(h[i])) != scheme[i]) return false;
    return same_secret(std::string_view(h).substr(scheme.size()), cfg.token);
  }

  // Runs on a worker: the answers that need a view.
  std::string answer(const Job& j) {
    Reply r;
    try {
      switch (j.route) {
        case Route::api:
          r.body = render_json(*snapshot(true));
          break;
        case Route::acknowledge: {
          auto req = detail::parse_ack_request(j.body);
          if (!req) {
            r = error_reply(400, req.error());
            break;
          }
          AckAnswer a = acknowledge(*req);
          if (a.status != 200) {
            r = error_reply(a.status, a.message);
            break;
          }
          r.body = render_ack_json(a.message, a.entry);
          std::lock_guard lock(view_mu);
          view_at = {};  // the next /api/status shows it
          break;
        }
        case Route::history: {
          auto h = history(j.device);
          if (!h) r = error_reply(404, "no meter named \"" + j.device + "\": use a name from /api/status devices[].name");
          else r.body = render_history_json(*h);
          break;
        }
        case Route::metrics:
          r.type = "text/plain; version=0.0.4; charset=utf-8";
          r.body = render_metrics(*snapshot(true));
          break;
        case Route::live:
        case Route::ready: {
          auto v = snapshot(false);
          HealthReport h = j.route == Route::live ? render_live(*v) : render_ready(*v, rule);
          r.status = h.ok ? 200 : 503;
          r.body = std::move(h.json);
          break;
        }
        default:
          r = error_reply(404, "not found");
      }
    } catch (const std::exception& e) {
      log->warn("{} {} failed: {}", method_of(j), path_of(j.route), e.what());
      r = error_reply(500, "the gateway could not build its status; see the log");
    } catch (...) {
      log->warn("{} {} failed: unknown exception", method_of(j), path_of(j.route));
      r = error_reply(500, "the gateway could not build its status; see the log");
    }
    return wire(std::move(r), j.head, j.gzip, j.close, tuning.keep_alive_timeout);
  }

  static const char* method_of(const Job& j) { return j.route == Route::acknowledge ? "POST" : j.head ? "HEAD" : "GET"; }

  static const char* path_of(Route r) {
    switch (r) {
      case Route::api: return "/api/status";
      case Route::history: return "/api/history";
      case Route::acknowledge: return "/api/acknowledge";
      case Route::metrics: return "/metrics";
      case Route::live: return "/health/live";
      case Route::ready: return "/health/ready";
      default: return "?";
    }
  }

  void work(JobQueue& q) {
    while (auto j = q.pop()) {
      std::string bytes = answer(*j);
      {
        std::lock_guard lock(done_mu);
        done.push_back({j->conn, std::move(bytes), j->close});
      }
      wake();
    }
  }

  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof one);
  }

  // --- the event loop -----------------------------------------------------------------------

  void set_deadline(Conn& c, Clock::time_point t) {
    c.deadline = t;
    next_due = std::min(next_due, t);
  }

  void set_interest(Conn& c, std::uint32_t events) {
    if (c.dead || c.interest == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = c.id;
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
    c.interest = events;
  }

  void close_conn(Conn& c) {
    if (c.dead) return;
    c.dead = true;
    ::close(c.fd);  // also removes it from the epoll set
    c.fd = -1;
    if (c.over_limit) {
      --over;
    } else {
      --regular;
      if (auto it = per_address.find(c.key); it != per_address.end() && --it->second == 0) per_address.erase(it);
    }
    counters.open = regular + over;
    graveyard.push_back(c.id);
  }

  void note_refusal(const Conn& c, const char* why) {
    counters.refused++;
    refusals_unlogged++;
    auto now = Clock::now();
    if (last_refusal_log != Clock::time_point{} && now - last_refusal_log < std::chrono::seconds(60)) return;
    log->warn("status server is refusing connections: the latest from {} ({}); {} refused since the last such "
              "message (at most one a minute). Health probes are still answered",
              address_text(c.key), why, refusals_unlogged);
    refusals_unlogged = 0;
    last_refusal_log = now;
  }

  std::string over_limit_text() const {
    return "too many connections (at most " + std::to_string(tuning.max_per_address) + " from one address, " +
           std::to_string(tuning.max_connections) +
           " in all); only /health/live and /health/ready are answered on further connections";
  }

  // Answers 503 on an over-limit connection, as far as the socket takes it at once, and closes.
  void refuse(Conn& c, const char* why) {
    std::string bytes = wire(error_reply(503, over_limit_text(), "Retry-After: 1\r\n"), false, false, true,
                             tuning.keep_alive_timeout);
    [[maybe_unused]] ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    note_refusal(c, why);
    close_conn(c);
  }

  void accept_ready() {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // Out of descriptors or memory: stop accepting for a moment instead of spinning on a
        // listen socket that stays readable.
        if (auto now = Clock::now();
            last_accept_error_log == Clock::time_point{} || now - last_accept_error_log >= std::chrono::seconds(60)) {
          log->warn("status server cannot accept connections: {}; retrying every 100 ms", std::strerror(errno));
          last_accept_error_log = now;
        }
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
        accept_paused = true;
        accept_paused_until = Clock::now() + milliseconds(100);
        next_due = std::min(next_due, accept_paused_until);
        return;
      }
      counters.accepted++;
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->id = next_id++;
      c->key = address_key(ss);
      c->accepted_at = Clock::now();
      std::size_t& from_here = per_address[c->key];
      c->over_limit = regular >= tuning.max_connections || from_here >= tuning.max_per_address;
      if (from_here == 0 && c->over_limit) per_address.erase(c->key);
      if (c->over_limit && !make_room_over_limit()) {
        counters.refused++;
        ::close(fd);  // no room even for a probe: the cheapest refusal
        continue;
      }
      if (c->over_limit) {
        ++over;
      } else {
        ++from_here;
        ++regular;
      }
      counters.open = regular + over;
      int yes = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = c->id;
      if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close_conn(*c);
        graveyard.pop_back();
        continue;
      }
      c->interest = EPOLLIN;
      set_deadline(*c, c->accepted_at + (c->over_limit ? tuning.refuse_after : tuning.request_timeout));
      Conn& ref = *c;
      conns.emplace(ref.id, std::move(c));
      // The request often arrives with the connection: read it now, saving a trip through epoll.
      read_ready(ref);
      advance(ref);
    }
  }

  // Over-limit connections are held only briefly and only `over_limit_slots` at a time; when
  // they are all taken, the oldest one still waiting for its request gives way. It is read
  // once more first: a probe that has just arrived is answered rather than thrown away.
  bool make_room_over_limit() {
    for (int tries = 0; tries < 4 && over >= tuning.over_limit_slots; ++tries) {
      Conn* oldest = nullptr;
      for (auto& [id, c] : conns)
        if (!c->dead && c->over_limit && c->phase == Phase::reading &&
            (!oldest || c->accepted_at < oldest->accepted_at))
          oldest = c.get();
      if (!oldest) return false;
      read_ready(*oldest);
      if (!oldest->dead && oldest->phase == Phase::reading) advance(*oldest);
      if (!oldest->dead && oldest->phase == Phase::reading)
        refuse(*oldest, "over the connection limit, replaced by a newer connection");
    }
    return over < tuning.over_limit_slots;
  }

  void read_ready(Conn& c) {
    char scratch[4096];
    for (;;) {
      if (c.phase == Phase::draining) {
        ssize_t n = ::recv(c.fd, scratch, sizeof scratch, 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_conn(c);
        return;
      }
      if (c.in.size() > kMaxHead + 4096) return;  // enough to tell that the head is too large
      std::size_t old = c.in.size();
      c.in.resize(old + 4096);
      ssize_t n = ::recv(c.fd, c.in.data() + old, 4096, 0);
      c.in.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
      if (n > 0) {
        if (!c.started) {
          c.started = true;
          set_deadline(c, Clock::now() + tuning.request_timeout);
        }
        continue;
      }
      if (n == 0) {
        c.peer_closed = true;
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      close_conn(c);
      return;
    }
  }

  // Handles the complete requests in the buffer, one at a time, while the connection is free.
  void advance(Conn& c) {
    while (!c.dead && c.phase == Phase::reading) {
      std::size_t lead = 0;  // empty lines before a request line are ignored (RFC 9112 2.2)
      while (lead < c.in.size() && (c.in[lead] == '\r' || c.in[lead] == '\n')) ++lead;
      if (lead > 0) {
        c.in.erase(0, lead);
        c.scanned = 0;
      }
      std::size_t end = head_end(c.in, c.scanned);
      if (end == std::string::npos && c.in.size() <= kMaxHead) {
        if (c.peer_closed) close_conn(c);  // gone before finishing a request
        return;
      }
      if (end == std::string::npos || end > kMaxHead) {
        respond(c, wire(error_reply(431, "request head larger than 8 KiB"), false, false, true,
                        tuning.keep_alive_timeout),
                true);
        return;
      }
      Request req;
      int bad = parse_head(std::string_view(c.in).substr(0, end), req);
      std::string body;
      if (bad == 0 && takes_body(req)) {
        if (c.in.size() < end + req.content_length) {
          if (c.peer_closed) close_conn(c);
          return;  // the rest of the body, within the same request deadline
        }
        body = c.in.substr(end, req.content_length);
        end += req.content_length;
        req.has_body = false;  // read: the connection can carry the next request
      }
      c.in.erase(0, end);
      c.scanned = 0;
      if (bad != 0) {
        respond(c, wire(error_reply(bad, "malformed request"), false, false, true, tuning.keep_alive_timeout), true);
        return;
      }
      dispatch(c, req, std::move(body));
    }
  }

  // The one request whose body is read: a POST to /api/acknowledge of a size given up front.
  bool takes_body(const Request& req) const {
    return acknowledge && req.method == "POST" && route_of(req.path) == Route::acknowledge && !req.chunked &&
           req.content_length > 0 && req.content_length <= detail::kMaxAckBody;
  }

  void dispatch(Conn& c, const Request& req, std::string body) {
    bool head = req.method == "HEAD";
    bool close = !req.keep_alive || req.has_body || c.over_limit || c.peer_closed || stopping ||
                 c.served + 1 >= kMaxRequestsPerConnection;
    auto reply = [&](Reply r) {
      respond(c, wire(std::move(r), head, req.gzip, close, tuning.keep_alive_timeout), close);
    };
    Route route = route_of(req.path);
    if (route == Route::acknowledge && !acknowledge) route = Route::none;
    if (c.over_limit && !((req.method == "GET" || head) && is_probe(route))) {
      refuse(c, "over the connection limit");
      return;
    }
    if (route == Route::acknowledge) {
      if (req.method != "POST")
        return reply(error_reply(405, "/api/acknowledge takes POST only", "Allow: POST\r\n"));
      if (auto refusal = refuse_write(req)) return reply(std::move(*refusal));
    } else if (req.method != "GET" && !head) {
      return reply(error_reply(405, "read-only: only GET and HEAD are allowed (POST /api/acknowledge is the one write)",
                               "Allow: GET, HEAD\r\n"));
    }
    if (route == Route::none) return reply(error_reply(404, "not found"));
    if (!is_public(route) && !authorized(req.authorization))
      return reply(error_reply(401, "a bearer token is required ([status] token)",
                               "WWW-Authenticate: Bearer realm=\"pm500-gateway\"\r\n"));
    if (route == Route::favicon) {
      Reply r;
      r.status = 204;
      return reply(std::move(r));
    }
    if (route == Route::page) {
      Reply r;
      r.type = "text/html; charset=utf-8";
      r.extra = std::string("Content-Security-Policy: ") + kPagePolicy + "\r\n";
      if (req.gzip && !page_gz.empty()) {
        r.body = page_gz;
        r.gzipped = true;
      } else {
        r.body = std::string(page_html());
      }
      return reply(std::move(r));
    }
    Job j{c.id, route, head, req.gzip, close, {}, std::move(body)};
    if (route == Route::history) {
      auto device = query_param(req.query, "device");
      if (!history) return reply(error_reply(404, "not found"));
      if (!device || device->empty())
        return reply(error_reply(400, "/api/history needs ?device=<meter name> (percent-encoded)"));
      j.device = std::move(*device);
    }
    if (!(is_probe(route) ? probes : pages)->push(j)) {
      counters.busy++;
      return reply(error_reply(503, "busy: too many requests in progress; try again", "Retry-After: 1\r\n"));
    }
    if (c.over_limit) counters.over_limit_probes++;
    c.phase = Phase::working;
    c.close_after = close;
    set_interest(c, 0);
    c.deadline = Clock::time_point::max();  // the worker's time is not the client's
  }

  void respond(Conn& c, std::string bytes, bool close) {
    c.out = std::move(bytes);
    c.out_off = 0;
    c.close_after = c.close_after || close;
    c.phase = Phase::writing;
    set_deadline(c, Clock::now() + tuning.write_timeout);
    flush(c);
  }

  void flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_interest(c, EPOLLOUT);
        return;
      }
      close_conn(c);
      return;
    }
    finished(c);
  }

  // The answer is out: read the next request, or close.
  void finished(Conn& c) {
    c.out.clear();
    c.out.shrink_to_fit();
    c.out_off = 0;
    c.served++;
    if (c.close_after || c.peer_closed || stopping) {
      if (c.peer_closed) return close_conn(c);
      // Half-close and read what the client still sends (a request body we never read), so
      // that closing does not reset the connection before the client has read the answer.
      ::shutdown(c.fd, SHUT_WR);
      c.phase = Phase::draining;
      c.in.clear();
      set_interest(c, EPOLLIN);
      set_deadline(c, Clock::now() + kLinger);
      return;
    }
    c.phase = Phase::reading;
    c.close_after = false;
    c.started = !c.in.empty();
    set_deadline(c, Clock::now() + (c.started ? tuning.request_timeout : tuning.keep_alive_timeout));
    set_interest(c, EPOLLIN);
  }

  void on_conn_event(Conn& c, std::uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) {
      close_conn(c);
      return;
    }
    if ((events & EPOLLOUT) && c.phase == Phase::writing) {
      flush(c);
      if (!c.dead && c.phase == Phase::reading) advance(c);
      return;
    }
    if (events & EPOLLIN) {
      read_ready(c);
      if (!c.dead && c.phase == Phase::reading) advance(c);
    }
  }

  void on_wake() {
    std::uint64_t n;
    [[maybe_unused]] ssize_t r = ::read(wake_fd, &n, sizeof n);
    std::vector<Done> ready;
    {
      std::lock_guard lock(done_mu);
      ready.swap(done);
    }
    for (auto& d : ready) {
      auto it = conns.find(d.conn);
      if (it == conns.end() || it->second->dead || it->second->phase != Phase::working) continue;
      Conn& c = *it->second;
      respond(c, std::move(d.bytes), d.close);
      if (!c.dead && c.phase == Phase::reading) advance(c);
    }
  }

  // Closes the connections whose deadline has passed; returns the next deadline.
  void sweep(Clock::time_point now) {
    next_due = Clock::time_point::max();
    if (accept_paused) {
      if (now >= accept_paused_until && !stopping) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kListenId;
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
        accept_paused = false;
      } else {
        next_due = accept_paused_until;
      }
    }
    for (auto& [id, cp] : conns) {
      Conn& c = *cp;
      if (c.dead) continue;
      if (now < c.deadline) {
        next_due = std::min(next_due, c.deadline);
        continue;
      }
      switch (c.phase) {
        case Phase::reading:
          if (c.over_limit) {
            refuse(c, "over the connection limit, no health probe in time");
          } else {
            counters.timed_out++;
            if (c.started && !c.in.empty()) {
              // A request begun but not finished in time (a client trickling its headers).
              std::string bytes = wire(error_reply(408, "the request took too long"), false, false, true,
                                       tuning.keep_alive_timeout);
              [[maybe_unused]] ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            }
            close_conn(c);
          }
          break;
        case Phase::writing:
          counters.timed_out++;
          close_conn(c);
          break;
        case Phase::draining:
          close_conn(c);
          break;
        case Phase::working:
          break;
      }
    }
  }

  void bury() {
    for (auto id : graveyard) conns.erase(id);
    graveyard.clear();
  }

  void run() {
    pthread_setname_np(pthread_self(), "pm500-http-io");
    std::vector<epoll_event> events(128);
    bool stop_begun = false;
    Clock::time_point stop_deadline{};
    for (;;) {
      auto now = Clock::now();
      int timeout = -1;
      if (next_due != Clock::time_point::max()) {
        auto wait = std::chrono::ceil<milliseconds>(next_due - now).count();
        timeout = static_cast<int>(std::clamp<std::int64_t>(wait, 0, 60'000));
      }
      if (stop_begun) timeout = std::min(timeout < 0 ? 50 : timeout, 50);
      int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) {
        log->error("status server event loop failed: {}", std::strerror(errno));
        break;
      }
      // New connections last: the requests already on open ones (a probe among them) come first,
      // before a burst of new connections can push an over-limit one out.
      bool accept_now = false;
      for (int i = 0; i < n; ++i) {
        std::uint64_t id = events[static_cast<std::size_t>(i)].data.u64;
        if (id == kListenId) {
          accept_now = !stop_begun;
        } else if (id == kWakeId) {
          on_wake();
        } else if (auto it = conns.find(id); it != conns.end() && !it->second->dead) {
          on_conn_event(*it->second, events[static_cast<std::size_t>(i)].events);
        }
      }
      if (accept_now) accept_ready();
      now = Clock::now();
      if (now >= next_due) sweep(now);
      bury();

      if (stopping && !stop_begun) {
        // Stop accepting (the port is free at once); let answers in progress finish.
        stop_begun = true;
        stop_deadline = now + kStopGrace;
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
        ::close(listen_fd);
        listen_fd = -1;
        for (auto& [id, c] : conns)
          if (c->phase == Phase::reading || c->phase == Phase::draining) close_conn(*c);
        bury();
      }
      if (stop_begun) {
        bool busy = false;
        for (auto& [id, c] : conns) busy = busy || c->phase == Phase::working || c->phase == Phase::writing;
        if (!busy || now >= stop_deadline) break;
      }
    }
    for (auto& [id, c] : conns) close_conn(*c);
    bury();
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
  auto cannot_listen = [&](const std::string& why) {
    s.close_fds();
    return pm500::unexpected("status server cannot listen on " + s.cfg.listen + ": " + why +
                             "; another program may use the port, or the address is not on this machine: set "
                             "[status] listen (or enabled = false)");
  };

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(s.port);
  if (int rc = getaddrinfo(s.host.empty() ? nullptr : s.host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return cannot_listen(gai_strerror(rc));
  int err = 0;
  for (addrinfo* a = found; a && s.listen_fd < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    // SO_REUSEADDR allows a quick restart (TIME_WAIT). Never SO_REUSEPORT: it would let a second
    // gateway bind the same port and silently take half the requests.
    int yes = 1, no = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (a->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);  // "::" takes IPv4 too
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, std::max(1, s.tuning.backlog)) != 0) {
      err = errno;
      ::close(fd);
      continue;
    }
    s.listen_fd = fd;
  }
  freeaddrinfo(found);
  if (s.listen_fd < 0) return cannot_listen(err ? std::strerror(err) : "address not usable");
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
  s.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  s.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  s.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.epoll_fd < 0 || s.wake_fd < 0) return cannot_listen(std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenId;
  epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.listen_fd, &ev);
  ev.data.u64 = kWakeId;
  epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, s.wake_fd, &ev);

  if (s.page_gz.empty()) s.page_gz = gzip(page_html());
  s.stopping = false;
  s.pages = std::make_unique<JobQueue>(std::max<std::size_t>(1, s.tuning.max_queued));
  s.probes = std::make_unique<JobQueue>(64);
  std::size_t threads = static_cast<std::size_t>(std::max<std::int64_t>(1, s.cfg.threads));
  for (std::size_t i = 0; i < threads; ++i)
    s.workers.emplace_back([&s] {
      pthread_setname_np(pthread_self(), "pm500-http");
      s.work(*s.pages);
    });
  s.workers.emplace_back([&s] {
    pthread_setname_np(pthread_self(), "pm500-http-hp");
    s.work(*s.probes);
  });
  s.loop = std::thread([&s] { s.run(); });
  s.started = true;
  s.log->info("status page on {}{}", url(), s.cfg.token.empty() ? "" : " (bearer token required for the API)");
  return {};
}

void Server::stop() {
  Impl& s = *impl_;
  if (!s.started) return;
  s.stopping = true;
  s.wake();
  if (s.loop.joinable()) s.loop.join();
  s.pages->close();
  s.probes->close();
  for (auto& t : s.workers) t.join();
  s.workers.clear();
  s.done.clear();
  s.close_fds();
  s.counters.open = 0;
  s.started = false;
}

void Server::set_history(HistorySource history) { impl_->history = std::move(history); }

void Server::set_acknowledge(AckHandler handler) { impl_->acknowledge = std::move(handler); }

int Server::port() const { return impl_->port; }

std::string Server::url() const {
  const std::string& h = impl_->host;
  std::string shown = h.find(':') != std::string::npos ? "[" + h + "]" : h;
  return "http://" + shown + ":" + std::to_string(impl_->port);
}

Server::Stats Server::stats() const {
  const auto& c = impl_->counters;
  return {c.accepted.load(), c.open.load(), c.refused.load(), c.over_limit_probes.load(), c.timed_out.load(),
          c.busy.load()};
}

}  // namespace pm500::status
