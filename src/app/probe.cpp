#include "app/probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "app/fd_limit.hpp"
#include "app/scanning.hpp"
#include "app/simulation.hpp"

namespace pm500::app {
namespace {

using Clock = ProbeEvents::Clock;
using Result = CheckLine::Result;

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Whether a UDP port is free on an address: the scanner binds without SO_REUSEADDR, so a
// running gateway (or another scanner) holding it makes this bind fail the same way.
bool udp_port_free(const std::string& address, std::uint16_t port) {
  if (port == 0) return true;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // let the scanner report the real error
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1) a.sin_addr.s_addr = htonl(INADDR_ANY);
  const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return free;
}

pm500::expected<EmbeddedSim, std::string> start_simulator(const config::SimulatorSection& sc) {
  auto opts = simulator_options(sc);
  if (!opts) return pm500::unexpected(opts.error());
  EmbeddedSim e;
  e.options = std::move(*opts);
  e.options.control_port = 0;  // fault injection is for `run`; a probe needs none
  auto s = sim::Simulator::start(e.options);
  if (!s) return pm500::unexpected(s.error());
  e.sim = std::move(*s);
  return e;
}

}  // namespace

void RecordingConditions::raise(std::string_view id, std::string_view subject, std::string_view evidence) {
  std::lock_guard lock(mu_);
  for (auto& r : raised_)
    if (r.id == id && r.subject == subject) {
      r.evidence = evidence;
      return;
    }
  raised_.push_back({std::string(id), std::string(subject), std::string(evidence)});
}

void RecordingConditions::clear(std::string_view id, std::string_view subject) {
  std::lock_guard lock(mu_);
  std::erase_if(raised_, [&](const Raised& r) { return r.id == id && r.subject == subject; });
}

std::vector<RecordingConditions::Raised> RecordingConditions::active() const {
  std::lock_guard lock(mu_);
  return raised_;
}

ProbeEvents::ProbeEvents(Devices& devices, const std::vector<cip::DeviceSpec>& specs)
    : devices_(devices), records_(specs.size()), data_bits_(specs.size()), want_bits_(specs.size()) {
  assemblies_.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    assemblies_.push_back(specs[i].assemblies);
    const std::size_t n = std::min<std::size_t>(specs[i].assemblies.size(), 64);
    want_bits_[i] = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
  }
}

void ProbeEvents::on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data,
                          std::int64_t recv_time_ns, std::uint16_t sequence, bool explicit_read) noexcept {
  if (device >= assemblies_.size()) return;
  devices_.on_data(device, assembly, data, recv_time_ns, sequence, explicit_read);
  const auto& as = assemblies_[device];
  for (std::size_t i = 0; i < as.size() && i < 64; ++i) {
    if (as[i] != assembly) continue;
    // relaxed: the bits are only a flag for the waiting thread, which reads the details
    // under the mutex or after the scanner thread has been joined.
    data_bits_[device].fetch_or(std::uint64_t{1} << i, std::memory_order_relaxed);
    break;
  }
}

void ProbeEvents::on_state(std::uint32_t device, const cip::DeviceStatus& st) {
  if (device >= records_.size()) return;
  std::lock_guard lock(mu_);
  Record& r = records_[device];
  if (st.state == cip::DeviceState::identifying || st.state == cip::DeviceState::opening ||
      st.state == cip::DeviceState::running || st.state == cip::DeviceState::wrong_device)
    r.session = true;
  if (st.fallback_active) r.path_changed = true;
  if (st.state == cip::DeviceState::stopped && stopping_) r.stopped_ms = ms_since(stop_began_);
  // Keep the last live status: the stopped one has lost its path and counters' meaning.
  if (st.state != cip::DeviceState::stopped) r.status = st;
}

