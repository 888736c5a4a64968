#include "app/gateway.hpp"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "app/exit_codes.hpp"
#include "log/log.hpp"

namespace pm500::app {

struct Gateway::Impl {
  const config::GatewayConfig& cfg;
  std::shared_ptr<spdlog::logger> log = log::get("gateway");
};

Gateway::Gateway(const config::GatewayConfig& cfg) : impl_(std::make_unique<Impl>(Impl{cfg})) {}
Gateway::~Gateway() = default;

pm500::expected<void, std::string> Gateway::start() {
  const auto& cfg = impl_->cfg;
  std::error_code ec;
  std::filesystem::create_directories(cfg.gateway.state_dir, ec);
  if (ec)
    return pm500::unexpected("cannot create state directory \"" + cfg.gateway.state_dir + "\": " + ec.message() +
                             "; set [gateway] state_dir to a writable folder (a volume in a container)");
  impl_->log->info("state directory {}", cfg.gateway.state_dir);
  for (const auto& d : cfg.devices)
    impl_->log->info("device {} at {} ({}, RPI {} ms, assemblies {})", d.name, d.address, d.connection, d.rpi_ms,
                     d.assemblies.size());
  for (const auto& s : cfg.sinks)
    impl_->log->info("sink {} {}", s.type, s.delivery.enabled ? "enabled" : "disabled");
  return {};
}

void Gateway::tick() {}

void Gateway::stop() { impl_->log->info("stopped"); }

int run_until_signalled(const config::GatewayConfig& cfg) {
  // Block the stop signals in every thread (threads inherit the mask); only this thread takes
  // them, synchronously, so no handler runs in the middle of the scanner or a sink.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto log = log::get("gateway");
  Gateway gw(cfg);
  if (auto r = gw.start(); !r) {
    log->critical("cannot start: {}", r.error());
    gw.stop();
    return kExitRuntime;
  }
  log->info("running; configuration {}; stop with SIGTERM or Ctrl-C", cfg.source_file);
  for (;;) {
    timespec one_second{1, 0};
    int sig = sigtimedwait(&set, nullptr, &one_second);
    if (sig == SIGTERM || sig == SIGINT) {
      log->info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (sig < 0 && errno != EAGAIN && errno != EINTR) {
      log->error("sigtimedwait failed: {}", std::strerror(errno));
      break;
    }
    gw.tick();
  }
  gw.stop();
  spdlog::default_logger()->flush();
  return kExitOk;
}

}  // namespace pm500::app
