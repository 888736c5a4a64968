// The options tables of the core sections. Each key is declared once, here; its help text is
// what docs/configuration.md and `pm500-gateway config --reference` print.
#include <bit>

#include "config/config.hpp"
#include "device/ratio.hpp"

namespace pm500::config {
namespace {

// A CT or PT ratio kept as the installer wrote it, validated by the device module's parser so
// the error carries file:line:column.
template <class S>
Option<S> ratio_option(std::string key, std::string S::*m,
                       pm500::expected<device::Ratio, std::string> (*parse)(std::string_view), std::string help) {
  return custom_string<S>(
      key, "string \"primary:secondary\" or ratio", std::move(help),
      [m, parse](S& s, const std::string& v) -> std::string {
        auto r = parse(v);
        if (!r) return r.error();
        s.*m = v;
        return {};
      },
      [m](const S& s) { return quote(s.*m); });
}

}  // namespace

const Options<GatewaySection>& gateway_options() {
  using S = GatewaySection;
  static const Options<S> o{
      name_string("site", &S::site, false, "plant-7", "Site name, written as tag \"site\" on every sample and in topics."),
      string("state_dir", &S::state_dir,
             "Folder for spools, acknowledged offsets and restart history. Must be writable and survive restarts "
             "(a volume in a container)."),
      integer("clear_hold_ms", &S::clear_hold_ms, 0, 3600000,
              "A failure mode clears only after its cause has stayed away this long, so a condition that comes "
              "and goes is reported once, not as a flood of raise/clear pairs in the log and at the webhook."),
  };
  return o;
}

const Options<LoggingSection>& logging_options() {
  using S = LoggingSection;
  static const Options<S> o{
      choice("level", &S::level, {"trace", "debug", "info", "warn", "error", "critical", "off"},
             "Least severe level written to the log."),
      choice("format", &S::format, {"auto", "text", "json"},
             "\"text\" for people, \"json\" (one object per line) for log collectors; \"auto\" picks text on a "
             "terminal and JSON otherwise."),
  };
  return o;
}

const Options<ScannerSection>& scanner_options() {
  using S = ScannerSection;
  static const Options<S> o{
      string("local_address", &S::local_address,
             "Local IPv4 address on which Class 1 I/O (UDP) is received; 0.0.0.0 for all interfaces."),
      integer("udp_port", &S::udp_port, 1, 65535,
              "Local UDP port for T->O I/O data. When not 2222 the Forward Open asks the meter, with a Sockaddr "
              "Info item, to send there."),
      integer("connect_timeout_ms", &S::connect_timeout_ms, 100, 60000,
              "How long a TCP connect or an explicit request may take before the device counts as not answering."),
      integer("max_setups", &S::max_setups, 0, 100000,
              "Most devices being set up at once (TCP connect, RegisterSession, identity, sizes, Forward Opens); "
              "the others wait their turn, shown as connecting. With thousands of meters, set-ups all at once "
              "make replies queue past connect_timeout_ms and send devices into backoff. 0 = no limit."),
      integer("reconnect_initial_ms", &S::reconnect_initial_ms, 10, 600000,
              "First wait before reconnecting; it doubles per failure (with full jitter) up to reconnect_max_ms."),
      integer("reconnect_max_ms", &S::reconnect_max_ms, 100, 3600000, "Longest wait between reconnect attempts; also how often a device polled explicitly because listen-only "
              "was refused (fallback) tries listen-only again."),
      integer("originator_vendor", &S::originator_vendor, 0, 65535,
              "Vendor id the gateway puts in its Forward Open requests."),
      integer("originator_serial", &S::originator_serial, 0, 4294967295,
              "Originator serial number in Forward Open requests; unique per gateway on a network."),
      integer("session_check_ms", &S::session_check_ms, 0, 600000,
              "While I/O data flows the EtherNet/IP session carries nothing, so every this many ms the gateway "
              "reads one Identity attribute over it (one small explicit request; it also keeps meters from "
              "closing an idle session). Unanswered within connect_timeout_ms: eip.session_fault is raised, data "
              "keeps flowing, and a new session is registered until it answers. 0 = no check."),
      integer("receive_buffer_ms", &S::receive_buffer_ms, 50, 10000,
              "The Class 1 receive buffer (SO_RCVBUF) is sized to hold this long of the datagrams every device "
              "produces together, so a scanner stalled that long loses nothing. Linux caps it at "
              "net.core.rmem_max: the gateway says at start when it does, with the sysctl to raise."),
      integer("receive_hold_us", &S::receive_hold_us, 0, 2000,
              "Batched receive: above 2,000 datagrams/s the scanner waits up to this long after a read so the next "
              "one returns a batch (fewer system calls per datagram); it adds at most this much to a sample's "
              "time to the sinks. 0 = read each datagram as soon as it arrives."),
      integer("probe_interval_ms", &S::probe_interval_ms, 0, 60000,
              "While a device waits to reconnect (backoff after a failure), a TCP connect to its EtherNet/IP port "
              "probes it this often, and the gateway reconnects as soon as it accepts: a meter that reboots is "
              "back within about this long plus the connect, whatever the backoff has grown to. 0 = no probe "
              "(reconnect only when the backoff ends)."),
  };
  return o;
}

const Options<PipelineSection>& pipeline_options() {
  using S = PipelineSection;
  static Options<S> o{
      integer("ring_capacity", &S::ring_capacity, 0, 16777216,
              "Samples held in memory between the scanner and the sinks (a power of two). A sink that falls this "
              "far behind spools to disk instead. 0 (the default): sized from the devices -- 2 s of what they "
              "produce (assemblies x 1000 / rpi_ms), at least 4096, at most 4194304 -- so 10 meters cost under "
              "a megabyte and memory follows the plant."),
      integer("disk_reserve_mb", &S::disk_reserve_mb, 0, 1048576,
              "Free space (MiB) kept on the filesystem under state_dir. When spooling would cut into it, the "
              "spools drop their oldest samples (counted) instead of filling the disk, and pipeline.disk_full is "
              "raised with the free space; the sinks keep delivering. At most a tenth of the filesystem is reserved "
              "(small volumes); 0: only the sinks' spool_max_mb bounds."),
      choice("durability", &S::durability, {"memory", "journal"},
             "\"memory\": a sample lives in memory until each sink has delivered or spooled it, so kill -9 or a "
             "power loss loses what the sinks held then (up to a batch or linger per sink, and the ring's unread "
             "samples). \"journal\": every received sample is first appended to state_dir/journal (one write per "
             "batch of datagrams, fdatasync every journal_fsync_interval_ms), and sinks read only what is on disk: "
             "kill -9 loses nothing received, a power loss at most that interval. Costs a write per batch and "
             "about 184 bytes per sample written to disk (see BENCHMARKS.md)."),
      integer("journal_max_mb", &S::journal_max_mb, 1, 1048576,
              "Bound of the journal (durability = \"journal\"): it holds only what some sink has not secured yet "
              "(seconds, normally); beyond the bound the oldest records are dropped (counted)."),
      integer("journal_fsync_interval_ms", &S::journal_fsync_interval_ms, 10, 60000,
              "How often the journal is fdatasync'ed: the most a power loss can take in durable mode."),
  };
  static bool once = [] {
    // Wrap the range check with the power-of-two rule.
    auto bind = o[0].bind;
    o[0].type = "0 (automatic) or integer 1024..16777216, a power of two";
    o[0].bind = [bind](S& t, const toml::node& n, Context& cx, const std::string& kp) {
      if (!bind(t, n, cx, kp)) return false;
      if (t.ring_capacity != 0 && t.ring_capacity < 1024) {
        cx.error(n.source(), kp, "ring_capacity = " + std::to_string(t.ring_capacity) +
                                     " is too small: 0 (sized from the devices) or at least 1024");
        return false;
      }
      if (t.ring_capacity != 0 && !std::has_single_bit(static_cast<std::uint64_t>(t.ring_capacity))) {
        cx.error(n.source(), kp, "ring_capacity = " + std::to_string(t.ring_capacity) + " is not a power of two (try " +
                                     std::to_string(std::bit_ceil(static_cast<std::uint64_t>(t.ring_capacity))) + ")");
        return false;
      }
      return true;
    };
    return true;
  }();
  (void)once;
  return o;
}

const Options<SimulatorSection>& simulator_options() {
  using S = SimulatorSection;
  static const Options<S> o{
      boolean("enabled", &S::enabled,
              "Start simulated PowerMonitor 500 meters inside the gateway (demo and trials; not for production)."),
      string("address", &S::address,
             "Loopback address of the first simulated meter; further meters take the following addresses."),
      integer("meters", &S::meters, 1, 4096, "How many meters to simulate."),
      integer("tcp_port", &S::tcp_port, 1, 65535, "EtherNet/IP TCP port of each simulated meter."),
      integer("udp_port", &S::udp_port, 1, 65535, "Class 1 UDP port of each simulated meter."),
      integer("product_code", &S::product_code, 0, 65535,
              "Product code the simulated meters report, one of the profile's identity.product_codes (PowerMonitor "
              "500: 4..9 = 1420-V1-ENT .. 1420-V2A-ENT); 0 = the highest of them (9 for the PowerMonitor 500)."),
      boolean("owner", &S::owner,
              "Simulate a PLC owning the input connections, so the gateway's listen-only connections are accepted."),
      number("nominal_voltage", &S::nominal_voltage, 1, 1000000, "Line-to-line voltage at the primary."),
      number("load_percent", &S::load_percent, 0, 200, "Load current as a percentage of the CT primary."),
      ratio_option<S>("ct", &S::ct, device::parse_ct, "CT ratio the simulated meter is configured with (\"400:5\")."),
      ratio_option<S>("pt", &S::pt, device::parse_pt,
                      "PT ratio the simulated meter is configured with; empty = direct connection."),
      string("profile", &S::profile, "Device profile file; empty = the built-in PowerMonitor 500 profile."),
      integer("seed", &S::seed, 0, 2147483647, "Seed of the simulated noise, for repeatable runs."),
      integer("control_port", &S::control_port, 0, 65535,
              "Port on 127.0.0.1 for the simulator's fault-injection commands (tools/pm500-sim/README.md); 0 = off."),
  };
  return o;
}

// "host:port" for the status server; IPv6 hosts in brackets ("[::1]:8080").
static std::string parse_listen(StatusSection& s, const std::string& v) {
  std::size_t colon = v.rfind(':');
  std::string bad = "listen = \"" + v + "\" is not \"host:port\" (e.g. \"127.0.0.1:8080\", \"0.0.0.0:8080\")";
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) return bad;
  std::string host = v.substr(0, colon);
  if (host.front() == '[' ? host.back() != ']' || host.size() < 3 : host.find(':') != std::string::npos) return bad;
  std::int64_t port = 0;
  for (std::size_t i = colon + 1; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9' || port > 65535) return bad;
    port = port * 10 + (v[i] - '0');
  }
  // Port 0 picks a free port (the log names it): for tests and several gateways on one host.
  if (port < 0 || port > 65535) return "listen = \"" + v + "\": port " + std::to_string(port) + " is out of range 0..65535";
  s.listen = v;
  return {};
}

