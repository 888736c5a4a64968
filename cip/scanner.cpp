#include "cip/scanner.hpp"

#include "cip/scanner_engine.hpp"
#include "pm500/thread_name.hpp"

namespace cip {

const char* to_string(Mode m) {
  switch (m) {
    case Mode::listen_only: return "listen-only";
    case Mode::input_only: return "input-only";
    case Mode::explicit_poll: return "explicit";
  }
  return "?";
}

const char* to_string(Fallback f) {
  switch (f) {
    case Fallback::input_only: return "input-only";
    case Fallback::explicit_poll: return "explicit";
    case Fallback::none: return "none";
  }
  return "?";
}

const char* to_string(DeviceState s) {
  switch (s) {
    case DeviceState::connecting: return "connecting";
    case DeviceState::identifying: return "identifying";
    case DeviceState::opening: return "opening";
    case DeviceState::running: return "running";
    case DeviceState::backoff: return "backoff";
    case DeviceState::wrong_device: return "wrong_device";
    case DeviceState::stopped: return "stopped";
  }
  return "?";
}

const char* to_string(Fault::Kind k) {
  switch (k) {
    case Fault::Kind::connect_refused: return "connect_refused";
    case Fault::Kind::connect_timeout: return "connect_timeout";
    case Fault::Kind::unreachable: return "unreachable";
    case Fault::Kind::connection_lost: return "connection_lost";
    case Fault::Kind::no_identity_reply: return "no_identity_reply";
    case Fault::Kind::wrong_identity: return "wrong_identity";
    case Fault::Kind::forward_open_refused: return "forward_open_refused";
    case Fault::Kind::io_timeout: return "io_timeout";
    case Fault::Kind::session_error: return "session_error";
    case Fault::Kind::request_timeout: return "request_timeout";
    case Fault::Kind::path_error: return "path_error";
    case Fault::Kind::explicit_read_failed: return "explicit_read_failed";
    case Fault::Kind::protocol_error: return "protocol_error";
    case Fault::Kind::socket_error: return "socket_error";
    case Fault::Kind::session_unanswered: return "session_unanswered";
  }
  return "?";
}

Scanner::Scanner(ScannerOptions options, std::vector<DeviceSpec> devices, ScannerEvents& events)
    : engine_(std::make_unique<detail::Engine>(std::move(options), std::move(devices), events)) {}

Scanner::~Scanner() { stop(); }

pm500::expected<void, std::string> Scanner::start() {
  if (started_) return pm500::unexpected(std::string("scanner already started"));
  if (auto r = engine_->prepare(); !r) return r;
  thread_ = std::thread([this] {
    pm500::name_this_thread("pm500-scanner");
    engine_->run();
  });
  started_ = true;
  return {};
}

void Scanner::stop() {
  if (!started_) return;
  engine_->request_stop();
  if (thread_.joinable()) thread_.join();
  started_ = false;
}

pm500::expected<void, std::string> Scanner::reconfigure(std::vector<std::optional<DeviceSpec>> devices) {
  return engine_->reconfigure(std::move(devices));
}

std::vector<DeviceStatus> Scanner::snapshot() const { return engine_->snapshot(); }

std::uint16_t Scanner::udp_port() const { return engine_->udp_port(); }

RejectedDatagrams Scanner::rejected_datagrams() const { return engine_->rejected_datagrams(); }

ReceiveStats Scanner::receive_stats() const { return engine_->receive_stats(); }

SetupStats Scanner::setup_stats() const { return engine_->setup_stats(); }

std::uint64_t Scanner::loop_turns() const { return engine_->loop_turns(); }

}  // namespace cip
