// The status server on loopback, fed a hand-built view: what each route answers, read-only
// methods, the bearer token, readiness codes, secrets never served, and the source callback
// never called concurrently.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <simdjson.h>

#include "prom_parser.hpp"
#include "status/render.hpp"
#include "status/server.hpp"
#include "support/support.hpp"
#include "views.hpp"

using namespace pm500;
using namespace pm500::test;

namespace {

config::StatusSection loopback(std::string token = "") {
  config::StatusSection s;
  s.listen = "127.0.0.1:0";  // any free port: no race with other tests
  s.token = std::move(token);
  s.threads = 2;
  return s;
}

status::Server::Tuning no_cache() {
  status::Server::Tuning t;
  t.min_refresh = std::chrono::milliseconds(0);
  return t;
}

// Sends `bytes` on a new connection to 127.0.0.1:port and returns everything the server sends
// until it closes the connection (or 3 s pass).
std::string exchange(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return got;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool valid_json(const std::string& text) {
  simdjson::dom::parser p;
  return p.parse(simdjson::padded_string(text)).error() == simdjson::SUCCESS;
}

}  // namespace

TEST_CASE("routes: page, API, metrics, health; HEAD like GET without a body") {
  auto view = sample_view();
  view.sinks[0].state_since_ms = kNowMs - 1000;  // known, so the server passes the view on unchanged
  status::Server server(loopback(), [&] { return view; }, no_cache());
  REQUIRE(server.start());
  REQUIRE(server.port() > 0);
  CHECK(server.url() == "http://127.0.0.1:" + std::to_string(server.port()));
  httplib::Client c("127.0.0.1", server.port());

  auto page = c.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(page->get_header_value("Content-Security-Policy").find("default-src 'none'") != std::string::npos);
  CHECK(page->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(page->body == std::string(status::page_html()));
  CHECK(page->body.find("<title>PM500 gateway</title>") != std::string::npos);
  // Nothing from outside the box: no absolute URL other than the comment's documentation.
  CHECK(page->body.find("src=\"http") == std::string::npos);
  CHECK(page->body.find("href=\"http") == std::string::npos);

  auto api = c.Get("/api/status");
  REQUIRE(api);
  CHECK(api->status == 200);
  CHECK(api->get_header_value("Content-Type") == "application/json");
  CHECK(api->get_header_value("Cache-Control") == "no-store");
  CHECK(api->body == status::render_json(view));
  CHECK(valid_json(api->body));

  auto metrics = c.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->get_header_value("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  auto ex = prom::parse(metrics->body);
  for (const auto& e : ex.errors) FAIL_CHECK(e);
  CHECK(ex.family("pm500_failure_active")->value({{"id", "eip.no_response"}}) == 1);

  auto live = c.Get("/health/live");
  REQUIRE(live);
  CHECK(live->status == 200);
  CHECK(valid_json(live->body));
  auto ready = c.Get("/health/ready");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(ready->body.find("\"status\":\"ready\"") != std::string::npos);

  auto head = c.Head("/api/status");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());

  auto missing = c.Get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body == "{\"error\":\"not found\"}");
  CHECK(c.Get("/favicon.ico")->status == 204);
  server.stop();
  server.stop();  // idempotent
}

TEST_CASE("read-only: every other method answers 405 with Allow") {
  auto view = sample_view();
  status::Server server(loopback(), [&] { return view; });
  REQUIRE(server.start());
  httplib::Client c("127.0.0.1", server.port());
  for (const char* path : {"/", "/api/status", "/metrics", "/health/ready", "/nope"}) {
    INFO(path);
    auto post = c.Post(path, "{}", "application/json");
    REQUIRE(post);
    CHECK(post->status == 405);
    CHECK(post->get_header_value("Allow") == "GET, HEAD");
    CHECK(c.Put(path, "x", "text/plain")->status == 405);
    CHECK(c.Delete(path)->status == 405);
    CHECK(c.Patch(path, "x", "text/plain")->status == 405);
    CHECK(c.Options(path)->status == 405);
  }
}

TEST_CASE("bearer token: 401 without it or with a wrong one, 200 with it; never served") {
  const std::string token = "t0ken-\"with\"-quotes";
  auto view = sample_view();
  status::Server server(loopback(token), [&] { return view; });
  REQUIRE(server.start());
  httplib::Client c("127.0.0.1", server.port());

  for (const char* path : {"/api/status", "/metrics"}) {
    INFO(path);
    auto none = c.Get(path);
    REQUIRE(none);
    CHECK(none->status == 401);
    CHECK(none->get_header_value("WWW-Authenticate").find("Bearer") == 0);
    CHECK(c.Get(path, {{"Authorization", "Bearer wrong"}})->status == 401);
    CHECK(c.Get(path, {{"Authorization", "Bearer " + token + "x"}})->status == 401);
    CHECK(c.Get(path, {{"Authorization", "Basic " + token}})->status == 401);
  }
  auto ok = c.Get("/api/status", {{"Authorization", "Bearer " + token}});
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(c.Get("/metrics", {{"Authorization", "bearer " + token}})->status == 200);  // scheme is case-insensitive

  // An unknown path is 404 with or without a token, as without one (docs/status-api.md).
  for (const auto& headers : {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer " + token}}}) {
    auto missing = c.Get("/nope", headers);
    REQUIRE(missing);
    CHECK(missing->status == 404);
    CHECK(missing->body == "{\"error\":\"not found\"}");
    CHECK(missing->get_header_value("WWW-Authenticate").empty());
  }

  // The page (it holds no data) and, with public_health, the probes need no token.
  CHECK(c.Get("/")->status == 200);
  CHECK(c.Get("/health/live")->status == 200);
  CHECK(c.Get("/health/ready")->status == 200);

  // The token appears in no answer.
  for (const char* path : {"/", "/api/status", "/metrics", "/health/live", "/health/ready"}) {
    auto r = c.Get(path, {{"Authorization", "Bearer " + token}});
    REQUIRE(r);
    CHECK(r->body.find("t0ken") == std::string::npos);
    for (const auto& [k, v] : r->headers) CHECK(v.find("t0ken") == std::string::npos);
  }
}

TEST_CASE("public_health = false puts the probes behind the token too") {
  auto cfg = loopback("abc");
  cfg.public_health = false;
  auto view = sample_view();
  status::Server server(cfg, [&] { return view; });
  REQUIRE(server.start());
  httplib::Client c("127.0.0.1", server.port());
  CHECK(c.Get("/health/ready")->status == 401);
  CHECK(c.Get("/health/ready", {{"Authorization", "Bearer abc"}})->status == 200);
}

TEST_CASE("readiness: 503 with the reasons; the server measures how long a sink is spooling") {
  auto cfg = loopback();
  cfg.ready_max_spooling_s = 1;
  auto view = sample_view();
  view.now_ms = 0;                   // let the server take the time
  view.sinks[1].state_since_ms = 0;  // and measure how long the sink has been spooling
  std::mutex mu;
  status::Server server(cfg, [&] { std::lock_guard l(mu); return view; }, no_cache());
  REQUIRE(server.start());
  httplib::Client c("127.0.0.1", server.port());
  auto first = c.Get("/health/ready");
  REQUIRE(first);
  CHECK(first->status == 200);  // spooling, but only just
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto later = c.Get("/health/ready");
  REQUIRE(later);
  CHECK(later->status == 503);
  CHECK(later->body.find("\"status\":\"not_ready\"") != std::string::npos);
  CHECK(later->body.find("sink influxdb has been spooling for 2 s (limit 1 s") != std::string::npos);
  CHECK(c.Get("/health/live")->status == 200);  // alive all the same

  {
    std::lock_guard l(mu);
    view.sinks[1].state = "delivering";  // recovered: ready again at once
  }
  CHECK(c.Get("/health/ready")->status == 200);
  {
    std::lock_guard l(mu);
    view.sinks[1].state = "retrying";  // a new outage starts its own clock
  }
  CHECK(c.Get("/health/ready")->status == 200);
  {
    std::lock_guard l(mu);
    view.scanner_running = false;
  }
  auto scanner = c.Get("/health/ready");
  CHECK(scanner->status == 503);
  CHECK(scanner->body.find("scanner is not running") != std::string::npos);
}

TEST_CASE("the source is never called concurrently, and views are shared within min_refresh") {
  std::atomic<int> calls{0}, inside{0}, overlap{0};
  auto view = sample_view();
  auto source = [&] {
    if (inside.fetch_add(1) != 0) overlap++;
    calls++;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    inside--;
    return view;
  };
  SUBCASE("no cache: one call per request, one at a time") {
    auto cfg = loopback();
    cfg.threads = 4;
    status::Server server(cfg, source, no_cache());
    REQUIRE(server.start());
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 8; ++i)
      clients.emplace_back([&] {
        httplib::Client c("127.0.0.1", server.port());
        for (int k = 0; k < 3; ++k)
          if (auto r = c.Get("/api/status"); r && r->status == 200) ok++;
      });
    for (auto& t : clients) t.join();
    CHECK(ok == 24);
    CHECK(calls == 24);
    CHECK(overlap == 0);
  }
  SUBCASE("a 2 s refresh: a burst of requests costs one call") {
    status::Server::Tuning t;
    t.min_refresh = std::chrono::seconds(2);
    status::Server server(loopback(), source, t);
    REQUIRE(server.start());
    httplib::Client c("127.0.0.1", server.port());
    for (int k = 0; k < 10; ++k) CHECK(c.Get("/metrics")->status == 200);
    CHECK(calls == 1);
  }
}

TEST_CASE("a source that throws answers 500 without the exception text") {
  status::Server server(loopback(), []() -> status::GatewayView { throw std::runtime_error("secret detail"); });
  REQUIRE(server.start());
  httplib::Client c("127.0.0.1", server.port());
  auto r = c.Get("/api/status");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(r->body.find("secret detail") == std::string::npos);
  for (const auto& [k, v] : r->headers) CHECK(v.find("secret detail") == std::string::npos);
}

TEST_CASE("a port in use is reported by start() with the fix") {
  status::Server first(loopback(), [] { return status::GatewayView{}; });
  REQUIRE(first.start());
  auto cfg = loopback();
  cfg.listen = "127.0.0.1:" + std::to_string(first.port());
  status::Server second(cfg, [] { return status::GatewayView{}; });
  auto r = second.start();
  REQUIRE_FALSE(r);
  CHECK(r.error().find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) != std::string::npos);
  CHECK(r.error().find("[status] listen") != std::string::npos);
}

