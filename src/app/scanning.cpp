#include "app/scanning.hpp"

#include <charconv>

#include "cip/status.hpp"
#include "log/log.hpp"

namespace pm500::app {

pm500::expected<cip::ScannerOptions, std::string> scanner_options(const config::ScannerSection& s) {
  cip::ScannerOptions o;
  o.local_address = s.local_address;
  o.udp_port = static_cast<std::uint16_t>(s.udp_port);
  o.connect_timeout_ms = static_cast<std::uint32_t>(s.connect_timeout_ms);
  o.request_timeout_ms = static_cast<std::uint32_t>(s.connect_timeout_ms);
  o.reconnect_initial_ms = static_cast<std::uint32_t>(s.reconnect_initial_ms);
  o.reconnect_max_ms = static_cast<std::uint32_t>(s.reconnect_max_ms);
  o.originator_vendor = static_cast<std::uint16_t>(s.originator_vendor);
  o.originator_serial = static_cast<std::uint32_t>(s.originator_serial);
  o.session_check_ms = static_cast<std::uint32_t>(s.session_check_ms);
  o.receive_buffer_ms = static_cast<std::uint32_t>(s.receive_buffer_ms);
  o.receive_hold_us = static_cast<std::uint32_t>(s.receive_hold_us);
  o.probe_interval_ms = static_cast<std::uint32_t>(s.probe_interval_ms);
  o.max_setups = static_cast<std::uint32_t>(s.max_setups);
  return o;
}

pm500::expected<cip::DeviceSpec, std::string> device_spec(const config::DeviceSection& d) {
  auto p = device::load_profile_for(d.profile);
  if (!p) {
    std::string msg = "device " + d.name + ": profile " + (d.profile.empty() ? "(built-in)" : d.profile) +
                      " is invalid:";
    for (const auto& e : p.error()) msg += "\n  " + e.str();
    return pm500::unexpected(msg);
  }
  return device_spec(d, *p);
}

pm500::expected<cip::DeviceSpec, std::string> device_spec(const config::DeviceSection& d,
                                                          const device::Profile& profile) {
  cip::DeviceSpec spec;
  // From the profile, then what the section overrides (0 / "" = keep the profile's).
  const auto pick = [](std::int64_t over, auto from) { return over != 0 ? static_cast<decltype(from)>(over) : from; };
  const auto header = [](const std::string& over, device::RealTimeHeader from) {
    return over == "profile" ? from == device::RealTimeHeader::run_idle : over == "run_idle";
  };
  spec.identity.device = profile.name;
  spec.identity.vendor = pick(d.identity_vendor, profile.identity.vendor);
  spec.identity.device_type = pick(d.identity_device_type, profile.identity.device_type);
  spec.identity.product_codes = profile.identity.product_codes;
  spec.identity.product_name = d.identity_product_name.empty() ? profile.identity.product_name
                               : d.identity_product_name == "*" ? std::string()
                                                                : d.identity_product_name;
  spec.config_instance = pick(d.config_instance, profile.connection.config_instance);
  spec.input_only_point = pick(d.input_only_point, profile.connection.input_only_point);
  spec.listen_only_point = pick(d.listen_only_point, profile.connection.listen_only_point);
  spec.run_idle_header = header(d.t_o_header, profile.connection.t_o_header);
  spec.o_t_run_idle_header = header(d.o_t_header, profile.connection.o_t_header);
  spec.profile = profile.source;
  if (spec.input_only_point == spec.listen_only_point)
    return pm500::unexpected("device " + d.name + ": input_only_point and listen_only_point are both " +
                             std::to_string(spec.input_only_point) +
                             " (profile and overrides together); set input_only_point or listen_only_point");
  std::string_view addr = d.address;
  if (auto colon = addr.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = addr.substr(colon + 1);
    unsigned p = 0;
    auto r = std::from_chars(port.data(), port.data() + port.size(), p);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || p == 0 || p > 65535)
      return pm500::unexpected("device " + d.name + ": address \"" + d.address +
                               "\" has an invalid port; write \"host\" or \"host:44818\"");
    spec.port = static_cast<std::uint16_t>(p);
    addr = addr.substr(0, colon);
  }
  if (addr.empty()) return pm500::unexpected("device " + d.name + ": address is empty");
  spec.host = std::string(addr);
  spec.mode = d.connection == "input-only" ? cip::Mode::input_only
              : d.connection == "explicit" ? cip::Mode::explicit_poll
                                           : cip::Mode::listen_only;
  spec.fallback = d.fallback == "input-only" ? cip::Fallback::input_only
                  : d.fallback == "none"     ? cip::Fallback::none
                                             : cip::Fallback::explicit_poll;
  spec.multicast = d.transport == "multicast";
  spec.rpi_us = static_cast<std::uint32_t>(d.rpi_ms * 1000);
  spec.timeout_multiplier = static_cast<std::uint8_t>(d.timeout_multiplier);
  spec.heartbeat_rpi_us = static_cast<std::uint32_t>(d.heartbeat_interval_ms * 1000);
  spec.poll_interval_ms = static_cast<std::uint32_t>(d.poll_interval_ms);
  for (auto a : d.assemblies) spec.assemblies.push_back(static_cast<std::uint16_t>(a));
  spec.product_code = static_cast<std::uint16_t>(d.product_code);
  spec.electronic_key = d.electronic_key;
  return spec;
}

