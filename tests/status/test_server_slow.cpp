// The status server against slow and hostile clients on loopback: header tricklers, idle
// sockets, a flood of connections from one address, workers stuck in a slow source. A container
// health check restarts the gateway when /health/live does not answer, so the probe must answer
// within a second throughout; slow clients must be cut off by the whole-request deadline and
// clients over the connection limits refused at once.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "status/server.hpp"
#include "views.hpp"

using namespace pm500;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

config::StatusSection loopback(std::string token = "") {
  config::StatusSection s;
  s.listen = "127.0.0.1:0";
  s.token = std::move(token);
  s.threads = 2;
  return s;
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A non-blocking TCP socket connecting to 127.0.0.1:port (the connect may still be in progress),
// or -1. No doctest assertion here: the load thread calls it too.
int open_socket(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

bool send_all(int fd, std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == ENOTCONN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Reads until the server closes (or the deadline). closed tells which.
std::string read_to_close(int fd, Clock::time_point deadline, bool& closed) {
  std::string got;
  char buf[4096];
  closed = false;
  while (wait_for(fd, POLLIN, deadline)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    closed = true;  // EOF or reset
    break;
  }
  return got;
}

int status_of(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 9, "HTTP/1.1 ") != 0) return 0;
  return std::atoi(response.substr(9, 3).c_str());
}

struct Answer {
  int status = 0;  // 0: no answer in time
  double ms = 0;   // connect to the end of the answer
  std::string text;
};

// One request on a new connection, as a container health check makes it; the server closes
// after the answer ("Connection: close").
Answer request(int port, const std::string& path, std::chrono::milliseconds timeout = 1000ms,
               const std::string& headers = "") {
  Answer a;
  auto t0 = Clock::now();
  auto deadline = t0 + timeout;
  int fd = open_socket(port);
  if (fd < 0) return a;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "Connection: close\r\n\r\n";
  bool closed = false;
  if (send_all(fd, req, deadline)) a.text = read_to_close(fd, deadline, closed);
  ::close(fd);
  a.ms = ms_since(t0);
  if (closed) a.status = status_of(a.text);
  return a;
}

// Probes /health/live every 100 ms for `window` (at most 40 probes); each answer must be 200
// within a second. Returns the slowest probe in ms.
double probe_throughout(status::Server& server, std::chrono::milliseconds window, std::uint64_t& max_open) {
  double slowest = 0;
  int probes = 0;
  auto end = Clock::now() + window;
  while (Clock::now() < end && probes < 40) {
    Answer a = request(server.port(), "/health/live", 1000ms);
    ++probes;
    INFO("probe " << probes << " after " << a.ms << " ms: " << a.text.substr(0, 60));
    CHECK(a.status == 200);
    CHECK(a.ms < 1000);
    slowest = std::max(slowest, a.ms);
    max_open = std::max(max_open, server.stats().open);
    std::this_thread::sleep_for(100ms);
  }
  // The window was covered: each probe takes at most its 1 s limit plus the 100 ms pause (a
  // fixed count would measure the machine's load, not the server).
  CHECK(probes >= std::max<long>(3, window / 1100ms));
  return slowest;
}

// Hostile clients, all on one thread: `slow` connections that send a request line and then one
// header line every 2-5 s, never finishing, and `idle` connections that send nothing. A socket
// the server closes is opened again 100 ms later, as an attacker would.
class Load {
 public:
  Load(int port, int slow, int idle) : port_(port) {
    for (int i = 0; i < slow + idle; ++i) socks_.push_back({-1, i < slow, Clock::now(), 0});
    thread_ = std::thread([this] { run(); });
  }
  ~Load() {
    stop_ = true;
    thread_.join();
    for (auto& s : socks_)
      if (s.fd >= 0) ::close(s.fd);
  }
  int connected() const { return connected_; }
  int closed_by_server() const { return closed_; }
  int lines_sent() const { return lines_; }

 private:
  struct Sock {
    int fd;
    bool slow;
    Clock::time_point next;  // next (re)connect or header line
    int lines;
  };

  void run() {
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> gap_ms(2000, 5000);
    std::vector<pollfd> fds;
    std::vector<std::size_t> which;
    while (!stop_) {
      auto now = Clock::now();
      int up = 0;
      for (auto& s : socks_) {
        if (s.fd < 0 && now >= s.next) {
          s.fd = open_socket(port_);
          s.lines = 0;
          s.next = now;
        }
        if (s.fd >= 0 && s.slow && now >= s.next) {
          std::string line = s.lines == 0 ? "GET /api/status HTTP/1.1\r\n"
                                           : "X-Slow-" + std::to_string(s.lines) + ": trickle\r\n";
          ssize_t n = ::send(s.fd, line.data(), line.size(), MSG_NOSIGNAL);
          if (n == static_cast<ssize_t>(line.size())) {
            ++s.lines;
            ++lines_;
            s.next = now + std::chrono::milliseconds(gap_ms(rng));
          }
        }
        up += s.fd >= 0;
      }
      connected_ = up;
      fds.clear();
      which.clear();
      for (std::size_t i = 0; i < socks_.size(); ++i)
        if (socks_[i].fd >= 0) {
          fds.push_back({socks_[i].fd, POLLIN, 0});
          which.push_back(i);
        }
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      for (std::size_t k = 0; k < fds.size(); ++k) {
        if (fds[k].revents == 0) continue;
        Sock& s = socks_[which[k]];
        char buf[1024];
        ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
        if (n > 0 || (n < 0 && errno == EAGAIN)) continue;  // an answer (408, 503); the close follows
        ::close(s.fd);
        s.fd = -1;
        s.next = Clock::now() + 100ms;
        ++closed_;
      }
    }
  }

  int port_;
  std::vector<Sock> socks_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connected_{0}, closed_{0}, lines_{0};
  std::thread thread_;
};

// Waits until `pred` holds (checked every 10 ms), at most `limit`.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  auto end = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

}  // namespace