const Options<StatusSection>& status_options() {
  using S = StatusSection;
  static const Options<S> o{
      boolean("enabled", &S::enabled,
              "Serve the status page, /api/status, /metrics, /health/live and /health/ready over HTTP."),
      custom_string<S>("listen", "string \"host:port\"",
                       "Address and port of the status server. The default serves this machine only; use "
                       "\"0.0.0.0:8080\" to reach the page from the plant network (the container does); port 0 picks a free "
                       "port and logs it.",
                       parse_listen, [](const S& s) { return quote(s.listen); }),
      string("token", &S::token,
             "Bearer token required by /api/status and /metrics (\"Authorization: Bearer TOKEN\"); the page asks "
             "for it once per browser tab. Empty = no authentication. Use ${VAR} to read it from the environment.")
          .secret_value()
          .eg("\"${PM500_STATUS_TOKEN:-}\""),
      boolean("public_health", &S::public_health,
              "Answer /health/live and /health/ready without the token, so container and load-balancer probes need "
              "no secret. They show states only, never values."),
      integer("threads", &S::threads, 1, 64,
              "Worker threads building /api/status and /metrics answers; further such requests wait in a queue of "
              "64, beyond which they get 503. Health probes and the page never wait for them (docs/status-api.md)."),
      integer("ready_max_spooling_s", &S::ready_max_spooling_s, 1, 604800,
              "/health/ready answers 503 when a sink has not been delivering (retrying, spooling, stopped) for "
              "longer than this many seconds."),
      integer("ready_max_backlog", &S::ready_max_backlog, 0, 1000000000000,
              "/health/ready answers 503 when a sink's spool holds more samples than this; 0 = no limit."),
      boolean("ready_requires_scanner", &S::ready_requires_scanner,
              "/health/ready answers 503 while the EtherNet/IP scanner is not running."),
  };
  return o;
}

