// The gateway under a service manager: a unix datagram socket bound here plays systemd's
// NOTIFY_SOCKET, and the gateway runs against the embedded simulator (127.0.27.x). READY=1
// comes once it is started, WATCHDOG=1 while its worker threads make progress, STOPPING=1 on
// SIGTERM; a delivery thread stuck in a blocking write (the file sink writing into a pipe
// nobody reads) stops the pings until it moves again. Also: it starts, and spools, with its
// meter and destination down (offline first), and `check --offline` passes there.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <mutex>
#include <thread>

#include "support/gateway.hpp"

using namespace pm500::test;
using Clock = std::chrono::steady_clock;

namespace {

// What systemd would receive: every line of every datagram, with its arrival time.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE_MESSAGE(path.string().size() < sizeof a.sun_path, "socket path too long: " << path);
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    reader_ = std::thread([this] { read_loop(); });
  }
  ~NotifySocket() {
    quit_ = true;
    reader_.join();
    ::close(fd_);
  }
  std::string env() const { return "NOTIFY_SOCKET=" + path_.string(); }

  struct Line {
    Clock::time_point at;
    std::string text;
  };
  std::vector<Line> lines() {
    std::lock_guard lk(mu_);
    return lines_;
  }
  std::size_t count(const std::string& text, Clock::time_point after = {}) {
    std::size_t n = 0;
    for (const auto& l : lines()) n += l.text == text && l.at > after;
    return n;
  }
  bool wait_for(const std::string& text, std::size_t n, std::chrono::milliseconds timeout,
                Clock::time_point after = {}) {
    return eventually([&] { return count(text, after) >= n; }, timeout);
  }
  // Index of the first line equal to `text`, or -1.
  long index_of(const std::string& text) {
    auto ls = lines();
    for (std::size_t i = 0; i < ls.size(); ++i)
      if (ls[i].text == text) return static_cast<long>(i);
    return -1;
  }

 private:
  void read_loop() {
    char buf[4096];
    while (!quit_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      const auto now = Clock::now();
      std::string msg(buf, static_cast<std::size_t>(n));
      std::lock_guard lk(mu_);
      std::size_t start = 0;
      while (start < msg.size()) {
        auto end = msg.find('\n', start);
        if (end == std::string::npos) end = msg.size();
        lines_.push_back({now, msg.substr(start, end - start)});
        start = end + 1;
      }
    }
  }
  fs::path path_;
  int fd_ = -1;
  std::atomic<bool> quit_{false};
  std::thread reader_;
  std::mutex mu_;
  std::vector<Line> lines_;
};

// A named pipe the file sink writes into; read while `drain` is true. Once nobody reads, the
// pipe (one page) fills and the sink's write() blocks: a stuck delivery thread.
class Fifo {
 public:
  explicit Fifo(const fs::path& path) {
    REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
    // Opened for reading first (non-blocking), so the gateway's open for writing returns.
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(fd_ >= 0);
    ::fcntl(fd_, F_SETPIPE_SZ, 4096);
    reader_ = std::thread([this] {
      char buf[65536];
      while (!quit_) {
        if (drain_) {
          const ssize_t n = ::read(fd_, buf, sizeof buf);
          if (n > 0) {
            bytes_ += static_cast<std::size_t>(n);
            continue;
          }
        }
        std::this_thread::sleep_for(10ms);
      }
    });
  }
  ~Fifo() {
    quit_ = true;
    reader_.join();
    ::close(fd_);
  }
  void drain(bool on) { drain_ = on; }
  std::size_t bytes() const { return bytes_; }

 private:
  int fd_ = -1;
  std::atomic<bool> drain_{true}, quit_{false};
  std::atomic<std::size_t> bytes_{0};
  std::thread reader_;
};

// 1.5 s: the gateway pings every 0.5 s and calls a thread stuck after 2 s without progress.
const std::string kWatchdog = "WATCHDOG_USEC=1500000";

}  // namespace