TEST_CASE("200 header tricklers and 100 idle sockets held open: /health/live answers within 1 s") {
  // Limits raised so the server really holds all 300 connections at once: the event loop itself
  // must not let them delay a probe.
  status::Server::Tuning t;
  t.max_per_address = 1000;
  t.max_connections = 1000;
  auto view = test::sample_view();
  status::Server server(loopback(), [&] { return view; }, t);
  REQUIRE(server.start());
  Load load(server.port(), 200, 100);
  REQUIRE(eventually([&] { return server.stats().open >= 300; }, 3000ms));

  std::uint64_t max_open = 0;
  double slowest = probe_throughout(server, 3000ms, max_open);
  MESSAGE("300 slow/idle connections held: slowest of the /health/live probes " << slowest << " ms, "
                                                                             << max_open << " connections open");
  CHECK(max_open >= 300);           // the load was really there while we probed
  CHECK(load.lines_sent() >= 200);  // and trickling
}

TEST_CASE("the same flood with the default limits: refused at once, probes still answered") {
  auto view = test::sample_view();
  status::Server server(loopback(), [&] { return view; });
  REQUIRE(server.start());
  Load load(server.port(), 200, 100);
  // 32 connections from 127.0.0.1 are held; the rest are refused and come back 100 ms later.
  REQUIRE(eventually([&] { return server.stats().refused >= 300; }, 3000ms));

  std::uint64_t max_open = 0;
  double slowest = probe_throughout(server, 3000ms, max_open);
  auto st = server.stats();
  MESSAGE("flood of 300 reconnecting clients from one address: slowest probe " << slowest << " ms; accepted "
                                                                              << st.accepted << ", refused "
                                                                              << st.refused << ", probes over the "
                                                                              << "limit " << st.over_limit_probes);
  CHECK(st.over_limit_probes >= 1);          // the probes came in over the per-address limit
  CHECK(max_open <= 32 + 128);  // held: the per-address limit + the over-limit slots (the probe among them)
  CHECK(load.closed_by_server() >= 300);
}

TEST_CASE("a client trickling its headers is cut off at the request deadline, idle ones too") {
  status::Server::Tuning t;
  t.request_timeout = 1500ms;
  t.keep_alive_timeout = 800ms;
  auto view = test::sample_view();
  status::Server server(loopback(), [&] { return view; }, t);
  REQUIRE(server.start());

  // Idle from the start: closed at the request deadline, without an answer.
  auto t0 = Clock::now();
  int idle = open_socket(server.port());
  REQUIRE(idle >= 0);
  // Kept alive after one answer, then idle: closed at the keep-alive deadline.
  int kept = open_socket(server.port());
  REQUIRE(kept >= 0);
  REQUIRE(send_all(kept, "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n", Clock::now() + 1s));

  // Trickler: one line every 300 ms, well inside any per-read timeout, never finishing.
  std::atomic<double> trickle_ms{0};
  std::string trickle_answer;
  std::thread trickler([&] {
    auto start = Clock::now();
    int fd = open_socket(server.port());
    if (fd < 0 || !send_all(fd, "GET /api/status HTTP/1.1\r\n", start + 1s)) return;  // the checks below fail
    bool closed = false;
    for (int i = 0; i < 20 && !closed; ++i) {
      std::this_thread::sleep_for(300ms);
      std::string line = "X-Trickle-" + std::to_string(i) + ": 1\r\n";
      if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) < 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) trickle_answer = read_to_close(fd, Clock::now() + 1s, closed);
    }
    if (!closed) trickle_answer += read_to_close(fd, Clock::now() + 3s, closed);
    trickle_ms = ms_since(start);
    ::close(fd);
  });

  bool kept_closed = false;
  std::string kept_answer = read_to_close(kept, Clock::now() + 3s, kept_closed);
  double kept_ms = ms_since(t0);
  bool idle_closed = false;
  std::string idle_answer = read_to_close(idle, t0 + 4s, idle_closed);
  double idle_ms = ms_since(t0);
  trickler.join();
  ::close(idle);
  ::close(kept);

  INFO("trickler answer: " << trickle_answer);
  CHECK(trickle_answer.starts_with("HTTP/1.1 408 "));
  CHECK(trickle_ms.load() >= 1400);
  CHECK(trickle_ms.load() < 2500);  // cut off in total, although every line came within 300 ms
  CHECK(idle_closed);
  CHECK(idle_answer.empty());
  CHECK(idle_ms >= 1400);
  CHECK(idle_ms < 2500);
  CHECK(kept_closed);
  CHECK(kept_answer.starts_with("HTTP/1.1 200 "));
  CHECK(kept_answer.find("Keep-Alive: timeout=") != std::string::npos);
  CHECK(kept_ms >= 700);
  CHECK(kept_ms < 1800);
  CHECK(server.stats().timed_out >= 3);
  // The server still answers normally.
  CHECK(request(server.port(), "/health/ready").status == 200);
}