void ProbeEvents::on_fault(std::uint32_t device, const cip::Fault& f) {
  if (device >= records_.size()) return;
  std::lock_guard lock(mu_);
  Record& r = records_[device];
  if (stopping_) {
    r.stop_faults.push_back(f);
    return;
  }
  if (!r.fault) r.fault = f;
  // Faults after which the scanner leaves that assembly out and goes on with the others.
  const bool skips = f.kind == cip::Fault::Kind::path_error || f.kind == cip::Fault::Kind::explicit_read_failed;
  if (skips && f.assembly != 0 && !r.fault_of(f.assembly)) r.assembly_faults.push_back(f);
}

const cip::Fault* ProbeEvents::Record::fault_of(std::uint16_t assembly) const {
  for (const auto& f : assembly_faults)
    if (f.assembly == assembly) return &f;
  return nullptr;
}

void ProbeEvents::on_identity(std::uint32_t device, const cip::Identity& id) {
  if (device >= records_.size()) return;
  std::lock_guard lock(mu_);
  records_[device].identity = id;
}

void ProbeEvents::on_assembly_size(std::uint32_t device, std::uint16_t assembly, std::uint16_t bytes) {
  if (device >= records_.size()) return;
  devices_.on_assembly_size(device, assembly, bytes);
  std::lock_guard lock(mu_);
  auto& sizes = records_[device].sizes;
  for (auto& [a, b] : sizes)
    if (a == assembly) {
      b = bytes;
      return;
    }
  sizes.emplace_back(assembly, bytes);
}

bool ProbeEvents::all_settled(Clock::time_point started) {
  std::lock_guard lock(mu_);
  bool settled = true;
  for (std::size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    const bool done = complete(i);
    bool accounted = true;
    for (std::size_t k = 0; k < assemblies_[i].size() && k < 64; ++k)
      accounted &= ((data_bits(i) >> k) & 1) != 0 || r.fault_of(assemblies_[i][k]) != nullptr;
    if ((done || (accounted && data_bits(i) != 0)) && r.all_data_ms < 0) records_[i].all_data_ms = ms_since(started);
    const bool progressing = r.status.state == cip::DeviceState::opening || r.status.state == cip::DeviceState::running;
    settled &= done || accounted || (r.fault.has_value() && !progressing);
  }
  return settled;
}

void ProbeEvents::begin_stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  stop_began_ = Clock::now();
}

ProbeEvents::Record ProbeEvents::record(std::size_t device) const {
  std::lock_guard lock(mu_);
  return records_[device];
}

std::string hex(unsigned v, int width) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", width, v);
  return buf;
}

std::string identity_text(const cip::Identity& id) {
  return id.product_name + " (vendor " + std::to_string(id.vendor) + ", device type " + hex(id.device_type, 2) +
         ", product code " + std::to_string(id.product_code) + ", revision " + std::to_string(id.revision_major) + "." +
         std::to_string(id.revision_minor) + ", serial " + std::to_string(id.serial) + ")";
}

std::string fault_text(const cip::Fault& f) {
  return std::string(cip::to_string(f.kind)) + ": " + f.text;
}

bool is_connect_fault(cip::Fault::Kind k) {
  using K = cip::Fault::Kind;
  return k == K::connect_refused || k == K::connect_timeout || k == K::unreachable || k == K::socket_error ||
         k == K::connection_lost || k == K::session_error;
}

std::optional<std::size_t> sim_meter_for(const EmbeddedSim* e, const cip::DeviceSpec& spec) {
  if (!e) return std::nullopt;
  for (std::size_t i = 0; i < e->options.meters.size(); ++i)
    if (e->options.meters[i].address == spec.host && e->options.meters[i].tcp_port == spec.port) return i;
  return std::nullopt;
}