TEST_CASE("under systemd: READY=1 once serving, WATCHDOG=1 while running, STOPPING=1 on SIGTERM") {
  SimulatedGateway g("127.0.27.10", 1, "[sinks.file]\npath = \"samples.lp\"\nflush_interval_ms = 50\n");
  NotifySocket sd(g.dir / "notify");
  Process gw(g.args(), {sd.env(), kWatchdog});

  REQUIRE_MESSAGE(sd.wait_for("READY=1", 1, 10s), gw.log());
  // READY comes after the start: the status page is serving and samples flow.
  CHECK(gw.log().find("running; configuration") != std::string::npos);
  CHECK(http_get(status_url(gw) + "/health/live").output.ends_with("200"));
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(g.samples()) && count_lines(g.samples()) > 0; }, 10s), gw.log());
  CHECK(sd.count("STATUS=running: 1 device(s), 1 sink(s) delivering") == 1);
  CHECK(gw.log().find("service watchdog every 1500 ms") != std::string::npos);

  // Pings every 0.5 s with nothing stuck: at least 3 within 2 s.
  const auto from = Clock::now();
  CHECK(sd.wait_for("WATCHDOG=1", 3, 2500ms, from));
  CHECK(sd.index_of("READY=1") < sd.index_of("WATCHDOG=1"));
  CHECK(sd.count("STOPPING=1") == 0);

  gw.signal(SIGTERM);
  auto code = gw.wait(15s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  REQUIRE(sd.wait_for("STOPPING=1", 1, 1s));
  // Nothing after STOPPING=1 but its status line: no more pings once the stop began.
  const auto lines = sd.lines();
  const auto stop = static_cast<std::size_t>(sd.index_of("STOPPING=1"));
  for (std::size_t i = stop + 1; i < lines.size(); ++i) CHECK(lines[i].text.starts_with("STATUS=stopping"));
  CHECK(gw.log().find("no progress for") == std::string::npos);
}

TEST_CASE("under systemd: a SIGHUP reload is framed by RELOADING=1 (with MONOTONIC_USEC) and READY=1") {
  SimulatedGateway g("127.0.41.30", 1, "");
  NotifySocket sd(g.dir / "notify");
  Process gw(g.args(), {sd.env()});
  REQUIRE_MESSAGE(sd.wait_for("READY=1", 1, 10s), gw.log());
  CHECK(sd.count("RELOADING=1") == 0);

  write_file(g.dir / "gateway.toml", read_file(g.dir / "gateway.toml") + "[sinks.file]\npath = \"samples.lp\"\n");
  REQUIRE(gw.signal(SIGHUP));
  REQUIRE_MESSAGE(sd.wait_for("READY=1", 2, 10s), gw.log());
  const auto lines = sd.lines();
  const long reloading = sd.index_of("RELOADING=1");
  REQUIRE(reloading > sd.index_of("READY=1"));
  CHECK(lines[static_cast<std::size_t>(reloading) + 1].text.starts_with("MONOTONIC_USEC="));
  CHECK(sd.count("STATUS=running: 1 device(s), 1 sink(s) delivering; last reload applied: sink file added") == 1);
  gw.signal(SIGTERM);
  CHECK(gw.wait(15s) == 0);
}

