// End-to-end: batches of 500 PowerMonitor 500 samples (18 values) through the InfluxDB sink --
// encode, gzip (or not), HTTP POST over the kept-alive connection, 204 -- into a local influxd
// 1.6 that this program starts itself on a free loopback port in a temporary folder.
#include <benchmark/benchmark.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sinks/influxdb/influxdb_sink.hpp"

using namespace pm500;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kBatch = 500;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// influxd in a temporary folder, stopped (SIGTERM) and removed at exit.
class Influxd {
 public:
  Influxd() {
    char tmpl[] = "/tmp/pm500-influx-bench-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    port_ = free_port();
    int rpc = free_port();
    std::ofstream(dir_ / "influxdb.conf")
        << "reporting-disabled = true\nbind-address = \"127.0.0.1:" << rpc << "\"\n"
        << "[meta]\n  dir = \"" << (dir_ / "meta").string() << "\"\n"
        << "[data]\n  dir = \"" << (dir_ / "data").string() << "\"\n  wal-dir = \"" << (dir_ / "wal").string()
        << "\"\n  query-log-enabled = false\n"
        << "[monitor]\n  store-enabled = false\n[http]\n  bind-address = \"127.0.0.1:" << port_
        << "\"\n  log-enabled = false\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string conf = (dir_ / "influxdb.conf").string(), log = (dir_ / "influxd.log").string();
      FILE* f = std::fopen(log.c_str(), "w");
      if (f) {
        ::dup2(fileno(f), 1);
        ::dup2(fileno(f), 2);
      }
      ::execl("/usr/bin/influxd", "influxd", "run", "-config", conf.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    influx::HttpClient http(influx::HttpOptions{std::chrono::milliseconds(500), "", false, "", ""});
    for (int i = 0; i < 200; ++i) {
      auto r = http.request("GET", url() + "/ping", {}, {});
      if (r && (*r)->status == 204) {
        auto c = http.request("POST", url() + "/query?q=CREATE%20DATABASE%20bench", {}, "");
        if (c && (*c)->status == 200) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("influxd did not start; see " + (dir_ / "influxd.log").string());
  }
  ~Influxd() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  fs::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

Influxd& server() {
  static Influxd s;
  return s;
}

void BM_influxd_write(benchmark::State& st) {
  Catalog cat;
  for (int d = 0; d < 4; ++d) {
    DeviceMeta m;
    m.name = "mcc-" + std::to_string(d + 1);
    m.site = "plant north";
    m.asset = "feeder " + std::to_string(d + 1);
    for (int i = 0; i < 18; ++i) m.fields[2].push_back("element_" + std::to_string(i) + "_value");
    cat.devices.push_back(std::move(m));
  }
  sinks::InfluxSinkConfig cfg;
  cfg.url = server().url();
  cfg.database = "bench";
  cfg.gzip = st.range(0) != 0;
  cfg.readback_interval_s = 0;
  sinks::InfluxSink sink(cfg, cat, nullptr, "influxdb");

  static std::int64_t next = 0;  // distinct timestamps across runs: every point is new
  std::vector<Sample> batch(kBatch);
  const std::int64_t base = (static_cast<std::int64_t>(std::time(nullptr)) - 86400) * 1'000'000'000;
  for (auto _ : st) {
    st.PauseTiming();
    for (std::size_t n = 0; n < kBatch; ++n) {
      Sample& s = batch[n];
      s.source_time_ns = base + (next++) * 1'000;
      s.device = static_cast<std::uint32_t>(n % 4);
      s.assembly = 102;
      s.count = 18;
      for (int i = 0; i < 18; ++i) s.values[i] = 230.0 + 0.137 * static_cast<double>(next % 1000) + 1.5 * i;
    }
    st.ResumeTiming();
    auto r = sink.deliver(batch);
    if (r.kind != DeliveryResult::Kind::ok) st.SkipWithError((r.reason + " " + r.evidence).c_str());
  }
  const auto c = sink.counters();
  st.SetItemsProcessed(static_cast<std::int64_t>(c.points));
  st.SetBytesProcessed(static_cast<std::int64_t>(c.body_bytes));
  st.counters["connections"] = static_cast<double>(c.connections);
  st.counters["body_bytes_per_point"] = c.points ? static_cast<double>(c.body_bytes) / static_cast<double>(c.points) : 0;
}

}  // namespace

BENCHMARK(BM_influxd_write)->ArgName("gzip")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(3);