std::string_view failure_mode_for(const cip::Fault& f) {
  using K = cip::Fault::Kind;
  switch (f.kind) {
    case K::connect_refused:
    case K::connect_timeout:
    case K::unreachable:
    case K::no_identity_reply:
      return "eip.no_response";
    case K::wrong_identity:  // it did respond: another device, or a profile that does not describe it
      return "eip.wrong_device";
    case K::forward_open_refused:
      // Ownership and connection-count refusals (CIP Vol 1, Table 3-5.29): another scanner or the
      // missing owner decides; everything else is a path or session problem.
      if (f.general == 0x01 && (f.extended == 0x0106 || f.extended == 0x0100 || f.extended == 0x0113 ||
                                f.extended == 0x011A || f.extended == 0x0119))
        return "eip.ownership_conflict";
      return "eip.session_fault";
    case K::session_unanswered:  // the session went silent while I/O data flows
    default:
      return "eip.session_fault";
  }
}

ScanEvents::ScanEvents(Devices& devices, ConditionSink& conditions, std::vector<std::string> names)
    : devices_(devices), conditions_(conditions), names_(std::move(names)) {
  per_device_.resize(names_.size());
}

void ScanEvents::set_name(std::uint32_t device, std::string name) {
  std::lock_guard lock(mu_);
  if (device >= names_.size()) {
    names_.resize(device + 1);
    per_device_.resize(device + 1);
  }
  names_[device] = std::move(name);
}

std::string ScanEvents::name_of(std::uint32_t device) {
  std::lock_guard lock(mu_);
  return device < names_.size() ? names_[device] : std::string();
}

void ScanEvents::on_state(std::uint32_t device, const cip::DeviceStatus& st) {
  const std::string name = name_of(device);
  if (name.empty()) return;
  auto log = log::get("scanner");
  bool report_fallback = false, clear_fallback = false;
  {
    std::lock_guard lock(mu_);
    PerDevice& pd = per_device_[device];
    if (st.state != pd.last_state || st.path_reason != pd.last_path) {
      // On a fallback the scanner retries the configured path every reconnect_max_ms; those
      // rounds (connect, identify, open, fall back, run) are routine: debug, not a log line each
      // minute per device. Going back to the configured path is logged.
      const bool routine = pd.fallback_reported && st.state != cip::DeviceState::backoff &&
                           st.state != cip::DeviceState::wrong_device && st.state != cip::DeviceState::stopped &&
                           !(st.state == cip::DeviceState::running && !st.fallback_active);
      log->log(routine ? spdlog::level::debug : spdlog::level::info, "{} {}: {} ({})", name, st.endpoint,
               cip::to_string(st.state), st.path_reason);
      pd.last_state = st.state;
      pd.last_path = st.path_reason;
    }
    // Listen-only refused but a fallback works: data flows, yet the configured path is not in
    // use -- an operator should know the PLC's owner connection is missing.
    if (st.fallback_active && !pd.fallback_reported) report_fallback = pd.fallback_reported = true;
    if (!st.fallback_active && pd.fallback_reported && st.state == cip::DeviceState::running) {
      pd.fallback_reported = false;
      clear_fallback = true;
    }
  }
  if (report_fallback) conditions_.raise("eip.ownership_conflict", name, st.path_reason);
  if (clear_fallback) conditions_.clear("eip.ownership_conflict", name);
}

void ScanEvents::on_fault(std::uint32_t device, const cip::Fault& f) {
  const std::string name = name_of(device);
  if (name.empty()) return;
  std::string_view mode = failure_mode_for(f);
  {
    std::lock_guard lock(mu_);
    per_device_[device].mode_of[static_cast<std::size_t>(f.kind)] = std::string(mode);
  }
  std::string evidence = std::string(cip::to_string(f.kind)) + ": " + f.text;
  conditions_.raise(mode, name, evidence);
}

void ScanEvents::on_fault_cleared(std::uint32_t device, cip::Fault::Kind k) {
  const std::string name = name_of(device);
  if (name.empty()) return;
  std::string mode;
  bool still_active = false;
  {
    std::lock_guard lock(mu_);
    PerDevice& pd = per_device_[device];
    mode = std::move(pd.mode_of[static_cast<std::size_t>(k)]);
    pd.mode_of[static_cast<std::size_t>(k)].clear();
    for (const auto& m : pd.mode_of) still_active |= (!mode.empty() && m == mode);
  }
  if (!mode.empty() && !still_active) conditions_.clear(mode, name);
}

void ScanEvents::on_identity(std::uint32_t device, const cip::Identity& id) {
  const std::string name = name_of(device);
  if (name.empty()) return;
  log::get("scanner")->info("{}: {} (vendor {}, device type 0x{:02X}, product code {}, revision {}.{}, serial {})",
                            name, id.product_name, id.vendor, id.device_type, id.product_code,
                            id.revision_major, id.revision_minor, id.serial);
}

}  // namespace pm500::app