TEST_CASE("a stuck delivery thread stops the watchdog pings; they resume when it moves again") {
  TempDir fifo_dir;
  const fs::path pipe = fifo_dir / "samples.lp";
  Fifo fifo(pipe);
  SimulatedGateway g("127.0.27.12", 1,
                     "[sinks.file]\npath = \"" + pipe.string() + "\"\nfsync = false\nflush_interval_ms = 50\n", 50);
  NotifySocket sd(g.dir / "notify");
  Process gw(g.args(), {sd.env(), kWatchdog});

  REQUIRE_MESSAGE(sd.wait_for("READY=1", 1, 10s), gw.log());
  REQUIRE_MESSAGE(eventually([&] { return fifo.bytes() > 0; }, 10s), gw.log());
  REQUIRE(sd.wait_for("WATCHDOG=1", 2, 2s, Clock::now()));

  // Nobody reads the pipe: the sink's next write() blocks, its loop stops turning. The
  // scanner's keeps turning, and a sink that is only waiting would keep turning too.
  fifo.drain(false);
  REQUIRE_MESSAGE(eventually([&] { return gw.log().find("no progress for") != std::string::npos; }, 6s), gw.log());
  const auto stuck_seen = Clock::now();
  const std::string log = gw.log();
  CHECK(log.find("sink file (") != std::string::npos);
  CHECK(log.find("scanner (") == std::string::npos);
  CHECK(eventually([&] { return sd.count("STATUS=stuck: no progress in sink file (2 s)") +
                                sd.count("STATUS=stuck: no progress in sink file (3 s)") == 1; }, 1s));
  // 1.5 s without a ping: systemd would be restarting the gateway by now.
  std::this_thread::sleep_for(1500ms);
  CHECK(sd.count("WATCHDOG=1", stuck_seen) == 0);
  CHECK(gw.running());

  // The reader comes back: the write completes, the loop turns, the pings resume.
  fifo.drain(true);
  const auto resumed = Clock::now();
  CHECK_MESSAGE(sd.wait_for("WATCHDOG=1", 2, 3s, resumed), gw.log());
  CHECK(gw.log().find("service watchdog pings resumed") != std::string::npos);

  gw.signal(SIGTERM);
  CHECK(gw.wait(15s).has_value());
  CHECK(sd.wait_for("STOPPING=1", 1, 1s));
}

TEST_CASE("offline first: the gateway starts and spools with its meter and its destination down") {
  // mcc-1 is simulated; mcc-2 at 127.0.27.19 does not exist; InfluxDB at 127.0.27.18 is down.
  const int influx_port = free_tcp_port();
  SimulatedGateway g("127.0.27.16", 1,
                     "[[devices]]\nname = \"mcc-2\"\naddress = \"127.0.27.19\"\nrpi_ms = 100\n"
                     "assemblies = [101]\nct = \"400:5\"\nnominal_voltage = 480\n"
                     "[sinks.influxdb]\nurl = \"http://127.0.27.18:" +
                         std::to_string(influx_port) + "\"\n");
  const std::string config = (g.dir / "gateway.toml").string();

  // What the unit's ExecStartPre runs: the configuration only, so it passes.
  auto offline = run({gateway_binary(), "check", "--offline", "-c", config}, 10s);
  CHECK_MESSAGE(offline.code == 0, offline.output);
  CHECK(offline.output.find("not probed (--offline)") != std::string::npos);

  NotifySocket sd(g.dir / "notify");
  Process gw(g.args(), {sd.env()});
  REQUIRE_MESSAGE(sd.wait_for("READY=1", 1, 10s), gw.log());
  // The destination is away: what the live meter sends goes to the spool (after 2 s of retries).
  std::string base = status_url(gw);
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        auto api = http_get(base + "/api/status").output;
                        auto p = api.find("\"spooled\":");
                        return p != std::string::npos && api.compare(p + 10, 2, "0,") != 0;
                      },
                      8s),
                  gw.log());
  gw.signal(SIGTERM);
  REQUIRE(gw.wait(15s) == std::optional<int>(0));
  const std::string log = gw.log();
  const auto pos = log.find("sink influxdb stopped: delivered 0, spooled ");
  REQUIRE_MESSAGE(pos != std::string::npos, log);
  CHECK(std::stoul(log.substr(pos + 44)) > 0);
  // No watchdog was asked for (no WATCHDOG_USEC): no pings.
  CHECK(sd.count("WATCHDOG=1") == 0);
}
