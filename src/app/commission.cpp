#include "app/commission.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <string_view>

#include "app/devices.hpp"
#include "app/exit_codes.hpp"
#include "app/probe.hpp"
#include "app/scanning.hpp"
#include "config/config.hpp"
#include "device/scaling.hpp"
#include "health/failure_modes.hpp"
#include "pipeline/ring.hpp"
#include "pm500/json_text.hpp"

namespace pm500::app {
namespace {

using Result = CheckLine::Result;

// One assembly as the gateway decoded and scaled it: the newest sample, or none.
struct AssemblyRead {
  std::uint16_t instance = 0;
  const device::Assembly* layout = nullptr;  // the profile's description
  std::optional<Sample> sample;  // of part 0 (time, sequence, flags)
  std::vector<Sample> parts;     // the newest of each part (Sample::part), when all arrived
  std::vector<double> values;    // their values in element order (every part)
};

// Everything printed about one meter.
struct MeterRead {
  const config::DeviceSection* config = nullptr;
  const cip::DeviceSpec* spec = nullptr;
  ProbeEvents::Record record;
  cip::DeviceStatus status;  // just before the scanner stopped
  bool reachable = false;    // TCP and EtherNet/IP session established
  bool read = false;         // every configured assembly delivered
  std::string problem;       // why not read: the cause in words, naming the address
  std::string failure_id;    // its failure mode (the fix is that mode's resolution)
  std::vector<std::string> notes;  // works, but look: profile sizes, a port the meter does not use
  std::vector<AssemblyRead> assemblies;
  std::vector<device::ActiveFinding> findings;
  const device::DeviceSettings* settings = nullptr;
};

std::string ip_text(std::uint32_t host_order) {
  char buf[INET_ADDRSTRLEN] = "?";
  const in_addr a{htonl(host_order)};
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::string number_text(double v) {
  std::string s;
  json::append_number(s, v);
  return s == "null" ? std::to_string(v) : s;  // NaN and infinity as C++ writes them
}

std::string ms_text(std::uint32_t us) {
  return number_text(us / 1000.0) + " ms";
}

std::string_view ratio_name(device::RatioUse u) {
  switch (u) {
    case device::RatioUse::pt: return "PT";
    case device::RatioUse::ct: return "CT";
    case device::RatioUse::ct_pt: return "CT x PT";
    case device::RatioUse::none: return "";
  }
  return "";
}

std::string transport_text(const cip::DeviceSpec& spec) {
  if (spec.mode == cip::Mode::explicit_poll) return "explicit";
  return std::string(cip::to_string(spec.mode)) + (spec.multicast ? " multicast" : " point-to-point");
}

std::string join_numbers(const std::vector<std::uint16_t>& v) {
  std::string s;
  for (auto a : v) s += (s.empty() ? "" : ", ") + std::to_string(a);
  return s;
}

// Plausibility of the values shown: the device's own check over everything received (a
// finding there needs several failing samples in a row), and the same check on just the
// newest sample of each assembly, so a single read already shows what is wrong with it.
std::vector<device::ActiveFinding> findings_for(const Devices& devices, std::uint32_t index,
                                                const std::vector<AssemblyRead>& reads) {
  std::vector<device::ActiveFinding> out = devices.findings(index);
  const device::Plausibility& running = devices.plausibility(index);
  device::Thresholds once = running.thresholds();
  once.raise_after = 1;
  once.clear_after = 0xFFFF;
  device::Plausibility check(devices.profile(index), running.settings(), once);
  // Twice: consistency checks across assemblies (S vs V x I) need the other one seen first.
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& r : reads)
      for (Sample s : r.parts) check.check(s);
  for (auto& f : check.snapshot())
    if (std::none_of(out.begin(), out.end(), [&](const auto& o) { return o.kind == f.kind; }))
      out.push_back(std::move(f));
  return out;
}

MeterRead gather(const ProbeRun& run, const Devices& devices, const RecordingConditions& conditions,
                 const config::DeviceSection& dc, std::uint32_t i) {
  MeterRead m;
  m.config = &dc;
  m.spec = &run.specs[i];
  m.record = run.events->record(i);
  m.status = i < run.scan.before_stop.size() ? run.scan.before_stop[i] : m.record.status;
  m.settings = &devices.plausibility(i).settings();
  m.reachable = m.record.session;
  m.read = run.events->complete(i);
  const auto& r = m.record;
  const std::string within = " within " + std::to_string(run.scan.deadline.count()) + " ms";
  const std::string endpoint = m.spec->host + ":" + std::to_string(m.spec->port);

  if (!m.reachable) {
    m.problem = r.fault ? fault_text(*r.fault) : "no EtherNet/IP session with " + endpoint + within;
    m.failure_id = r.fault ? std::string(failure_mode_for(*r.fault)) : "eip.no_response";
  } else if (r.fault && r.fault->kind == cip::Fault::Kind::wrong_identity) {
    m.read = false;  // whatever answers is not the configured meter: its values mean nothing
    m.problem = r.fault->text;
    m.failure_id = failure_mode_for(*r.fault);
  } else if (!m.read) {
    std::vector<std::uint16_t> missing;
    for (std::size_t k = 0; k < m.spec->assemblies.size() && k < 64; ++k)
      if (!((run.events->data_bits(i) >> k) & 1)) missing.push_back(m.spec->assemblies[k]);
    m.problem = "no data from assembl" + std::string(missing.size() == 1 ? "y " : "ies ") + join_numbers(missing) +
                " of " + endpoint + within + (r.fault ? ": " + fault_text(*r.fault) : "");
    m.failure_id = r.fault ? std::string(failure_mode_for(*r.fault)) : "eip.session_fault";
  }

  for (const auto& c : conditions.active())
    if (c.id == "meter.profile_mismatch" && c.subject.starts_with(dc.name + "/"))
      m.notes.push_back(c.evidence + " [meter.profile_mismatch]");
  // Multicast is received on whatever port the reply names (the scanner binds it); point-to-point
  // arrives where the gateway asked, so a reply naming another port is worth a note.
  for (const auto& c : m.status.connections)
    if (c.t_o_group == 0 && c.t_o_port != 0 && c.t_o_port != run.scan.udp_port)
      m.notes.push_back("assembly " + std::to_string(c.assembly) + ": the meter's reply says it produces to UDP port " +
                        std::to_string(c.t_o_port) + ", the gateway listens on " + std::to_string(run.scan.udp_port) +
                        "; set [scanner] udp_port = " + std::to_string(c.t_o_port));

  if (m.reachable && !(r.fault && r.fault->kind == cip::Fault::Kind::wrong_identity)) {
    for (auto a : m.spec->assemblies) {
      AssemblyRead ar;
      ar.instance = a;
      ar.layout = devices.profile(i).assembly(a);
      for (std::size_t p = 0; ar.layout && p < ar.layout->part_count(); ++p) {
        Sample s;
        if (!devices.latest(i, a, s, static_cast<std::uint8_t>(p))) {
          ar.parts.clear();
          break;
        }
        ar.parts.push_back(s);
        ar.values.insert(ar.values.end(), s.values, s.values + std::min<std::size_t>(s.count, kMaxSampleValues));
      }
      if (!ar.parts.empty()) ar.sample = ar.parts.front();
      m.assemblies.push_back(ar);
    }
    m.findings = findings_for(devices, i, m.assemblies);
  }
  return m;
}

// ---- text ------------------------------------------------------------------------------------

std::string pad(std::string s, std::size_t width) {
  // Width in characters (UTF-8: continuation bytes take no column).
  const auto columns = static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
  if (columns < width) s.append(width - columns, ' ');
  return s;
}

std::string ratios_text(const device::DeviceSettings& s) {
  const bool gateway = s.applied_by == device::AppliedBy::gateway;
  return "CT " + s.ct.str() + " (x" + number_text(s.ct.value()) + "), PT " + (s.pt.identity() ? "1:1" : s.pt.str()) +
         " (x" + number_text(s.pt.value()) + "), applied by the " + (gateway ? "gateway" : "meter") +
         (gateway ? ": the meter sends secondary values; the gateway multiplies V by PT, I by CT, power and energy "
                    "by CT x PT"
                  : ": the meter sends primary values; the gateway only checks them against the ratios");
}

// The UDP port T->O data arrives on: the one the meter's reply names, else the gateway's own.
std::uint16_t t_o_port(const cip::ConnectionInfo& c, const ProbeScan& scan) {
  return c.t_o_port != 0 ? c.t_o_port : static_cast<std::uint16_t>(scan.udp_port);
}

std::string connection_line(const cip::ConnectionInfo& c, const ProbeScan& scan) {
  const bool multicast = c.t_o_group != 0;
  const std::string local = scan.local_address == "0.0.0.0" ? "any local address" : scan.local_address;
  std::string s = "T->O id " + hex(c.t_o_id, 8) + " received on " +
                  (multicast ? ip_text(c.t_o_group) + ":" + std::to_string(t_o_port(c, scan)) + " (multicast group)"
                             : local + ", UDP port " + std::to_string(scan.udp_port) + " (point-to-point)");
  s += ", RPI " + ms_text(c.t_o_api_us) + "; O->T id " + hex(c.o_t_id, 8) + ", heartbeat every " +
       ms_text(c.o_t_api_us) + " to " + ip_text(c.o_t_address) + ":" + std::to_string(c.o_t_port);
  return s;
}

void print_text(std::ostream& os, const MeterRead& m, const ProbeScan& scan) {
  const auto& spec = *m.spec;
  os << "meter " << m.config->name << " at " << spec.host << ':' << spec.port << '\n';
  const auto field = [&](std::string_view label) -> std::ostream& { return os << "  " << pad(std::string(label), 14); };
  if (m.record.identity) field("identity") << identity_text(*m.record.identity) << '\n';
  if (!m.problem.empty()) {
    field(m.reachable ? "\u2717 not read" : "\u2717 unreachable") << m.problem << " [" << m.failure_id << "]\n";
    if (const health::FailureMode* f = health::find_failure_mode(m.failure_id))
      field("  fix") << f->resolution << '\n';
  }
  if (!m.reachable) return;

  // The connection the meter granted (or the explicit reads in its place).
  const auto& st = m.status;
  std::string conn;
  if (st.path_in_use == cip::Mode::explicit_poll) {
    conn = "explicit reads (Get_Attribute_Single of attribute 3) every " +
           std::to_string(spec.poll_interval_ms) + " ms, no Class 1 connection";
  } else {
    conn = std::string(cip::to_string(st.path_in_use)) + (spec.multicast ? " multicast" : " point-to-point") +
           ", asked RPI " + ms_text(spec.rpi_us) + ", heartbeat " + ms_text(spec.heartbeat_rpi_us) +
           ", timeout multiplier " + std::to_string(spec.timeout_multiplier);
  }
  conn += st.fallback_active ? "; configured " + transport_text(spec) + ": " + st.path_reason
                             : (st.path_in_use == spec.mode ? ", as configured" : "");
  field("connection") << conn << '\n';
  if (!st.format_note.empty()) field("! format") << st.format_note << '\n';
  for (const auto& c : st.connections) field("  " + std::to_string(c.assembly)) << connection_line(c, scan) << '\n';
  for (const auto& n : m.notes) field("! note") << n << '\n';
  if (m.assemblies.empty()) return;

  field("ratios") << ratios_text(*m.settings) << '\n';
  const bool gateway = m.settings->applied_by == device::AppliedBy::gateway;
  for (const auto& a : m.assemblies) {
    const std::string title = a.layout ? a.layout->title : "(not in the profile)";
    if (!a.sample) {
      field(std::to_string(a.instance)) << title << ": nothing received\n";
      continue;
    }
    const Sample& s = *a.sample;
    field(std::to_string(a.instance)) << title << " ("
                                      << ((s.flags & kSampleExplicit) ? "explicit read" : "Class 1, sequence " +
                                                                                               std::to_string(s.sequence))
                                      << ")\n";
    if (!a.layout) continue;
    std::size_t name_w = 0, value_w = 0, unit_w = 0;
    std::vector<std::string> values;
    for (std::size_t k = 0; k < a.layout->elements.size() && k < a.values.size(); ++k) {
      values.push_back(number_text(a.values[k]));
      name_w = std::max(name_w, a.layout->elements[k].name.size());
      value_w = std::max(value_w, values.back().size());
      unit_w = std::max(unit_w, a.layout->elements[k].unit.size());
    }
    for (std::size_t k = 0; k < values.size(); ++k) {
      const device::Element& e = a.layout->elements[k];
      const auto use = device::ratio_use(e.kind);
      std::string ratio;
      if (use != device::RatioUse::none)
        ratio = gateway ? "x" + number_text(device::ratio_factor(e.kind, m.settings->ct, m.settings->pt)) + " " +
                              std::string(ratio_name(use))
                        : std::string(ratio_name(use)) + " by the meter";
      std::string value = values[k];
      value.insert(0, value_w - value.size(), ' ');
      std::string line = "    " + pad(e.name, name_w) + "  " + value + ' ' + pad(e.unit, unit_w) + "  " + ratio;
      line.erase(line.find_last_not_of(' ') + 1);
      os << line << '\n';
    }
  }
  if (m.findings.empty()) {
    field("plausibility") << "no findings\n";
  } else {
    for (const auto& f : m.findings)
      field("! finding") << f.message << " [" << f.evidence << "] [meter.erratic_readings]\n";
  }
}

// ---- JSON ------------------------------------------------------------------------------------

void member(std::string& out, std::string_view key) {
  if (!out.empty() && out.back() != '{' && out.back() != '[') out += ',';
  json::append_string(out, key);
  out += ':';
}
void member(std::string& out, std::string_view key, std::string_view v) {
  member(out, key);
  json::append_string(out, v);
}
void member_int(std::string& out, std::string_view key, std::int64_t v) {
  member(out, key);
  json::append_integer(out, v);
}
void member_num(std::string& out, std::string_view key, double v) {
  member(out, key);
  json::append_number(out, v);
}
void member_bool(std::string& out, std::string_view key, bool v) {
  member(out, key);
  out += v ? "true" : "false";
}
void item_string(std::string& out, std::string_view v) {
  if (out.back() != '[') out += ',';
  json::append_string(out, v);
}
void open_item(std::string& out, char bracket) {
  if (!out.empty() && out.back() != '{' && out.back() != '[' && out.back() != ':') out += ',';
  out += bracket;
}

void append_json(std::string& out, const MeterRead& m, const ProbeScan& scan) {
  open_item(out, '{');
  member(out, "name", m.config->name);
  member(out, "address", m.spec->host + ":" + std::to_string(m.spec->port));
  member(out, "result", m.read ? "read" : m.reachable ? "not_read" : "unreachable");
  if (!m.problem.empty()) {
    member(out, "error");
    out += '{';
    member(out, "cause", m.problem);
    member(out, "failure_mode", m.failure_id);
    if (const health::FailureMode* f = health::find_failure_mode(m.failure_id)) member(out, "fix", f->resolution);
    out += '}';
  }
  if (m.record.identity) {
    const cip::Identity& id = *m.record.identity;
    member(out, "identity");
    out += '{';
    member_int(out, "vendor", id.vendor);
    member_int(out, "device_type", id.device_type);
    member_int(out, "product_code", id.product_code);
    member(out, "revision", std::to_string(id.revision_major) + "." + std::to_string(id.revision_minor));
    member_int(out, "serial", id.serial);
    member(out, "product_name", id.product_name);
    out += '}';
  }
  if (m.reachable) {
    const auto& st = m.status;
    member(out, "connection");
    out += '{';
    member(out, "configured", transport_text(*m.spec));
    member(out, "in_use", cip::to_string(st.path_in_use));
    member(out, "transport", st.path_in_use == cip::Mode::explicit_poll ? "explicit"
                             : m.spec->multicast                         ? "multicast"
                                                                         : "point-to-point");
    member_bool(out, "fallback_active", st.fallback_active);
    member(out, "reason", st.path_reason);
    member_num(out, "rpi_ms", m.spec->rpi_us / 1000.0);
    member_num(out, "heartbeat_ms", m.spec->heartbeat_rpi_us / 1000.0);
    member(out, "connections");
    out += '[';
    for (const auto& c : st.connections) {
      open_item(out, '{');
      member_int(out, "assembly", c.assembly);
      member_int(out, "t_o_connection_id", c.t_o_id);
      member_int(out, "o_t_connection_id", c.o_t_id);
      member_num(out, "t_o_rpi_ms", c.t_o_api_us / 1000.0);
      member_num(out, "o_t_rpi_ms", c.o_t_api_us / 1000.0);
      member_bool(out, "multicast", c.t_o_group != 0);
      member(out, "t_o_address", c.t_o_group != 0 ? ip_text(c.t_o_group) : scan.local_address);
      member_int(out, "t_o_port", c.t_o_group != 0 ? t_o_port(c, scan) : scan.udp_port);
      member(out, "o_t_address", ip_text(c.o_t_address));
      member_int(out, "o_t_port", c.o_t_port);
      out += '}';
    }
    out += "]}";
  }
  member(out, "notes");
  out += '[';
  for (const auto& n : m.notes) item_string(out, n);
  out += ']';
  if (!m.assemblies.empty()) {
    const auto& s = *m.settings;
    const bool gateway = s.applied_by == device::AppliedBy::gateway;
    member(out, "ratios");
    out += '{';
    member(out, "ct", s.ct.str());
    member_num(out, "ct_factor", s.ct.value());
    member(out, "pt", s.pt.identity() ? "1:1" : s.pt.str());
    member_num(out, "pt_factor", s.pt.value());
    member(out, "applied_by", gateway ? "gateway" : "meter");
    out += '}';
    member(out, "assemblies");
    out += '[';
    for (const auto& a : m.assemblies) {
      open_item(out, '{');
      member_int(out, "assembly", a.instance);
      member(out, "title", a.layout ? a.layout->title : "");
      member_bool(out, "received", a.sample.has_value());
      if (a.sample) {
        member_int(out, "received_ns", a.sample->source_time_ns);
        member_int(out, "sequence", a.sample->sequence);
        member_bool(out, "explicit", (a.sample->flags & kSampleExplicit) != 0);
        member(out, "values");
        out += '[';
        for (std::size_t k = 0; a.layout && k < a.layout->elements.size() && k < a.values.size(); ++k) {
          const device::Element& e = a.layout->elements[k];
          const auto use = device::ratio_use(e.kind);
          open_item(out, '{');
          member(out, "name", e.name);
          member_num(out, "value", a.values[k]);
          member(out, "unit", e.unit);
          member(out, "ratio", ratio_name(use));
          member_num(out, "factor", gateway ? device::ratio_factor(e.kind, s.ct, s.pt) : 1.0);
          out += '}';
        }
        out += ']';
      }
      out += '}';
    }
    out += ']';
    member(out, "findings");
    out += '[';
    for (const auto& f : m.findings) {
      open_item(out, '{');
      member(out, "kind", device::to_string(f.kind));
      member(out, "message", f.message);
      member(out, "evidence", f.evidence);
      out += '}';
    }
    out += ']';
  }
  out += '}';
}

}  // namespace

int run_commission(config::GatewayConfig cfg, const CommissionOptions& c) {
  if (!c.devices.empty()) {
    std::string names;
    for (const auto& d : cfg.devices) names += (names.empty() ? "" : ", ") + d.name;
    for (const auto& want : c.devices)
      if (std::none_of(cfg.devices.begin(), cfg.devices.end(), [&](const auto& d) { return d.name == want; })) {
        std::cerr << "pm500-gateway commission: --device " << want << ": no [[devices]] entry of that name in "
                  << cfg.source_file << " (configured: " << (names.empty() ? "none" : names) << ")\n";
        return kExitUsage;
      }
    std::erase_if(cfg.devices, [&](const auto& d) {
      return std::find(c.devices.begin(), c.devices.end(), d.name) == c.devices.end();
    });
  }
  if (cfg.devices.empty()) {
    std::cerr << "pm500-gateway commission: " << cfg.source_file
              << " has no [[devices]]; add one per meter (`pm500-gateway config --example` shows the keys)\n";
    return kExitConfig;
  }

  // The gateway's own data path (profiles, scaling, plausibility) into a ring nobody reads: no
  // sink, spool or journal exists in this command.
  RecordingConditions conditions;
  Ring ring(1024);
  auto devices = Devices::create(cfg, ring, conditions);
  if (!devices) {
    std::cerr << "pm500-gateway commission: " << devices.error() << '\n';
    return kExitConfig;
  }
  ProbeWait wait{.deadline = device_deadline(cfg), .hold = std::chrono::seconds(c.seconds), .purpose = "commission"};
  std::vector<CheckLine> notes;
  auto run = run_probe(cfg, **devices, notes, wait);
  if (!run) {
    for (const auto& n : notes)
      std::cerr << "pm500-gateway commission: " << n.subject << ": " << n.what << ": " << n.detail << '\n';
    // The scanner did not start (its UDP port, a socket): a runtime failure; else a device's
    // address or the [scanner] options are wrong.
    const bool runtime = std::any_of(notes.begin(), notes.end(), [](const auto& n) {
      return n.result == Result::fail && n.subject == "scanner" && n.what == "start";
    });
    return runtime ? kExitRuntime : kExitConfig;
  }

  std::vector<MeterRead> meters;
  for (std::uint32_t i = 0; i < cfg.devices.size(); ++i)
    meters.push_back(gather(*run, **devices, conditions, cfg.devices[i], i));
  const auto read = static_cast<std::size_t>(std::count_if(meters.begin(), meters.end(), [](const auto& m) { return m.read; }));
  const std::size_t not_read = meters.size() - read;

  if (c.json) {
    std::string out = "{";
    member(out, "config", cfg.source_file);
    member_bool(out, "read_only", true);
    member(out, "mode", c.seconds > 0 ? "seconds" : "once");
    if (c.seconds > 0)
      member_int(out, "seconds", c.seconds);
    else
      member_int(out, "timeout_ms", run->scan.deadline.count());
    member(out, "notes");
    out += '[';
    for (const auto& n : notes) item_string(out, n.subject + ": " + n.what + ": " + n.detail);
    out += ']';
    member(out, "meters");
    out += '[';
    for (const auto& m : meters) append_json(out, m, run->scan);
    out += ']';
    member(out, "summary");
    out += '{';
    member_int(out, "meters", static_cast<std::int64_t>(meters.size()));
    member_int(out, "read", static_cast<std::int64_t>(read));
    member_int(out, "not_read", static_cast<std::int64_t>(not_read));
    out += "}}";
    std::cout << out << '\n';
  } else {
    std::cout << "commissioning " << meters.size() << (meters.size() == 1 ? " meter" : " meters") << " of "
              << cfg.source_file << ": "
              << (c.seconds > 0 ? "reading for " + std::to_string(c.seconds) + " s"
                                : "reading until one sample of every configured assembly arrived (at most " +
                                      std::to_string(run->scan.deadline.count()) + " ms)")
              << "; read-only: no sink is started, nothing is stored or sent\n";
    for (const auto& n : notes)
      std::cout << (n.result == Result::ok ? "note" : "! note") << ": " << n.subject << ": " << n.what << ": "
                << n.detail << '\n';
    for (const auto& m : meters) {
      std::cout << '\n';
      print_text(std::cout, m, run->scan);
    }
    std::cout << '\n'
              << meters.size() << (meters.size() == 1 ? " meter: " : " meters: ") << read << " read, " << not_read
              << " not read. Read-only: nothing was stored or sent.\n";
  }
  return not_read == 0 ? kExitOk : kExitCheckFailed;
}

}  // namespace pm500::app