TEST_CASE("over the per-address and global limits: 503 at once, except for a health probe") {
  status::Server::Tuning t;
  t.max_per_address = 4;
  t.refuse_after = 800ms;
  auto view = test::sample_view();
  status::Server server(loopback("tok"), [&] { return view; }, t);
  REQUIRE(server.start());
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) held.push_back(open_socket(server.port()));
  REQUIRE(eventually([&] { return server.stats().open == 4; }, 1000ms));

  // A request for data on a fifth connection: refused at once.
  Answer data = request(server.port(), "/api/status", 1000ms, "Authorization: Bearer tok\r\n");
  INFO(data.text);
  CHECK(data.status == 503);
  CHECK(data.text.find("Connection: close") != std::string::npos);
  CHECK(data.text.find("too many connections (at most 4 from one address") != std::string::npos);
  CHECK(data.ms < 400);  // at once, not after refuse_after
  // A connection that says nothing: refused after refuse_after.
  auto t0 = Clock::now();
  int quiet = open_socket(server.port());
  bool closed = false;
  std::string quiet_answer = read_to_close(quiet, t0 + 2s, closed);
  double quiet_ms = ms_since(t0);
  ::close(quiet);
  CHECK(closed);
  CHECK(status_of(quiet_answer) == 503);
  CHECK(quiet_ms >= 750);
  CHECK(quiet_ms < 1500);
  // The probes are still answered (the public ones without the token).
  CHECK(request(server.port(), "/health/live").status == 200);
  CHECK(request(server.port(), "/health/ready").status == 200);
  CHECK(server.stats().over_limit_probes == 2);
  CHECK(server.stats().refused == 2);

  // Below the limit again: served as usual.
  ::close(held.back());
  held.pop_back();
  REQUIRE(eventually([&] { return server.stats().open == 3; }, 1000ms));
  CHECK(request(server.port(), "/api/status", 1000ms, "Authorization: Bearer tok\r\n").status == 200);
  for (int fd : held) ::close(fd);

  // The global limit, with many addresses' worth of room per address.
  status::Server::Tuning g;
  g.max_connections = 3;
  g.max_per_address = 100;
  status::Server small(loopback(), [&] { return view; }, g);
  REQUIRE(small.start());
  std::vector<int> three;
  for (int i = 0; i < 3; ++i) three.push_back(open_socket(small.port()));
  REQUIRE(eventually([&] { return small.stats().open == 3; }, 1000ms));
  Answer page = request(small.port(), "/");
  CHECK(page.status == 503);
  CHECK(page.ms < 400);  // at once, not after refuse_after (500 ms)
  CHECK(request(small.port(), "/health/live").status == 200);
  for (int fd : three) ::close(fd);
}

TEST_CASE("probes answer from the last view while every worker waits for a slow source") {
  std::atomic<int> calls{0};
  auto view = test::sample_view();
  auto source = [&] {
    if (calls++ > 0) std::this_thread::sleep_for(1500ms);  // the first view comes at once
    return view;
  };
  status::Server::Tuning t;
  t.min_refresh = 0ms;  // every request asks the source
  auto cfg = loopback();
  cfg.threads = 2;
  status::Server server(cfg, source, t);
  REQUIRE(server.start());
  REQUIRE(request(server.port(), "/api/status").status == 200);  // the first view

  std::vector<std::thread> page_clients;
  for (int i = 0; i < 3; ++i)
    page_clients.emplace_back([&] { request(server.port(), "/api/status", 6000ms); });
  REQUIRE(eventually([&] { return calls >= 2; }, 1000ms));  // a worker is inside the source now
  std::this_thread::sleep_for(100ms);
  for (const char* path : {"/health/live", "/health/ready"}) {
    Answer a = request(server.port(), path, 1000ms);
    INFO(path << ": " << a.text);
    CHECK(a.status == 200);
    CHECK(a.ms < 300);  // not the 1.5 s the source takes
  }
  for (auto& th : page_clients) th.join();
}
