// Test support: temporary folders, free loopback ports, child processes (real servers and the
// project's own binaries), and waiting for them. Everything binds to loopback only.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace pm500::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Source and build folders of the project (from ctest's environment, else the current folder).
fs::path source_dir();
fs::path binary_dir();
// A built executable of the project, e.g. binary("pm500-gateway"); found anywhere below the
// build folder.
fs::path binary(const std::string& name);

// A fresh folder under $TMPDIR, removed (with its contents) when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// A TCP (or UDP) port on 127.0.0.1 that was free a moment ago.
int free_tcp_port();
int free_udp_port();

// A TCP socket listening on 127.0.0.1 that accepts nothing: connects complete in the backlog and
// nobody answers (timeouts), or accept() it by hand to close it unanswered. Closed on destruction.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int fd() const { return fd_; }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

std::string read_file(const fs::path& p);
void write_file(const fs::path& p, const std::string& text);

// Full path of a program on PATH (or in /usr/sbin, /usr/bin, /sbin), or nullopt.
std::optional<std::string> which(const std::string& program);

// A child process. Its stdout and stderr go to a log file (see log()). The destructor sends
// SIGTERM, waits up to 5 s, then SIGKILLs.
class Process {
 public:
  Process(std::vector<std::string> argv, std::vector<std::string> extra_env = {},
          std::optional<fs::path> cwd = std::nullopt);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends a signal; returns false when the process is already gone.
  bool signal(int sig);
  // Waits for exit; returns the exit code (128 + signal for a signal), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // Everything the process printed so far.
  std::string log() const;
  const fs::path& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  fs::path log_path_;
};

// Runs a command to completion; returns exit code and combined output.
struct RunResult {
  int code = -1;
  std::string output;
};
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s,
              std::vector<std::string> extra_env = {});

// Polls until a TCP connect to 127.0.0.1:port succeeds.
bool wait_for_tcp(int port, std::chrono::milliseconds timeout, const std::string& host = "127.0.0.1");

// Polls `pred` every 20 ms until it is true or the timeout passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    struct timespec ts{0, 20'000'000};
    nanosleep(&ts, nullptr);
  }
  return pred();
}

}  // namespace pm500::test
