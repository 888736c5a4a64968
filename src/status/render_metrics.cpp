// /metrics in the Prometheus text exposition format 0.0.4. Each family is written whole (HELP,
// TYPE, then its samples) so one name never appears in two places, and a series that would
// repeat (two values with one name) is written once: Prometheus rejects a scrape with either.
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "status/detail/text.hpp"
#include "status/render.hpp"

namespace pm500::status {
namespace {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// Label values may hold any text: backslash, double quote and line feed are escaped.
void escape_label(std::string_view in, std::string& out) {
  for (char c : in) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

std::string number(double v) {
  std::string s = detail::format_double(v);
  if (!s.empty()) return s;
  return v != v ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

class Family {
 public:
  Family(std::string& out, std::string_view name, std::string_view type, std::string_view help)
      : out_(out), name_(name) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {  // HELP text escapes only backslash and line feed
      if (c == '\\') out_ += "\\\\";
      else if (c == '\n') out_ += "\\n";
      else out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(const Labels& labels, double value) { sample(labels, number(value)); }
  void sample(const Labels& labels, std::uint64_t value) { sample(labels, std::to_string(value)); }
  void sample(const Labels& labels, bool value) { sample(labels, std::string(value ? "1" : "0")); }

 private:
  void sample(const Labels& labels, const std::string& value) {
    std::string series;
    if (!labels.empty()) {
      series += '{';
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) series += ',';
        first = false;
        series += k;
        series += "=\"";
        escape_label(v, series);
        series += '"';
      }
      series += '}';
    }
    if (!seen_.insert(series).second) return;
    out_ += name_;
    out_ += series;
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  std::string& out_;
  std::string_view name_;
  std::set<std::string> seen_;
};

// Enumerations are exported the usual Prometheus way: one 0/1 series per known state, so
// `pm500_device_state{state="running"} == 0` works even before a device ever failed. A state
// not in the list still gets its own series.
constexpr std::string_view kDeviceStates[] = {"connecting", "identifying", "opening", "running",
                                              "backoff",    "wrong_device", "stopped"};
constexpr std::string_view kSinkStates[] = {"delivering", "retrying", "spooling", "replaying", "stopped"};

template <std::size_t N>
void enum_series(Family& f, std::string_view label, std::string_view who, const std::string_view (&known)[N],
                 std::string_view current) {
  bool listed = false;
  for (auto s : known) {
    f.sample({{label, who}, {"state", s}}, s == current);
    listed = listed || s == current;
  }
  if (!listed && !current.empty()) f.sample({{label, who}, {"state", current}}, true);
}

double seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

void gateway_families(std::string& o, const GatewayView& v) {
  Family(o, "pm500_build_info", "gauge", "Always 1; labels carry the gateway version and site.")
      .sample({{"version", v.version}, {"site", v.site}}, true);
  Family(o, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.")
      .sample({}, seconds(v.started_ms));
  Family(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.").sample({}, v.rss_bytes);
  Family(o, "pm500_memory_limit_bytes", "gauge", "Memory limit of the container (cgroup) in bytes; 0 = none.")
      .sample({}, v.memory_limit_bytes);
  Family(o, "pm500_restarts", "gauge", "Restarts recorded in the state directory's restart history.")
      .sample({}, v.restarts);
  Family(o, "pm500_scanner_running", "gauge", "1 while the EtherNet/IP scanner thread runs.")
      .sample({}, v.scanner_running);
  {
    Family f(o, "pm500_scanner_datagrams_rejected_total", "counter",
             "Datagrams on the Class 1 UDP port the scanner threw away, by reason: unknown_connection (no open "
             "connection has that id), wrong_source (an open connection's id from another address), truncated, "
             "malformed (not a Class 1 packet), oversized (larger than any assembly).");
    const auto& r = v.datagrams_rejected;
    f.sample({{"reason", "unknown_connection"}}, r.unknown_connection);
    f.sample({{"reason", "wrong_source"}}, r.wrong_source);
    f.sample({{"reason", "truncated"}}, r.truncated);
    f.sample({{"reason", "malformed"}}, r.malformed);
    f.sample({{"reason", "oversized"}}, r.oversized);
  }
  const auto& rx = v.receive;
  Family(o, "pm500_scanner_kernel_drops_total", "counter",
         "Class 1 datagrams the kernel dropped on the scanner's receive socket because its buffer was full "
         "(SO_RXQ_OVFL; equals the socket's drops in /proc/net/udp).")
      .sample({}, rx.kernel_drops);
  Family(o, "pm500_scanner_receive_calls_total", "counter", "recvmmsg calls on the Class 1 socket.")
      .sample({}, rx.receive_calls);
  Family(o, "pm500_scanner_datagrams_received_total", "counter",
         "Datagrams those calls returned (rejected ones included); divided by the calls: the batch size.")
      .sample({}, rx.datagrams);
  Family(o, "pm500_scanner_receive_delay_seconds_total", "counter",
         "Kernel receive time to the scanner's read, summed over datagrams (divide by "
         "pm500_scanner_datagrams_received_total for the mean).")
      .sample({}, rx.delay_seconds_sum);
  Family(o, "pm500_scanner_receive_delay_max_seconds", "gauge",
         "The longest kernel receive to read time in the last completed second.")
      .sample({}, rx.delay_max_seconds);
  Family(o, "pm500_scanner_cpu_seconds_total", "counter", "CPU time of the scanner thread (user and system).")
      .sample({}, rx.cpu_seconds);
  Family(o, "pm500_scanner_receive_buffer_bytes", "gauge",
         "SO_RCVBUF of the Class 1 socket as granted; below pm500_scanner_receive_buffer_wanted_bytes when "
         "net.core.rmem_max caps it.")
      .sample({}, rx.buffer_bytes);
  Family(o, "pm500_scanner_receive_buffer_wanted_bytes", "gauge",
         "SO_RCVBUF the scanner asked for: the devices' datagram rate times [scanner] receive_buffer_ms.")
      .sample({}, rx.buffer_wanted_bytes);
  const auto& su = v.setups;
  Family(o, "pm500_scanner_setups_in_flight", "gauge",
         "Connection set-ups (TCP connect to the Forward Opens) running now; at most "
         "pm500_scanner_setups_limit.")
      .sample({}, su.in_flight);
  Family(o, "pm500_scanner_setups_waiting", "gauge", "Devices waiting for a set-up slot.").sample({}, su.waiting);
  Family(o, "pm500_scanner_setups_limit", "gauge", "[scanner] max_setups: set-ups at once; 0 = no limit.")
      .sample({}, su.limit);
  Family(o, "pm500_scanner_setups_peak", "gauge", "The most set-ups ever in flight at once.").sample({}, su.peak);
  Family(o, "pm500_scanner_setups_started_total", "counter", "Set-ups begun since start.").sample({}, su.started);
  Family(o, "pm500_ring_capacity_samples", "gauge", "Samples the ring between scanner and sinks holds.")
      .sample({}, v.ring_capacity);
  Family(o, "pm500_ring_written_samples_total", "counter", "Samples written into the ring since start.")
      .sample({}, v.ring_head);
  if (!v.alerts.enabled) return;
  Family(o, "pm500_alerts_sent_total", "counter", "Alerts the webhook accepted.").sample({}, v.alerts.sent);
  Family(o, "pm500_alerts_failed_attempts_total", "counter", "Webhook POSTs that failed and were retried.")
      .sample({}, v.alerts.failed_attempts);
  Family(o, "pm500_alerts_lost_total", "counter",
         "Alerts never delivered: refused by the webhook (400/404/...) or dropped from a full queue.")
      .sample({}, v.alerts.rejected + v.alerts.dropped);
  Family(o, "pm500_alerts_queued", "gauge", "Alerts waiting for the webhook.").sample({}, v.alerts.queued);
}

template <class Get>
void device_counter(std::string& o, const GatewayView& v, std::string_view name, std::string_view help, Get get) {
  Family f(o, name, "counter", help);
  for (const auto& d : v.devices) f.sample({{"device", d.name}}, get(d));
}

void device_families(std::string& o, const GatewayView& v) {
  {
    Family f(o, "pm500_device_up", "gauge", "1 while the device delivers data (state running).");
    for (const auto& d : v.devices) f.sample({{"device", d.name}, {"asset", d.asset}}, d.state == "running");
  }
  {
    Family f(o, "pm500_device_state", "gauge", "1 for the device's current connection state, 0 for the others.");
    for (const auto& d : v.devices) enum_series(f, "device", d.name, kDeviceStates, d.state);
  }
  {
    Family f(o, "pm500_device_connection_info", "gauge",
             "Always 1; label connection is the path in use (listen-only, input-only, explicit).");
    for (const auto& d : v.devices)
      if (!d.connection.empty()) f.sample({{"device", d.name}, {"connection", d.connection}}, true);
  }
  {
    Family f(o, "pm500_device_rpi_seconds", "gauge", "Requested packet interval of the device's connection.");
    for (const auto& d : v.devices) f.sample({{"device", d.name}}, d.rpi_ms / 1000.0);
  }
  {
    Family f(o, "pm500_device_last_packet_age_seconds", "gauge",
             "Time since the last packet from the device; absent until the first packet.");
    for (const auto& d : v.devices)
      if (d.last_packet_age_ms >= 0) f.sample({{"device", d.name}}, seconds(d.last_packet_age_ms));
  }
  device_counter(o, v, "pm500_device_packets_total", "Packets received from the device.",
                 [](const DeviceView& d) { return d.packets; });
  device_counter(o, v, "pm500_device_samples_total", "Samples decoded and written into the ring.",
                 [](const DeviceView& d) { return d.samples; });
  device_counter(o, v, "pm500_device_timeouts_total", "Connection timeouts (no packet within the timeout).",
                 [](const DeviceView& d) { return d.timeouts; });
  device_counter(o, v, "pm500_device_reconnects_total", "Reconnection attempts.",
                 [](const DeviceView& d) { return d.reconnects; });
  device_counter(o, v, "pm500_device_decode_errors_total", "Packets that could not be decoded.",
                 [](const DeviceView& d) { return d.decode_errors; });
  device_counter(o, v, "pm500_device_stale_packets_total",
                 "Class 1 datagrams dropped because their sequence count was not newer (duplicated or reordered "
                 "on the network).",
                 [](const DeviceView& d) { return d.stale_packets; });
  device_counter(o, v, "pm500_device_forward_opens_total", "Forward Open requests the device accepted.",
                 [](const DeviceView& d) { return d.forward_opens; });
  device_counter(o, v, "pm500_device_forward_open_failures_total",
                 "Forward Open requests the device refused or did not answer (the cause is on the page and in "
                 "/api/status).",
                 [](const DeviceView& d) { return d.forward_open_failures; });
  {
    Family f(o, "pm500_device_findings", "gauge", "Active plausibility findings (erratic readings, CT/PT).");
    for (const auto& d : v.devices) f.sample({{"device", d.name}}, static_cast<std::uint64_t>(d.findings.size()));
  }
  {
    Family f(o, "pm500_device_value", "gauge", "Latest scaled reading; label name is the quantity, unit its unit.");
    for (const auto& d : v.devices)
      for (const auto& x : d.values)
        f.sample({{"device", d.name}, {"asset", d.asset}, {"name", x.name}, {"unit", x.unit}}, x.value);
  }
}

template <class Get>
void sink_family(std::string& o, const GatewayView& v, std::string_view name, std::string_view type,
                 std::string_view help, Get get) {
  Family f(o, name, type, help);
  for (const auto& s : v.sinks) f.sample({{"sink", s.name}}, get(s));
}

void sink_families(std::string& o, const GatewayView& v) {
  {
    Family f(o, "pm500_sink_state", "gauge", "1 for the sink's current delivery state, 0 for the others.");
    for (const auto& s : v.sinks) enum_series(f, "sink", s.name, kSinkStates, s.state);
  }
  using S = const SinkView&;
  sink_family(o, v, "pm500_sink_delivered_total", "counter", "Samples the destination acknowledged.",
              [](S s) { return s.delivered; });
  sink_family(o, v, "pm500_sink_spooled_total", "counter", "Samples written to the disk spool.",
              [](S s) { return s.spooled; });
  sink_family(o, v, "pm500_sink_replayed_total", "counter", "Samples replayed from the spool.",
              [](S s) { return s.replayed; });
  {
    Family f(o, "pm500_sink_dropped_total", "counter",
             "Samples lost, by reason: overrun (the ring overtook the sink), spool_full (spool_max_mb), disk_full "
             "(the disk under state_dir), corrupt (spool records that failed their CRC).");
    for (const auto& s : v.sinks) {
      f.sample({{"sink", s.name}, {"reason", "overrun"}}, s.dropped_overrun);
      f.sample({{"sink", s.name}, {"reason", "spool_full"}}, s.dropped_spool_full);
      f.sample({{"sink", s.name}, {"reason", "disk_full"}}, s.dropped_disk);
      f.sample({{"sink", s.name}, {"reason", "corrupt"}}, s.dropped_corrupt);
    }
  }
  sink_family(o, v, "pm500_sink_replay_rate", "gauge", "Samples per second replayed from the spool right now.",
              [](S s) { return s.replay_per_s; });
  sink_family(o, v, "pm500_sink_catch_up_seconds", "gauge",
              "Estimated seconds until the spool backlog is gone at the current pace (-1: not draining).",
              [](S s) { return s.catch_up_s; });
  sink_family(o, v, "pm500_sink_unattributable_total", "counter",
              "Spooled samples whose device or fields were no longer configured at replay (dead-lettered).",
              [](S s) { return s.unattributable; });
  sink_family(o, v, "pm500_sink_rejected_total", "counter", "Samples the destination refused (dead-lettered).",
              [](S s) { return s.rejected; });
  sink_family(o, v, "pm500_sink_retries_total", "counter", "Delivery attempts that failed and were retried.",
              [](S s) { return s.retries; });
  sink_family(o, v, "pm500_sink_spool_backlog_samples", "gauge", "Samples in the spool waiting for replay.",
              [](S s) { return s.spool_backlog; });
  sink_family(o, v, "pm500_sink_spool_bytes", "gauge", "Disk used by the sink's spool.",
              [](S s) { return s.spool_bytes; });
  sink_family(o, v, "pm500_sink_ring_lag_samples", "gauge", "Samples in the ring the sink has not read yet.",
              [](S s) { return s.ring_lag; });
}

void failure_families(std::string& o, const GatewayView& v) {
  // Every known mode, plus any active one the counts do not list, so an active failure is
  // never missing from the metrics.
  struct Row {
    std::string_view id, level;
    bool active;
    std::uint64_t raised;
  };
  std::vector<Row> rows;
  for (const auto& c : v.failure_counts) rows.push_back({c.id, c.level, c.active, c.raised_total});
  for (const auto& f : v.failures) {
    bool found = false;
    for (auto& r : rows)
      if (r.id == f.id) {
        r.active = true;
        found = true;
      }
    if (!found) rows.push_back({f.id, f.level, true, f.occurrences});
  }
  {
    Family f(o, "pm500_failure_active", "gauge",
             "1 while the failure mode is raised for any subject; every known mode is listed.");
    for (const auto& r : rows) f.sample({{"id", r.id}, {"level", r.level}}, r.active);
  }
  {
    Family f(o, "pm500_failure_raised_total", "counter", "Times the failure mode was raised since start.");
    for (const auto& r : rows) f.sample({{"id", r.id}, {"level", r.level}}, r.raised);
  }
}

}  // namespace

std::string render_metrics(const GatewayView& v) {
  std::string o;
  o.reserve(4096 + v.devices.size() * 4096);
  gateway_families(o, v);
  device_families(o, v);
  sink_families(o, v);
  if (!v.disk.path.empty()) {
    Family(o, "pm500_disk_free_bytes", "gauge", "Free space on the filesystem under state_dir.")
        .sample({}, v.disk.free_bytes);
    Family(o, "pm500_disk_reserve_bytes", "gauge", "Space kept free there ([pipeline] disk_reserve_mb).")
        .sample({}, v.disk.reserve_bytes);
  }
  failure_families(o, v);
  return o;
}

}  // namespace pm500::status