TEST_CASE("stop() right after start() returns, and the port is free again") {
  for (int i = 0; i < 20; ++i) {
    status::Server s(loopback(), [] { return status::GatewayView{}; });
    REQUIRE(s.start());
    s.stop();
  }
  int port = free_tcp_port();
  auto cfg = loopback();
  cfg.listen = "127.0.0.1:" + std::to_string(port);
  {
    status::Server s(cfg, [] { return status::GatewayView{}; });
    REQUIRE(s.start());
    httplib::Client c("127.0.0.1", port);
    CHECK(c.Get("/health/live")->status == 200);
  }
  status::Server again(cfg, [] { return status::GatewayView{}; });
  CHECK(again.start());
}

TEST_CASE("HTTP/1.1: keep-alive, pipelining, gzip, HEAD, queries, malformed and oversized requests") {
  auto view = sample_view();
  view.sinks[0].state_since_ms = kNowMs - 1000;  // known, so the server passes the view on unchanged
  status::Server server(loopback(), [&] { return view; });
  REQUIRE(server.start());

  SUBCASE("a kept-alive connection serves many requests") {
    httplib::Client c("127.0.0.1", server.port());
    c.set_keep_alive(true);
    for (int i = 0; i < 5; ++i) {
      auto r = c.Get("/health/live");
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->get_header_value("Connection") == "keep-alive");
    }
    CHECK(server.stats().accepted == 1);
  }
  SUBCASE("pipelined requests are answered in order on one connection") {
    std::string got = exchange(server.port(),
                               "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(count(got, "HTTP/1.1 ") == 3);
    std::size_t live = got.find("HTTP/1.1 200"), nope = got.find("HTTP/1.1 404"), ready = got.rfind("HTTP/1.1 200");
    CHECK(live < nope);
    CHECK(nope < ready);
    CHECK(got.find("\"status\":\"ready\"") > nope);
  }
  SUBCASE("gzip when the client asks, for the page and the data") {
    httplib::Client c("127.0.0.1", server.port());  // inflates gzip itself
    for (const char* path : {"/", "/api/status", "/metrics"}) {
      INFO(path);
      auto r = c.Get(path, {{"Accept-Encoding", "gzip"}});
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->get_header_value("Content-Encoding") == "gzip");
    }
    CHECK(c.Get("/", {{"Accept-Encoding", "gzip"}})->body == std::string(status::page_html()));
    CHECK(c.Get("/api/status", {{"Accept-Encoding", "gzip"}})->body == status::render_json(view));
    auto plain = c.Get("/", {{"Accept-Encoding", "gzip;q=0, identity"}});
    CHECK(plain->get_header_value("Content-Encoding").empty());
    CHECK(plain->body == std::string(status::page_html()));
  }
  SUBCASE("HEAD announces the length GET would send") {
    std::string got = exchange(server.port(), "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(got.find("Content-Length: " + std::to_string(status::page_html().size()) + "\r\n") != std::string::npos);
    CHECK(got.find("Content-Security-Policy: default-src 'none'") != std::string::npos);
    CHECK(got.ends_with("\r\n\r\n"));  // and no body
  }
  SUBCASE("a query string does not change the route") {
    httplib::Client c("127.0.0.1", server.port());
    CHECK(c.Get("/health/live?from=probe")->status == 200);
  }
  SUBCASE("malformed, oversized and HTTP/2 requests are refused and the connection closed") {
    std::string bad = exchange(server.port(), "GET /health/live\r\n\r\n");
    CHECK(bad.starts_with("HTTP/1.1 400 "));
    CHECK(bad.find("Connection: close") != std::string::npos);
    CHECK(exchange(server.port(), "GET / HTTP/2.0\r\n\r\n").starts_with("HTTP/1.1 505 "));
    CHECK(exchange(server.port(), "GET / HTTP/1.1\r\n folded: x\r\n\r\n").starts_with("HTTP/1.1 400 "));
    std::string huge = "GET / HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
    CHECK(exchange(server.port(), huge).starts_with("HTTP/1.1 431 "));
    // A POST with a body: 405, and the answer arrives intact although the body is never read.
    std::string post = exchange(server.port(), "POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" +
                                                   std::string(20000, 'x'));
    CHECK(post.starts_with("HTTP/1.1 405 "));
    CHECK(post.find("Allow: GET, HEAD") != std::string::npos);
  }
  // Whatever came before, the server still answers.
  httplib::Client c("127.0.0.1", server.port());
  CHECK(c.Get("/health/ready")->status == 200);
}