namespace {

std::string parse_alert_url(AlertsSection& s, const std::string& v) {
  if (!v.empty() && !v.starts_with("http://") && !v.starts_with("https://"))
    return "url must start with http:// or https:// (the webhook's full address)";
  s.url = v;
  return {};
}

// Every {{name}} must be a known placeholder, so a typo fails at start and not in a 3 a.m. alert.
std::string parse_alert_template(AlertsSection& s, const std::string& v) {
  for (std::size_t at = v.find("{{"); at != std::string::npos; at = v.find("{{", at + 2)) {
    std::size_t end = v.find("}}", at + 2);
    if (end == std::string::npos) return "template: \"{{\" at offset " + std::to_string(at) + " is never closed with \"}}\"";
    std::string_view name(v.data() + at + 2, end - at - 2);
    bool known = false;
    for (auto f : kAlertTemplateFields) known = known || f == name;
    if (!known) {
      std::string list;
      std::vector<std::string> words;
      for (auto f : kAlertTemplateFields) {
        list += (list.empty() ? "" : ", ") + std::string(f);
        words.emplace_back(f);
      }
      return "template: unknown placeholder {{" + std::string(name) + "}}" + suggestion(std::string(name), words) +
             "; placeholders: " + list;
    }
  }
  s.body_template = v;
  return {};
}

}  // namespace