std::chrono::milliseconds device_deadline(const config::GatewayConfig& cfg) {
  std::int64_t period = 0;
  for (const auto& d : cfg.devices) {
    const std::int64_t poll = d.poll_interval_ms > 0 ? d.poll_interval_ms : d.rpi_ms;
    period = std::max({period, d.rpi_ms, d.connection == "explicit" ? poll : std::int64_t{0}});
  }
  const std::int64_t ms = 2 * cfg.scanner.connect_timeout_ms + 3 * period + 1000;
  return std::chrono::milliseconds(std::min<std::int64_t>(ms, 15000));
}

std::optional<ProbeRun> run_probe(const config::GatewayConfig& cfg, Devices& devices, std::vector<CheckLine>& out,
                                  ProbeWait wait) {
  ProbeRun run;
  if (cfg.simulator.enabled) {
    auto e = start_simulator(cfg.simulator);
    if (e) {
      out.push_back({Result::ok, "simulator",
                     std::to_string(cfg.simulator.meters) + " simulated meter(s) from " + cfg.simulator.address,
                     "started for this " + std::string(wait.purpose) +
                         " ([simulator] enabled: demo mode, not for production)",
                     ""});
      run.embedded = std::move(*e);
    } else {
      // Most often a running gateway's own simulator holds the ports: then that one answers.
      out.push_back({Result::warn, "simulator", "not started",
                     e.error() + " (if a gateway with this configuration is running, its simulator answers instead)",
                     ""});
    }
  }

  auto opts = scanner_options(cfg.scanner);
  if (!opts) {
    out.push_back({Result::fail, "scanner", "options", opts.error(), "eip.session_fault"});
    return std::nullopt;
  }
  ProbeScan& scan = run.scan;
  scan.configured_udp_port = opts->udp_port;
  scan.local_address = opts->local_address;
  if (!udp_port_free(opts->local_address, opts->udp_port)) {
    scan.udp_port_moved = true;
    // A running gateway holds the port. The probe takes any free one, named to each device in
    // Sockaddr Info 0x8001 -- which a multicast stream that already exists does not follow.
    out.push_back({Result::warn, "scanner", "UDP " + opts->local_address + ":" + std::to_string(opts->udp_port),
                   "in use (a running gateway?): the " + std::string(wait.purpose) +
                       " receives Class 1 data on another port instead",
                   ""});
    opts->udp_port = 0;
  }
  for (const auto& d : cfg.devices) {
    auto spec = device_spec(d);
    if (!spec) {
      out.push_back({Result::fail, "device " + d.name, "configuration", spec.error(), ""});
      return std::nullopt;
    }
    run.specs.push_back(std::move(*spec));
  }

  run.events = std::make_unique<ProbeEvents>(devices, run.specs);
  ProbeEvents& events = *run.events;
  scan.deadline = wait.hold.count() > 0 ? wait.hold : wait.deadline;
  scan.shutdown_timeout_ms = opts->shutdown_timeout_ms;
  if (auto fds = raise_fd_limit(run.specs.size()); !fds) {
    out.push_back({Result::fail, "scanner", "open files", fds.error(), ""});
    return std::nullopt;
  }
  cip::Scanner scanner(*opts, run.specs, events);
  if (auto r = scanner.start(); !r) {
    out.push_back({Result::fail, "scanner", "start", r.error(), "eip.session_fault"});
    return std::nullopt;
  }
  scan.udp_port = scanner.udp_port();
  const auto started = Clock::now();
  auto waiting = [&] {
    if (wait.hold.count() > 0) {
      events.all_settled(started);  // stamps when each device's data became complete
      return Clock::now() - started < wait.hold;
    }
    return !events.all_settled(started) && Clock::now() - started < wait.deadline;
  };
  while (waiting()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // A little longer for the values: plausibility compares assemblies once both arrived.
  if (wait.hold.count() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  events.all_settled(started);
  scan.before_stop = scanner.snapshot();
  events.begin_stop();
  scanner.stop();  // Forward Close every connection, UnRegisterSession
  scan.after_stop = scanner.snapshot();
  return run;
}

}  // namespace pm500::app
