#include "app/check.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

#include "app/devices.hpp"
#include "app/scanning.hpp"
#include "cip/scanner.hpp"
#include "health/alerts.hpp"
#include "health/failure_modes.hpp"
#include "pipeline/ring.hpp"
#include "pipeline/sink_plugin.hpp"
#include "app/simulation.hpp"
#include "tools/pm500-sim/simulator.hpp"

namespace pm500::app {
namespace {

using Clock = std::chrono::steady_clock;
using Result = CheckLine::Result;

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string hex(unsigned v, int width) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*X", width, v);
  return buf;
}

std::string join_assemblies(const std::vector<std::int64_t>& as) {
  std::string s;
  for (auto a : as) s += (s.empty() ? "" : ", ") + std::to_string(a);
  return s;
}

// Conditions the device data path raises during the check (profile size mismatch, implausible
// values), kept to be reported per device. Called on the scanner thread.
class RecordingConditions final : public ConditionSink {
 public:
  struct Raised {
    std::string id, subject, evidence;
  };
  void raise(std::string_view id, std::string_view subject, std::string_view evidence) override {
    std::lock_guard lock(mu_);
    for (auto& r : raised_)
      if (r.id == id && r.subject == subject) {
        r.evidence = evidence;
        return;
      }
    raised_.push_back({std::string(id), std::string(subject), std::string(evidence)});
  }
  void clear(std::string_view id, std::string_view subject) override {
    std::lock_guard lock(mu_);
    std::erase_if(raised_, [&](const Raised& r) { return r.id == id && r.subject == subject; });
  }
  std::vector<Raised> active() const {
    std::lock_guard lock(mu_);
    return raised_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Raised> raised_;
};

// What the scanner told about each device. on_data only sets bits (scanner thread, no
// allocation); everything else is rare and goes under the mutex.
class CheckEvents final : public cip::ScannerEvents {
 public:
  struct Record {
    bool session = false;  // TCP connected and RegisterSession answered (state reached identifying)
    std::optional<cip::Identity> identity;
    std::vector<std::pair<std::uint16_t, std::uint16_t>> sizes;  // assembly, bytes (attribute 4)
    std::optional<cip::Fault> fault;                             // the first, before stop()
    std::vector<cip::Fault> stop_faults;                         // raised while stopping
    cip::DeviceStatus status;                                    // as of the last transition
    bool path_changed = false;                                   // a fallback was taken
    std::int64_t all_data_ms = -1;                               // when every assembly had data
    std::int64_t stopped_ms = -1;                                // stop() began -> state stopped
  };

  CheckEvents(Devices& devices, const std::vector<cip::DeviceSpec>& specs)
      : devices_(devices), records_(specs.size()), data_bits_(specs.size()), want_bits_(specs.size()) {
    assemblies_.reserve(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
      assemblies_.push_back(specs[i].assemblies);
      const std::size_t n = std::min<std::size_t>(specs[i].assemblies.size(), 64);
      want_bits_[i] = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    }
  }