const Options<AlertsSection>& alerts_options() {
  using S = AlertsSection;
  static const Options<S> o = [] {
  auto headers = string_list("headers", &S::headers,
                             "Extra request headers, each \"Name: value\" (e.g. \"Authorization: Bearer ${ALERT_TOKEN}\"). "
                             "Printed redacted.");
  auto bind_list = headers.bind;
  headers.bind = [bind_list](S& s, const toml::node& n, Context& cx, const std::string& kp) {
    if (!bind_list(s, n, cx, kp)) return false;
    for (const auto& h : s.headers) {
      auto colon = h.find(':');
      if (colon == 0 || colon == std::string::npos || h.find_first_of("\r\n") != std::string::npos) {
        cx.error(n.source(), kp, "header \"" + h.substr(0, h.find(':')) +
                                     "...\" must be one line \"Name: value\"");
        return false;
      }
    }
    return true;
  };
  return Options<S>{
      boolean("enabled", &S::enabled, "POST every raise and clear of a failure mode to the webhook at url."),
      custom_string<S>("url", "string \"http(s)://...\"",
                       "The webhook's address (generic JSON receivers, Slack/Teams incoming webhooks, Alertmanager "
                       "bridges). Treated as a secret: logs and evidence name its host only.",
                       parse_alert_url, [](const S& s) { return quote(s.url); })
          .secret_value()
          .eg("\"https://alerts.example.net/hooks/${PM500_ALERT_HOOK:-}\""),
      std::move(headers).secret_value().eg("[\"Authorization: Bearer ${PM500_ALERT_TOKEN:-}\"]"),
      custom_string<S>("template", "string",
                       "Request body with {{placeholders}}: state (raised, cleared, test), id, subject, evidence, "
                       "level (L1..L4), level_name, section, symptom, cause, resolution, site, host, time "
                       "(RFC 3339 UTC), time_ms, text (one line for chat). Values are inserted JSON-escaped, "
                       "without quotes. Empty = a JSON object with every field.",
                       parse_alert_template, [](const S& s) { return quote(s.body_template); })
          .eg("\"{\\\"text\\\": \\\"{{text}}\\\"}\""),
      custom_string<S>(
          "content_type", "string, one line", "Content-Type of the request.",
          [](S& s, const std::string& v) {
            auto why = detail::single_line_problem("alerts.content_type", v);
            if (why.empty()) s.content_type = v;
            return why;
          },
          [](const S& s) { return quote(s.content_type); }),
      boolean("send_cleared", &S::send_cleared, "Also send an alert when a condition clears."),
      integer("timeout_ms", &S::timeout_ms, 100, 120000, "Longest one POST may take, connection included."),
      integer("retry_initial_ms", &S::retry_initial_ms, 10, 600000,
              "First wait after a failed POST; doubles per failure, with full jitter."),
      integer("retry_max_ms", &S::retry_max_ms, 100, 3600000, "Longest wait between attempts."),
      integer("failures_before_alarm", &S::failures_before_alarm, 1, 1000,
              "Failed attempts in a row (timeouts, 5xx, refused) before ops.alert_delivery_failure is raised; "
              "401 and 403 raise it at once."),
      integer("max_queue", &S::max_queue, 1, 1000000,
              "Alerts kept while the webhook is away; beyond this the oldest are dropped, counted and reported."),
      string("ca_file", &S::ca_file, "CA certificates (PEM) for an https url; empty = the system's store."),
      boolean("insecure_skip_verify", &S::insecure_skip_verify,
              "Do not verify the server's certificate (testing only)."),
  };
  }();
  return o;
}