TEST_CASE("SO_REUSEADDR without SO_REUSEPORT: a second server cannot share the port") {
  status::Server first(loopback(), [] { return status::GatewayView{}; });
  REQUIRE(first.start());
  // A socket that sets SO_REUSEPORT itself still cannot bind: the listener did not set it.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int yes = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(first.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);
  ::close(fd);
}

TEST_CASE("/api/history: the named meter's trend, 400 without a name, 404 for an unknown one; token required") {
  config::StatusSection cfg;
  cfg.listen = "127.0.43.1:0";
  cfg.token = "t0ken";
  status::Server server(cfg, [] { return sample_view(); }, no_cache());
  std::atomic<int> calls{0};
  std::string asked;
  server.set_history([&](std::string_view device) -> std::optional<status::HistoryView> {
    calls++;
    asked = std::string(device);
    if (device != "feeder 1/a&b") return std::nullopt;
    status::HistoryView h;
    h.device = std::string(device);
    h.now_ms = 1'700'000'005'000;
    h.fine_step_ms = 10'000;
    h.coarse_step_ms = 300'000;
    h.series.push_back({"frequency_hz", "Hz", {NAN, 49.98f, 50.01f}, {49.9f}, {50.f}, {50.1f}});
    return h;
  });
  REQUIRE(server.start());
  httplib::Client c("127.0.43.1", server.port());
  c.set_url_encode(false);  // the targets below are sent as written
  httplib::Headers auth = {{"Authorization", "Bearer t0ken"}};

  CHECK(c.Get("/api/history?device=feeder%201%2Fa%26b")->status == 401);  // a read like /api/status
  CHECK(calls == 0);
  auto ok = c.Get("/api/history?device=feeder+1%2Fa%26b&x=1", auth);
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(asked == "feeder 1/a&b");
  CHECK(ok->body == status::render_history_json(*[] {
          status::HistoryView h;
          h.device = "feeder 1/a&b";
          h.now_ms = 1'700'000'005'000;
          h.fine_step_ms = 10'000;
          h.coarse_step_ms = 300'000;
          h.series.push_back({"frequency_hz", "Hz", {NAN, 49.98f, 50.01f}, {49.9f}, {50.f}, {50.1f}});
          return std::optional<status::HistoryView>(h);
        }()));
  CHECK(ok->body.find("\"fine\":[null,49.98,50.01]") != std::string::npos);  // floats as written, gaps null
  CHECK(ok->body.find("\"fine\":{\"step_ms\":10000,\"buckets\":3,\"start_ms\":1699999980000}") != std::string::npos);
  CHECK(valid_json(ok->body));

  auto none = c.Get("/api/history?device=nope", auth);
  REQUIRE(none);
  CHECK(none->status == 404);
  CHECK(none->body.find("no meter named \\\"nope\\\"") != std::string::npos);
  for (const char* bad : {"/api/history", "/api/history?device=", "/api/history?device=%zz", "/api/history?name=x"}) {
    CAPTURE(bad);
    auto r = c.Get(bad, auth);
    REQUIRE(r);
    CHECK(r->status == 400);
  }
  CHECK(c.Post("/api/history?device=nope", auth, "", "text/plain")->status == 405);
}