  void on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data,
               std::int64_t recv_time_ns, std::uint16_t sequence, bool explicit_read) noexcept override {
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

  void on_state(std::uint32_t device, const cip::DeviceStatus& st) override {
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

  void on_fault(std::uint32_t device, const cip::Fault& f) override {
    if (device >= records_.size()) return;
    std::lock_guard lock(mu_);
    Record& r = records_[device];
    if (stopping_)
      r.stop_faults.push_back(f);
    else if (!r.fault)
      r.fault = f;
  }
  void on_fault_cleared(std::uint32_t, cip::Fault::Kind) override {}

  void on_identity(std::uint32_t device, const cip::Identity& id) override {
    if (device >= records_.size()) return;
    std::lock_guard lock(mu_);
    records_[device].identity = id;
  }

  void on_assembly_size(std::uint32_t device, std::uint16_t assembly, std::uint16_t bytes) override {
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

  // True when every device either delivered every assembly or faulted; stamps when each
  // device's data became complete.
  bool all_settled(Clock::time_point started) {
    std::lock_guard lock(mu_);
    bool settled = true;
    for (std::size_t i = 0; i < records_.size(); ++i) {
      const bool complete = data_bits_[i].load(std::memory_order_relaxed) == want_bits_[i];
      if (complete && records_[i].all_data_ms < 0) records_[i].all_data_ms = ms_since(started);
      settled &= complete || records_[i].fault.has_value();
    }
    return settled;
  }

  void begin_stop() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    stop_began_ = Clock::now();
  }

  std::uint64_t data_bits(std::size_t device) const { return data_bits_[device].load(std::memory_order_relaxed); }

  Record record(std::size_t device) const {
    std::lock_guard lock(mu_);
    return records_[device];
  }

 private:
  Devices& devices_;
  std::vector<std::vector<std::uint16_t>> assemblies_;
  mutable std::mutex mu_;
  std::vector<Record> records_;
  std::vector<std::atomic<std::uint64_t>> data_bits_;
  std::vector<std::uint64_t> want_bits_;
  bool stopping_ = false;
  Clock::time_point stop_began_{};
};

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

// The embedded simulator of [simulator], started as `run` starts it (gateway.cpp), so a demo
// configuration checks green without a meter. Returns its options too, to match devices.
struct EmbeddedSim {
  std::unique_ptr<sim::Simulator> sim;
  sim::Options options;
};

pm500::expected<EmbeddedSim, std::string> start_simulator(const config::SimulatorSection& sc) {
  auto opts = simulator_options(sc);
  if (!opts) return pm500::unexpected(opts.error());
  EmbeddedSim e;
  e.options = std::move(*opts);
  e.options.control_port = 0;  // fault injection is for `run`; the check needs none
  auto s = sim::Simulator::start(e.options);
  if (!s) return pm500::unexpected(s.error());
  e.sim = std::move(*s);
  return e;
}

// The simulated meter a device spec points at, if any.
std::optional<std::size_t> sim_meter_for(const EmbeddedSim* e, const cip::DeviceSpec& spec) {
  if (!e) return std::nullopt;
  for (std::size_t i = 0; i < e->options.meters.size(); ++i)
    if (e->options.meters[i].address == spec.host && e->options.meters[i].tcp_port == spec.port) return i;
  return std::nullopt;
}

// Wait for the scanner: the connect, session, identity and size requests each take at most
// connect_timeout_ms; then a few RPIs (or polls) for data. Capped, so a check with many slow
// devices still ends in reasonable time.
std::chrono::milliseconds device_deadline(const config::GatewayConfig& cfg) {
  std::int64_t period = 0;
  for (const auto& d : cfg.devices) {
    const std::int64_t poll = d.poll_interval_ms > 0 ? d.poll_interval_ms : d.rpi_ms;
    period = std::max({period, d.rpi_ms, d.connection == "explicit" ? poll : std::int64_t{0}});
  }
  const std::int64_t ms = 2 * cfg.scanner.connect_timeout_ms + 3 * period + 1000;
  return std::chrono::milliseconds(std::min<std::int64_t>(ms, 15000));
}

class DeviceReport {
 public:
  DeviceReport(std::vector<CheckLine>& out, const std::string& name) : out_(out), subject_("device " + name) {}
  void ok(std::string what, std::string detail) { add(Result::ok, std::move(what), std::move(detail), ""); }
  void warn(std::string what, std::string detail, std::string_view id) {
    add(Result::warn, std::move(what), std::move(detail), id);
  }
  void fail(std::string what, std::string detail, std::string_view id) {
    add(Result::fail, std::move(what), std::move(detail), id);
  }

 private:
  void add(Result r, std::string what, std::string detail, std::string_view id) {
    out_.push_back({r, subject_, std::move(what), std::move(detail), std::string(id)});
  }
  std::vector<CheckLine>& out_;
  std::string subject_;
};

struct Scan {
  std::vector<cip::DeviceStatus> before_stop;  // snapshot just before stop()
  std::vector<cip::DeviceStatus> after_stop;
  std::chrono::milliseconds waited{0};
  std::chrono::milliseconds deadline{0};
  std::uint32_t shutdown_timeout_ms = 0;
  std::uint16_t udp_port = 0;             // where the check received Class 1 data
  std::uint16_t configured_udp_port = 0;  // [scanner] udp_port
  bool udp_port_moved = false;            // the configured one was held by another process
};

// One device's lines, from what the scanner reported.
void report_device(std::vector<CheckLine>& out, const config::DeviceSection& dc, const cip::DeviceSpec& spec,
                   const CheckEvents::Record& r, std::uint64_t data_bits, const Scan& scan, std::size_t index,
                   const RecordingConditions& conditions, const EmbeddedSim* embedded) {
  DeviceReport rep(out, dc.name);
  const std::string endpoint = spec.host + ":" + std::to_string(spec.port);
  const std::string within = " within " + std::to_string(scan.deadline.count()) + " ms";

  // Reachable: TCP and RegisterSession.
  if (!r.session) {
    if (r.fault)
      rep.fail("reachable " + endpoint, fault_text(*r.fault), failure_mode_for(*r.fault));
    else
      rep.fail("reachable " + endpoint, "no EtherNet/IP session" + within, "eip.no_response");
    return;
  }
  rep.ok("reachable " + endpoint, "TCP connection and EtherNet/IP session (RegisterSession) established");

  // Identity: ListIdentity, checked against vendor 1, device type 0x92 and the product code.
  const bool wrong = r.fault && r.fault->kind == cip::Fault::Kind::wrong_identity;
  if (wrong) {
    rep.fail("identity", r.fault->text, "eip.no_response");  // the text names what answered
    return;
  }
  if (!r.identity) {
    if (r.fault)
      rep.fail("identity", fault_text(*r.fault), failure_mode_for(*r.fault));
    else
      rep.fail("identity", "no ListIdentity reply" + within, "eip.no_response");
    return;
  }
  rep.ok("identity", identity_text(*r.identity));

  // Assembly sizes (attribute 4) against the device profile.
  if (!r.sizes.empty()) {
    std::string sizes, mismatch;
    for (const auto& [a, b] : r.sizes)
      sizes += (sizes.empty() ? "" : ", ") + std::to_string(a) + ": " + std::to_string(b) + " bytes";
    for (const auto& c : conditions.active())
      if (c.id == "meter.profile_mismatch" && c.subject.starts_with(dc.name + "/"))
        mismatch += (mismatch.empty() ? "" : "; ") + c.evidence;
    if (mismatch.empty())
      rep.ok("assembly sizes", sizes + " (as the profile describes)");
    else
      rep.fail("assembly sizes", mismatch, "meter.profile_mismatch");
  }

  const cip::DeviceStatus& st = r.status;
  const cip::DeviceStatus* before = index < scan.before_stop.size() ? &scan.before_stop[index] : nullptr;
  const bool class1_configured = spec.mode != cip::Mode::explicit_poll;
  const std::string wanted = std::string(cip::to_string(spec.mode)) +
                             (class1_configured ? (spec.multicast ? " multicast" : " point-to-point") : "");

  // Forward Open, or why another path is in use.
  const bool open_fault = r.fault && !is_connect_fault(r.fault->kind) &&
                          r.fault->kind != cip::Fault::Kind::io_timeout &&
                          r.fault->kind != cip::Fault::Kind::explicit_read_failed;
  if (open_fault) {
    const bool refused = r.fault->kind == cip::Fault::Kind::forward_open_refused;
    rep.fail(refused ? "Forward Open (" + wanted + ")" : "assemblies " + join_assemblies(dc.assemblies),
             fault_text(*r.fault), failure_mode_for(*r.fault));
    return;
  }
  if (r.path_changed || st.fallback_active) {
    // Data flows through the fallback: the gateway works, but not as configured (no owner).
    rep.warn("Forward Open (" + wanted + ")", st.path_reason, "eip.ownership_conflict");
  } else if (class1_configured) {
    // Open now, else accepted so far (a connection that timed out is reopened and counted again).
    const std::uint64_t opens = before && before->connections_open > 0 ? before->connections_open
                                : before                               ? before->forward_opens
                                                                       : st.forward_opens;
    if (opens > 0)
      rep.ok("Forward Open (" + wanted + ")", std::to_string(opens) + " connection(s) accepted for assemblies " +
                                                  join_assemblies(dc.assemblies) + ", RPI " +
                                                  std::to_string(dc.rpi_ms) + " ms");
  } else {
    rep.ok("path", "explicit reads (Get_Attribute_Single of attribute 3) as configured: no Class 1 connection");
  }

  // Data: every configured assembly delivered at least once.
  std::string missing, got;
  for (std::size_t i = 0; i < spec.assemblies.size() && i < 64; ++i) {
    std::string& list = (data_bits >> i) & 1 ? got : missing;
    list += (list.empty() ? "" : ", ") + std::to_string(spec.assemblies[i]);
  }
  const std::string via = std::string(cip::to_string(st.path_in_use));
  if (missing.empty()) {
    rep.ok("data", "assemblies " + got + " received (" + via + ") after " +
                       std::to_string(std::max<std::int64_t>(r.all_data_ms, 0)) + " ms");
  } else if (scan.udp_port_moved && st.path_in_use != cip::Mode::explicit_poll && spec.multicast &&
             (!r.fault || r.fault->kind == cip::Fault::Kind::io_timeout)) {
    // The running gateway holds the configured port, and the meter's multicast stream goes
    // there: the check cannot see the data, which says nothing against the meter.
    rep.warn("data",
             "none from assemblies " + missing + within + ": the multicast stream goes to UDP port " +
                 std::to_string(scan.configured_udp_port) +
                 ", held by another process (a running gateway?); stop it to check the data path",
             "");
  } else if (r.fault) {
    rep.fail("data", "none from assemblies " + missing + ": " + fault_text(*r.fault), failure_mode_for(*r.fault));
  } else {
    std::string why = "none from assemblies " + missing + within + " (" + via + ")";
    if (st.path_in_use != cip::Mode::explicit_poll)
      why +=
          "; Class 1 data was expected on UDP port " + std::to_string(scan.udp_port) +
          (spec.multicast ? ": a multicast stream that already exists goes to the port its first consumer named "
                            "(2222 for a PLC), and the meter must honour Sockaddr Info 0x8001 for another port"
                          : ": a firewall dropping UDP from the meter, or a meter that ignores Sockaddr Info 0x8001");
    rep.fail("data", why, "eip.session_fault");
  }
  if (!missing.empty() && out.back().result == Result::fail) return;

  // Values: decoded by the profile, scaled, and plausible (meter.erratic_readings).
  for (const auto& c : conditions.active())
    if (c.id == "meter.erratic_readings" && c.subject == dc.name) rep.fail("values", c.evidence, c.id);

  // Forward Close: stop() sends one per open connection and waits for the replies, at most
  // shutdown_timeout_ms. A device is marked stopped early only when every reply came (or its
  // session broke, which raises a fault); at the deadline the scanner gives up on the rest.
  const std::uint32_t open = before ? before->connections_open : 0;
  if (open == 0) return;
  const std::uint32_t left = index < scan.after_stop.size() ? scan.after_stop[index].connections_open : 0;
  std::string sim_note;
  if (auto m = sim_meter_for(embedded, spec))
    sim_note =
        "; the simulated meter counted " + std::to_string(embedded->sim->stats(*m).forward_close) + " Forward Close";
  if (!r.stop_faults.empty()) {
    rep.fail("Forward Close", std::to_string(open) + " connection(s): " + fault_text(r.stop_faults.front()),
             failure_mode_for(r.stop_faults.front()));
  } else if (left != 0) {
    rep.fail("Forward Close",
             std::to_string(left) + " of " + std::to_string(open) + " connection(s) still open after stop",
             "eip.session_fault");
  } else if (r.stopped_ms >= 0 && r.stopped_ms + 50 < static_cast<std::int64_t>(scan.shutdown_timeout_ms)) {
    rep.ok("Forward Close", std::to_string(open) + " connection(s) closed; the device answered in " +
                                std::to_string(r.stopped_ms) + " ms" + sim_note);
  } else {
    rep.warn("Forward Close",
             "sent for " + std::to_string(open) + " connection(s), but not every reply came within " +
                 std::to_string(scan.shutdown_timeout_ms) +
                 " ms; the meter frees a connection it did not close only when its watchdog expires "
                 "(heartbeat_interval_ms x 4 x 2^timeout_multiplier)" +
                 sim_note,
             "eip.session_fault");
  }
}

std::vector<CheckLine> check_devices(const config::GatewayConfig& cfg, Devices& devices,
                                     const RecordingConditions& conditions) {
  std::vector<CheckLine> out;
  if (cfg.devices.empty()) {
    out.push_back({Result::skipped, "devices", "none configured", "", ""});
    return out;
  }
  std::optional<EmbeddedSim> embedded;
  if (cfg.simulator.enabled) {
    auto e = start_simulator(cfg.simulator);
    if (e) {
      out.push_back({Result::ok, "simulator",
                     std::to_string(cfg.simulator.meters) + " simulated meter(s) from " + cfg.simulator.address,
                     "started for this check ([simulator] enabled: demo mode, not for production)", ""});
      embedded = std::move(*e);
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
    return out;
  }
  Scan scan;
  scan.configured_udp_port = opts->udp_port;
  if (!udp_port_free(opts->local_address, opts->udp_port)) {
    scan.udp_port_moved = true;
    // A running gateway holds the port. The check takes any free one, named to each device in
    // Sockaddr Info 0x8001 -- which a multicast stream that already exists does not follow.
    out.push_back({Result::warn, "scanner", "UDP " + opts->local_address + ":" + std::to_string(opts->udp_port),
                   "in use (a running gateway?): the check receives Class 1 data on another port instead", ""});
    opts->udp_port = 0;
  }
  std::vector<cip::DeviceSpec> specs;
  for (const auto& d : cfg.devices) {
    auto spec = device_spec(d);
    if (!spec) {
      out.push_back({Result::fail, "device " + d.name, "configuration", spec.error(), ""});
      return out;
    }
    specs.push_back(std::move(*spec));
  }

  CheckEvents events(devices, specs);
  scan.deadline = device_deadline(cfg);
  scan.shutdown_timeout_ms = opts->shutdown_timeout_ms;
  cip::Scanner scanner(*opts, specs, events);
  if (auto r = scanner.start(); !r) {
    out.push_back({Result::fail, "scanner", "start", r.error(), "eip.session_fault"});
    return out;
  }
  scan.udp_port = scanner.udp_port();
  const auto started = Clock::now();
  while (!events.all_settled(started) && Clock::now() - started < scan.deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // A little longer for the values: plausibility compares assemblies once both arrived.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  events.all_settled(started);
  scan.before_stop = scanner.snapshot();
  events.begin_stop();
  scanner.stop();  // Forward Close every connection, UnRegisterSession
  scan.after_stop = scanner.snapshot();

  for (std::size_t i = 0; i < cfg.devices.size(); ++i)
    report_device(out, cfg.devices[i], specs[i], events.record(i), events.data_bits(i), scan, i, conditions,
                  embedded ? &*embedded : nullptr);
  if (embedded) embedded->sim->stop();
  return out;
}

std::vector<CheckLine> check_sinks(const config::GatewayConfig& cfg, const Catalog& catalog) {
  std::vector<CheckLine> out;
  for (const auto& section : cfg.sinks) {
    const std::string subject = "sink " + section.type;
    if (!section.delivery.enabled) {
      out.push_back({Result::skipped, subject, "disabled, not probed", "", ""});
      continue;
    }
    const SinkPlugin* plugin = find_sink_plugin(section.type);
    if (!plugin) {
      out.push_back(
          {Result::fail, subject, "built in", "no sink named " + section.type + " is built into this binary", ""});
      continue;
    }
    if (!plugin->probe) {
      out.push_back({Result::ok, subject, "configuration", "valid (this sink has nothing to probe)", ""});
      continue;
    }
    const SinkEnv env{catalog, cfg.gateway.state_dir, nullptr, {}};
    for (auto& r : plugin->probe(section, env)) {
      CheckLine line{Result::ok, subject, std::move(r.what), std::move(r.detail), std::move(r.failure_id)};
      if (r.result == SinkProbeResult::Result::warn) line.result = Result::warn;
      if (r.result == SinkProbeResult::Result::fail) {
        line.result = Result::fail;
        // A sink that does not name the mode gets the one its delivery problems belong to.
        if (line.failure_id.empty()) line.failure_id = health::failure_mode_for_sink(section.type);
      }
      out.push_back(std::move(line));
    }
  }
  if (cfg.sinks.empty()) out.push_back({Result::skipped, "sinks", "none configured", "", ""});
  return out;
}

}  // namespace

std::vector<CheckLine> check_configuration(const config::GatewayConfig& cfg) {
  std::size_t enabled = 0;
  for (const auto& s : cfg.sinks) enabled += s.delivery.enabled ? 1 : 0;
  return {{Result::ok, "configuration", cfg.source_file,
           std::to_string(cfg.devices.size()) + " device(s), " + std::to_string(cfg.sinks.size()) + " sink(s) (" +
               std::to_string(enabled) + " enabled)",
           ""}};
}

std::vector<CheckLine> check_devices_and_sinks(const config::GatewayConfig& cfg) {
  std::vector<CheckLine> out;
  // The real data path (profiles, scaling, plausibility) behind the scanner, so the check also
  // finds a profile that does not fit the meter. Its ring has no reader: samples just cycle.
  RecordingConditions conditions;
  Ring ring(1024);
  auto devices = Devices::create(cfg, ring, conditions);
  const Catalog no_devices;
  const Catalog& catalog = devices ? (*devices)->catalog() : no_devices;
  // Sinks are probed meanwhile on their own thread: each may wait for its own timeouts.
  auto sinks = std::async(std::launch::async, [&] { return check_sinks(cfg, catalog); });
  if (devices) {
    out = check_devices(cfg, **devices, conditions);
  } else {
    out.push_back({Result::fail, "devices", "profiles and settings", devices.error(), "meter.profile_mismatch"});
  }
  for (auto& l : sinks.get()) out.push_back(std::move(l));
  return out;
}

std::size_t render_check(std::ostream& os, std::span<const CheckLine> lines) {
  std::size_t checks = 0, failed = 0, warned = 0;
  for (const auto& l : lines) {
    const char* mark = l.result == Result::ok     ? "\u2713"
                       : l.result == Result::warn ? "!"
                       : l.result == Result::fail ? "\u2717"
                                                  : "-";
    os << mark << ' ' << l.subject << ": " << l.what;
    if (!l.detail.empty()) os << ": " << l.detail;
    if (!l.failure_id.empty() && l.result != Result::ok) os << " [" << l.failure_id << ']';
    os << '\n';
    if (l.result != Result::ok && !l.failure_id.empty())
      if (const health::FailureMode* m = health::find_failure_mode(l.failure_id))
        os << "  fix: " << m->resolution << '\n';
    if (l.result != Result::skipped) ++checks;
    failed += l.result == Result::fail ? 1 : 0;
    warned += l.result == Result::warn ? 1 : 0;
  }
  os << checks << (checks == 1 ? " check, " : " checks, ") << failed << " failed";
  if (warned > 0) os << ", " << warned << (warned == 1 ? " warning" : " warnings");
  os << '\n';
  return failed;
}

CheckLine webhook_check(const config::GatewayConfig& cfg) {
  const auto& a = cfg.alerts;
  auto r = health::send_test_alert(a, cfg.gateway.site);
  std::string what = "test alert to " + health::redacted_url(a.url);
  if (r.kind == health::PostResult::Kind::delivered)
    return {Result::ok, "alerts", what,
            "accepted (HTTP " + std::to_string(r.http_status) + " in " + std::to_string(r.elapsed_ms) + " ms)", ""};
  std::string detail = r.describe(a.url);
  if (r.kind == health::PostResult::Kind::auth_refused)
    detail += " (credentials refused: check the Authorization header or the token in [alerts])";
  else if (r.kind == health::PostResult::Kind::rejected)
    detail += " (request refused: check [alerts] url and template)";
  return {Result::fail, "alerts", what, std::move(detail), "ops.alert_delivery_failure"};
}

std::vector<CheckLine> check_alerts(const config::GatewayConfig& cfg) {
  if (!cfg.alerts.enabled) return {{Result::skipped, "alerts", "webhook", "[alerts] enabled = false, not probed", ""}};
  return {webhook_check(cfg)};
}

}  // namespace pm500::app