const Options<DeviceSection>& device_options() {
  using S = DeviceSection;
  static const Options<S> o{
      name_string("name", &S::name, false, "mcc-1", "Stable name of the meter, used in logs, tags (\"device\") and topics.")
          .must()
          .eg("\"mcc-1\""),
      string("address", &S::address, "IP address or host name of the meter, optionally with \":port\" (44818).")
          .must()
          .eg("\"192.168.10.21\""),
      name_string("asset", &S::asset, true, "main-incomer",
                  "Tag \"asset\" (what the meter measures, e.g. \"mcc-1\"); defaults to name."),
      choice("connection", &S::connection, {"listen-only", "input-only", "explicit"},
             "How data is read. \"listen-only\" never competes with the plant PLC; it needs an owner connection "
             "(a PLC's input-only, multicast) to exist. \"input-only\" opens its own input connection; "
             "\"explicit\" polls with Get_Attribute_Single."),
      choice("fallback", &S::fallback, {"input-only", "explicit", "none"},
             "What to use when listen-only is refused because no owner exists (0x01/0x0119)."),
      choice("transport", &S::transport, {"multicast", "point-to-point"},
             "T->O connection type asked for in the Forward Open. Rockwell devices need multicast for "
             "listen-only. Avoid point-to-point with connection = \"listen-only\": an adapter may serve the "
             "owner's and the listener's connections from one UDP socket, and closing the gateway's (a restart) "
             "then stops the PLC owner's data too (seen on one adapter stack); multicast does not do this."),
      integer("rpi_ms", &S::rpi_ms, 10, 60000, "Requested packet interval of the I/O connection."),
      integer("timeout_multiplier", &S::timeout_multiplier, 0, 7,
              "Connection timeout = RPI x 4 x 2^multiplier."),
      integer("heartbeat_interval_ms", &S::heartbeat_interval_ms, 10, 3200,
              "O->T RPI of a listen-only or input-only connection: how often the gateway tells the meter it is "
              "still there (the meter sends nothing back for it). The meter closes the connection after "
              "heartbeat_interval_ms x 4 x 2^timeout_multiplier without one, so a lost heartbeat or two does no "
              "harm; 1000 sends one per ten datagrams at rpi_ms = 100. Apart from rpi_ms; heartbeats follow the "
              "interval the meter's Forward Open reply grants. A meter that refuses it (0x01/0x0111 RPI not "
              "supported) needs a value in its own range.",
              "adapters commonly accept an O->T RPI of at most 3.2 s, and one below 10 ms only costs traffic; "
              "write a value in 10..3200, or leave the key out for 1000"),
      integer("poll_interval_ms", &S::poll_interval_ms, 0, 3600000,
              "Interval of explicit reads; 0 means rpi_ms."),
      integer_list("assemblies", &S::assemblies, 100, 108,
                   "Assembly instances to read: 100 product info, 101 V/I, 102 power/PF/Hz, 103-104 maxima, "
                   "105-106 demand, 107 energy, 108 alarms and outputs."),
      integer("product_code", &S::product_code, 0, 65535,
              "Expected product code (PowerMonitor 500: 4..9 by catalog number); 0 accepts any of the profile's "
              "identity.product_codes."),
      boolean("electronic_key", &S::electronic_key,
              "Put an electronic key in the connection path so the meter itself rejects a wrong device."),
      string("profile", &S::profile,
             "Device profile file describing the assemblies' elements; empty = the built-in PowerMonitor 500 "
             "profile. Relative paths are relative to this configuration file."),
      integer("identity_vendor", &S::identity_vendor, 0, 65535,
              "Vendor id the device must report, overriding the profile's identity.vendor; 0 = the profile's."),
      integer("identity_device_type", &S::identity_device_type, 0, 65535,
              "Device type the device must report, overriding the profile's identity.device_type; 0 = the "
              "profile's."),
      string("identity_product_name", &S::identity_product_name,
             "Pattern (* ? [...]) the reported product name must match, overriding the profile's "
             "identity.product_name; \"*\" accepts any name; empty = the profile's."),
      integer("config_instance", &S::config_instance, 0, 65535,
              "Configuration instance in the connection path, overriding the profile's connection.config_instance; "
              "0 = the profile's (a wrong one is refused 0x01/0x0315)."),
      integer("input_only_point", &S::input_only_point, 0, 65535,
              "O->T connection point of an input-only connection, overriding the profile's "
              "connection.input_only_point; 0 = the profile's (a wrong one is refused, e.g. 0x01/0x012F)."),
      integer("listen_only_point", &S::listen_only_point, 0, 65535,
              "O->T connection point of a listen-only connection, overriding the profile's "
              "connection.listen_only_point; 0 = the profile's."),
      choice("t_o_header", &S::t_o_header, {"profile", "none", "run_idle"},
             "Real-time format of the device's data: \"profile\" = the profile's connection.t_o_header, \"none\" or "
             "\"run_idle\" (a 32-bit run/idle header before the data) overrides it."),
      choice("o_t_header", &S::o_t_header, {"profile", "none", "run_idle"},
             "The same for the gateway's heartbeats (connection.o_t_header)."),
      ratio_option<S>("ct", &S::ct, device::parse_ct,
                      "CT ratio as installed, \"400:5\" (primary:secondary, secondary 1 or 5 A) or a plain ratio "
                      "\"80\" (1..9999); empty = 1:1."),
      ratio_option<S>("pt", &S::pt, device::parse_pt,
                      "PT (VT) ratio, \"480:120\" or a plain ratio \"4\" (1..9999); empty = direct connection."),
      choice("ratios_applied_by", &S::ratios_applied_by, {"meter", "gateway"},
             "\"meter\": the meter is configured with the ratios and reports primary values (the gateway only "
             "checks them). \"gateway\": the meter reports secondary values and the gateway multiplies."),
      number("nominal_voltage", &S::nominal_voltage, 0, 1000000,
             "Nominal line-to-line voltage at the primary (for 1P wiring: L1-N), for plausibility checks; 0 = not "
             "checked."),
      choice("wiring", &S::wiring, {"3PN", "3P", "3P1", "3P2", "2P", "1P"},
             "Wiring system as set on the meter: 3PN 4-wire wye (default), 3P 3-wire delta, 3P1/3P2 balanced "
             "variants, 2P, 1P."),
  };
  return o;
}