namespace {

// POST /api/acknowledge as a browser or a script would send it; the handler records what
// reached it.
struct AckServer {
  std::vector<status::AckRequest> seen_;  // written on a worker thread
  std::mutex mu;
  std::vector<status::AckRequest> seen() {
    std::lock_guard lock(mu);
    return seen_;
  }
  status::Server server;
  explicit AckServer(std::string token) : server(loopback(std::move(token)), [] { return sample_view(); }, no_cache()) {
    server.set_acknowledge([this](const status::AckRequest& r) {
      std::lock_guard lock(mu);
      seen_.push_back(r);
      if (r.id != "eip.no_response") return status::Server::AckAnswer{404, "no active condition " + r.id + " [x]", {}};
      status::AckView a{r.id, r.subject, r.action == "shelve" ? "shelved" : "acknowledged", r.by, r.note,
                        "connect timed out", kNowMs, r.action == "shelve" ? kNowMs + r.minutes * 60'000 : 0, false};
      return status::Server::AckAnswer{200, "acknowledged: " + r.id, a};
    });
    REQUIRE(server.start());
  }
};

const std::string kAckBody =
    R"({"action":"acknowledge","id":"eip.no_response","subject":"feeder-2","by":"J. Ortiz","note":"ticket 4411"})";

}  // namespace

TEST_CASE("the one write: POST /api/acknowledge needs the token, same origin and JSON") {
  SUBCASE("without a token configured every write is refused, naming the key to set") {
    AckServer s("");
    httplib::Client c("127.0.0.1", s.server.port());
    auto r = c.Post("/api/acknowledge", kAckBody, "application/json");
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(r->body.find("set [status] token") != std::string::npos);
    CHECK(s.seen().empty());
    auto st = c.Get("/api/status");
    CHECK(st->body.find("\"acknowledge_enabled\":false") != std::string::npos);
  }
  SUBCASE("with a token") {
    AckServer s("t0ken");
    httplib::Client c("127.0.0.1", s.server.port());
    const httplib::Headers auth = {{"Authorization", "Bearer t0ken"}};
    CHECK(c.Post("/api/acknowledge", kAckBody, "application/json")->status == 401);
    CHECK(c.Post("/api/acknowledge", {{"Authorization", "Bearer wrong"}}, kAckBody, "application/json")->status == 401);
    // From another origin (a page elsewhere using the operator's browser): refused.
    httplib::Headers other = auth;
    other.emplace("Origin", "http://evil.example");
    auto cross = c.Post("/api/acknowledge", other, kAckBody, "application/json");
    CHECK(cross->status == 403);
    CHECK(cross->body.find("cross-origin") != std::string::npos);
    httplib::Headers site = auth;
    site.emplace("Sec-Fetch-Site", "cross-site");
    CHECK(c.Post("/api/acknowledge", site, kAckBody, "application/json")->status == 403);
    // A form post (what a forged page could send without a preflight): refused.
    CHECK(c.Post("/api/acknowledge", auth, "id=eip.no_response", "application/x-www-form-urlencoded")->status == 415);
    CHECK(s.seen().empty());
    // Other methods on it, and writes anywhere else.
    auto get = c.Get("/api/acknowledge", auth);
    CHECK(get->status == 405);
    CHECK(get->get_header_value("Allow") == "POST");
    CHECK(c.Post("/api/status", auth, kAckBody, "application/json")->status == 405);
    CHECK(c.Put("/api/acknowledge", auth, kAckBody, "application/json")->status == 405);

    // Same origin (the page sends Origin on a POST) and the token: carried out.
    httplib::Headers page = auth;
    page.emplace("Origin", "http://127.0.0.1:" + std::to_string(s.server.port()));
    page.emplace("Sec-Fetch-Site", "same-origin");
    auto ok = c.Post("/api/acknowledge", page, kAckBody, "application/json; charset=utf-8");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(valid_json(ok->body));
    CHECK(ok->body.find("\"state\":\"acknowledged\",\"by\":\"J. Ortiz\",\"note\":\"ticket 4411\"") !=
          std::string::npos);
    const auto seen = s.seen();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].subject == "feeder-2");
    CHECK(seen[0].note == "ticket 4411");
    // The handler's refusal reaches the client with its status and reason, escaped.
    auto none = c.Post("/api/acknowledge", auth, R"({"id":"nope","by":"a","note":"b"})", "application/json");
    CHECK(none->status == 404);
    CHECK(none->body.find("no active condition nope [x]") != std::string::npos);
    // Malformed bodies name what is wrong; none reaches the handler.
    for (auto [body, says] : {std::pair{"{\"id\":1}", "id\\\" must be a string"},
                              std::pair{"{\"minute\":5}", "unknown member \\\"minute\\\""},
                              std::pair{"[1]", "must be a JSON object"}, std::pair{"{", "not JSON"}}) {
      CAPTURE(body);
      auto r = c.Post("/api/acknowledge", auth, body, "application/json");
      REQUIRE(r);
      CHECK(r->status == 400);
      CHECK(r->body.find(says) != std::string::npos);
    }
    CHECK(s.seen().size() == 2);
    auto big = c.Post("/api/acknowledge", auth, std::string(5000, ' ') + "{}", "application/json");
    CHECK(big->status == 413);
    auto st = c.Get("/api/status", auth);
    CHECK(st->body.find("\"acknowledge_enabled\":true") != std::string::npos);
  }
  SUBCASE("the body may arrive after the head; the connection carries the next request") {
    AckServer s("t0ken");
    const std::string head = "POST /api/acknowledge HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0ken\r\n"
                             "Content-Type: application/json\r\nContent-Length: " +
                             std::to_string(kAckBody.size()) + "\r\n\r\n";
    std::string got = exchange(s.server.port(), head + kAckBody + "GET /health/live HTTP/1.1\r\nConnection: close\r\n\r\n");
    CHECK(got.starts_with("HTTP/1.1 200 "));
    CHECK(count(got, "HTTP/1.1 200 ") == 2);
  }
}
