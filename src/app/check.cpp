#include "app/check.hpp"

#include <algorithm>
#include <future>
#include <optional>
#include <ostream>

#include "app/devices.hpp"
#include "app/probe.hpp"
#include "app/scanning.hpp"
#include "cip/scanner.hpp"
#include "health/alerts.hpp"
#include "health/failure_modes.hpp"
#include "pipeline/ring.hpp"
#include "pipeline/sink_plugin.hpp"

namespace pm500::app {
namespace {

using Result = CheckLine::Result;

std::string join_assemblies(const std::vector<std::int64_t>& as) {
  std::string s;
  for (auto a : as) s += (s.empty() ? "" : ", ") + std::to_string(a);
  return s;
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

// One device's lines, from what the scanner reported.
void report_device(std::vector<CheckLine>& out, const config::DeviceSection& dc, const cip::DeviceSpec& spec,
                   const ProbeEvents::Record& r, std::uint64_t data_bits, const ProbeScan& scan, std::size_t index,
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

  // Identity: ListIdentity, checked against the profile's [identity] (and the device's overrides).
  const bool wrong = r.fault && r.fault->kind == cip::Fault::Kind::wrong_identity;
  if (wrong) {
    rep.fail("identity", r.fault->text, failure_mode_for(*r.fault));  // the text names what answered
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

  // Which assemblies delivered data, and which the scanner left out for a fault of their own
  // (one the device does not have): each is reported apart, so a missing 101 does not hide
  // that 100 works.
  std::vector<std::int64_t> got, missing, skipped;
  for (std::size_t i = 0; i < spec.assemblies.size() && i < 64; ++i) {
    const std::uint16_t a = spec.assemblies[i];
    if ((data_bits >> i) & 1)
      got.push_back(a);
    else if (r.fault_of(a))
      skipped.push_back(a);
    else
      missing.push_back(a);
  }
  const auto report_skipped = [&] {
    for (auto a : skipped) {
      const cip::Fault& f = *r.fault_of(static_cast<std::uint16_t>(a));
      rep.fail("assembly " + std::to_string(a), fault_text(f), failure_mode_for(f));
    }
  };

  // Forward Open, or why another path is in use. A fault that stopped the device as a whole
  // ends the report; one that only took an assembly out while others delivered does not.
  const bool open_fault = r.fault && !is_connect_fault(r.fault->kind) &&
                          r.fault->kind != cip::Fault::Kind::io_timeout &&
                          r.fault->kind != cip::Fault::Kind::explicit_read_failed &&
                          !(got.size() > 0 && r.fault->assembly != 0);
  if (open_fault) {
    const bool refused = r.fault->kind == cip::Fault::Kind::forward_open_refused;
    const std::string what = refused                   ? "Forward Open (" + wanted + ")"
                             : r.fault->assembly != 0 ? "assembly " + std::to_string(r.fault->assembly)
                                                      : "assemblies " + join_assemblies(dc.assemblies);
    rep.fail(what, fault_text(*r.fault), failure_mode_for(*r.fault));
    return;
  }
  std::vector<std::int64_t> opened = got;
  opened.insert(opened.end(), missing.begin(), missing.end());
  std::sort(opened.begin(), opened.end());
  const std::string opened_text = (opened.size() == 1 ? "assembly " : "assemblies ") + join_assemblies(opened);
  if (r.path_changed || st.fallback_active) {
    // Data flows through the fallback: the gateway works, but not as configured (no owner).
    rep.warn("Forward Open (" + wanted + ")", st.path_reason, "eip.ownership_conflict");
  } else if (class1_configured) {
    // Open now, else accepted so far (a connection that timed out is reopened and counted again).
    const std::uint64_t opens = before && before->connections_open > 0 ? before->connections_open
                                : before                               ? before->forward_opens
                                                                       : st.forward_opens;
    if (opens > 0)
      rep.ok("Forward Open (" + wanted + ")", std::to_string(opens) + " connection(s) accepted for " + opened_text +
                                                  ", RPI " + std::to_string(dc.rpi_ms) + " ms");
  } else {
    rep.ok("path", "explicit reads (Get_Attribute_Single of attribute 3) as configured: no Class 1 connection");
  }
  // The device refused the profile's real-time format naming one with(out) a run/idle header,
  // and got it: works, but the profile should say so.
  const std::string& note = before && !before->format_note.empty() ? before->format_note : st.format_note;
  if (!note.empty()) rep.warn("real-time format", note, "");

  // Data: every configured assembly delivered at least once.
  const std::string via = std::string(cip::to_string(st.path_in_use));
  const std::string got_text = (got.size() == 1 ? "assembly " : "assemblies ") + join_assemblies(got);
  const std::string missing_text = (missing.size() == 1 ? "assembly " : "assemblies ") + join_assemblies(missing);
  const cip::Fault* own = r.fault ? r.fault_of(r.fault->assembly) : nullptr;
  const cip::Fault* device_fault = r.fault && !(own && own->kind == r.fault->kind) ? &*r.fault : nullptr;
  if (missing.empty()) {
    if (!got.empty())
      rep.ok("data", got_text + " received (" + via + ") after " +
                         std::to_string(std::max<std::int64_t>(r.all_data_ms, 0)) + " ms");
  } else if (scan.udp_port_moved && st.path_in_use != cip::Mode::explicit_poll && spec.multicast &&
             (!device_fault || device_fault->kind == cip::Fault::Kind::io_timeout)) {
    // The running gateway holds the configured port, and the meter's multicast stream goes
    // there: the check cannot see the data, which says nothing against the meter.
    rep.warn("data",
             "none from " + missing_text + within + ": the multicast stream goes to UDP port " +
                 std::to_string(scan.configured_udp_port) +
                 ", held by another process (a running gateway?); stop it to check the data path",
             "");
  } else if (device_fault) {
    rep.fail("data", "none from " + missing_text + ": " + fault_text(*device_fault), failure_mode_for(*device_fault));
  } else {
    if (!got.empty()) rep.ok("data", got_text + " received (" + via + ")");
    std::string why = "none from " + missing_text + within + " (" + via + ")";
    if (st.path_in_use != cip::Mode::explicit_poll)
      why +=
          "; Class 1 data was expected on UDP port " + std::to_string(scan.udp_port) +
          (spec.multicast ? ": a multicast stream that already exists goes to the port its first consumer named "
                            "(2222 for a PLC), and the meter must honour Sockaddr Info 0x8001 for another port"
                          : ": a firewall dropping UDP from the meter, or a meter that ignores Sockaddr Info 0x8001");
    rep.fail("data", why, "eip.session_fault");
  }
  report_skipped();
  if (got.empty() && out.back().result == Result::fail) return;

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
  auto run = run_probe(cfg, devices, out, {.deadline = device_deadline(cfg)});
  if (!run) return out;
  const EmbeddedSim* embedded = run->embedded ? &*run->embedded : nullptr;
  for (std::size_t i = 0; i < cfg.devices.size(); ++i)
    report_device(out, cfg.devices[i], run->specs[i], run->events->record(i), run->events->data_bits(i), run->scan,
                  i, conditions, embedded);
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
  std::vector<CheckLine> out{{Result::ok, "configuration", cfg.source_file,
                              std::to_string(cfg.devices.size()) + " device(s), " + std::to_string(cfg.sinks.size()) +
                                  " sink(s) (" + std::to_string(enabled) + " enabled)",
                              ""}};
  if (enabled == 0) {
    // The gateway runs, but every sample is read and dropped: nothing is delivered or spooled.
    std::string tables;
    for (const SinkPlugin* p : sink_plugins()) tables += (tables.empty() ? "[sinks." : ", [sinks.") + p->schema.name + "]";
    std::string fix = cfg.sinks.empty()
                          ? "add a sink table to " + cfg.source_file + ": one of " + tables
                          : "set enabled = true in [sinks." + cfg.sinks.front().type + "]" +
                                (cfg.sinks.size() > 1 ? " (or another disabled sink)" : "") + ", or add one of " +
                                tables;
    out.push_back({Result::warn, "configuration", "sinks",
                   "no sink is enabled, so samples are read but delivered nowhere and not spooled; " + fix +
                       " (`pm500-gateway config --example` shows every key)",
                   ""});
  }
  return out;
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