const Options<DeliverySection>& delivery_options() {
  using S = DeliverySection;
  static const Options<S> o{
      boolean("enabled", &S::enabled, "Set to false to keep the table but not run the sink."),
      integer("batch_size", &S::batch_size, 1, 100000, "Samples per delivery."),
      integer("flush_interval_ms", &S::flush_interval_ms, 0, 600000,
              "Linger: how long a partial batch waits for more samples before it is sent. The delivery thread "
              "is woken as soon as samples arrive, and what arrives while a request is in flight goes in the "
              "next one, so batches grow with the load by themselves; raise it only for fewer, larger requests "
              "(the file sink defaults to 200: each of its batches is an fdatasync). 0 = send at once."),
      integer("retry_initial_ms", &S::retry_initial_ms, 10, 600000,
              "First wait after a failed delivery; doubles per failure, with full jitter."),
      integer("retry_max_ms", &S::retry_max_ms, 100, 3600000, "Longest wait between delivery attempts."),
      integer("spool_max_mb", &S::spool_max_mb, 1, 1048576,
              "Disk this sink's spool may use while its destination is away; beyond it the oldest samples are "
              "dropped, counted and reported."),
      integer("spool_fsync_interval_ms", &S::spool_fsync_interval_ms, 0, 60000,
              "How often spooled samples are forced to disk; 0 = every append (slow, safest)."),
      integer("replay_rate", &S::replay_rate, 0, 10000000,
              "Cap on the samples per second replayed from the spool after an outage. 0 (the default): as fast as "
              "the destination acknowledges, so the sink always catches up when the destination is faster than "
              "the input. A cap below the rate the meters produce means the backlog never drains (said at start)."),
  };
  return o;
}

}  // namespace pm500::config
