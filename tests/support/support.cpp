#include "support/support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pm500::test {

fs::path source_dir() {
  const char* s = std::getenv("PM500_SOURCE_DIR");
  return s ? fs::path(s) : fs::current_path();
}

fs::path binary_dir() {
  const char* s = std::getenv("PM500_BINARY_DIR");
  return s ? fs::path(s) : fs::current_path();
}

fs::path binary(const std::string& name) {
  for (const auto& e : fs::recursive_directory_iterator(binary_dir())) {
    if (e.is_regular_file() && e.path().filename() == name && access(e.path().c_str(), X_OK) == 0) return e.path();
  }
  throw std::runtime_error("test binary not built: " + name + " (below " + binary_dir().string() + ")");
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/pm500-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

static int free_port(int type) {
  int fd = ::socket(AF_INET, type, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int free_tcp_port() { return free_port(SOCK_STREAM); }
int free_udp_port() { return free_port(SOCK_DGRAM); }

SilentListener::SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::string("SilentListener: ") + std::strerror(errno));
  port_ = ntohs(a.sin_port);
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) ::close(fd_);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

std::optional<std::string> which(const std::string& program) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/bin:/sbin:/bin";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    fs::path p = fs::path(dir) / program;
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return std::nullopt;
}

static int next_log_id() {
  static int n = 0;
  return ++n;
}

Process::Process(std::vector<std::string> argv, std::vector<std::string> extra_env, std::optional<fs::path> cwd) {
  const char* base = std::getenv("TMPDIR");
  log_path_ = fs::path(base ? base : "/tmp") /
              ("pm500-proc-" + std::to_string(getpid()) + "-" + std::to_string(next_log_id()) + "-" +
               fs::path(argv.at(0)).filename().string() + ".log");
  int logfd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (logfd < 0) throw std::runtime_error("cannot open " + log_path_.string());
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(logfd, 1);
    ::dup2(logfd, 2);
    int nul = ::open("/dev/null", O_RDONLY);
    ::dup2(nul, 0);
    if (cwd && ::chdir(cwd->c_str()) != 0) _exit(126);
    for (auto& e : extra_env) ::putenv(e.data());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s failed: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  ::close(logfd);
}

Process::~Process() {
  if (running()) {
    signal(SIGTERM);
    if (!wait(std::chrono::milliseconds(5000))) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      wait(std::chrono::milliseconds(2000));
    }
  }
  // Take down anything the process started in its group.
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
  std::error_code ec;
  fs::remove(log_path_, ec);
}

bool Process::running() {
  if (status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return r == 0;
}

bool Process::signal(int sig) { return running() && ::kill(pid_, sig) == 0; }

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

std::string Process::log() const { return read_file(log_path_); }

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, std::vector<std::string> extra_env) {
  Process p(argv, std::move(extra_env));
  RunResult r;
  auto code = p.wait(timeout);
  r.output = p.log();
  r.code = code ? *code : -1;
  return r;
}

bool wait_for_tcp(int port, std::chrono::milliseconds timeout, const std::string& host) {
  return eventually(
      [&] {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
      },
      timeout);
}

}  // namespace pm500::test
