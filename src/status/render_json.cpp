// /api/status. Field names are part of the documented API (docs/status-api.md): add fields,
// never rename or remove them without raising "schema".
#include "status/detail/text.hpp"
#include "status/render.hpp"

namespace pm500::status {
namespace {

using detail::JsonWriter;

void write_device(JsonWriter& w, const DeviceView& d) {
  w.begin_object();
  w.field("name", d.name);
  w.field("asset", d.asset);
  w.field("address", d.address);
  w.field("state", d.state);
  w.field("ok", d.state == "running");
  w.field("connection", d.connection);
  w.field("connection_reason", d.connection_reason);
  w.field("rpi_ms", d.rpi_ms);
  w.key("last_packet_age_ms");
  if (d.last_packet_age_ms < 0) w.null();
  else w.value(d.last_packet_age_ms);
  w.field("packets", d.packets);
  w.field("samples", d.samples);
  w.field("timeouts", d.timeouts);
  w.field("reconnects", d.reconnects);
  w.field("decode_errors", d.decode_errors);
  w.field("stale_packets", d.stale_packets);
  w.field("forward_opens", d.forward_opens);
  w.field("forward_open_failures", d.forward_open_failures);
  w.field("identity", d.identity);
  w.key("values");
  w.begin_array();
  for (const auto& v : d.values) {
    w.begin_object();
    w.field("name", v.name);
    w.field("unit", v.unit);
    w.field("value", v.value);
    w.field("suspect", !v.suspect_finding.empty());
    if (!v.suspect_finding.empty()) w.field("suspect_finding", v.suspect_finding);
    w.end_object();
  }
  w.end_array();
  w.key("findings");
  w.begin_array();
  for (const auto& f : d.findings) w.value(f);
  w.end_array();
  w.key("finding_kinds");
  w.begin_array();
  for (const auto& f : d.finding_kinds) w.value(f);
  w.end_array();
  w.end_object();
}

void write_sink(JsonWriter& w, const SinkView& s, std::int64_t now_ms) {
  w.begin_object();
  w.field("name", s.name);
  w.field("state", s.state);
  w.field("ok", sink_delivering(s.state));
  w.key("state_since_ms");
  if (s.state_since_ms > 0) w.value(s.state_since_ms);
  else w.null();
  w.key("state_for_s");
  if (s.state_since_ms > 0 && now_ms >= s.state_since_ms) w.value((now_ms - s.state_since_ms) / 1000);
  else w.null();
  w.field("delivered", s.delivered);
  w.field("spooled", s.spooled);
  w.field("replayed", s.replayed);
  w.field("spool_backlog", s.spool_backlog);
  w.field("spool_bytes", s.spool_bytes);
  w.field("dropped", s.dropped);
  w.key("dropped_by_reason");
  w.begin_object();
  w.field("overrun", s.dropped_overrun);
  w.field("spool_full", s.dropped_spool_full);
  w.field("disk_full", s.dropped_disk);
  w.field("corrupt", s.dropped_corrupt);
  w.end_object();
  w.field("unattributable", s.unattributable);
  w.key("replay");
  w.begin_object();
  w.field("rate_per_s", s.replay_per_s);
  w.field("drain_per_s", s.drain_per_s);
  w.key("catch_up_s");
  if (s.catch_up_s >= 0) w.value(s.catch_up_s);
  else w.null();
  w.end_object();
  w.field("rejected", s.rejected);
  w.field("retries", s.retries);
  w.field("ring_lag", s.ring_lag);
  w.field("last_error", s.last_error);
  w.end_object();
}

void write_ack(JsonWriter& w, const AckView& a) {
  w.begin_object();
  w.field("id", a.id);
  w.field("subject", a.subject);
  w.field("state", a.state);
  w.field("by", a.by);
  w.field("note", a.note);
  w.field("evidence", a.evidence);
  w.field("at_ms", a.at_ms);
  w.key("until_ms");
  if (a.until_ms > 0) w.value(a.until_ms);
  else w.null();
  w.field("waiting", a.waiting);
  w.end_object();
}

void write_failure(JsonWriter& w, const FailureView& f) {
  w.begin_object();
  w.field("id", f.id);
  w.field("subject", f.subject);
  w.field("level", f.level);
  w.field("symptom", f.symptom);
  w.field("cause", f.cause);
  w.field("resolution", f.resolution);
  w.field("evidence", f.evidence);
  w.field("since_ms", f.since_ms);
  w.field("occurrences", f.occurrences);
  w.key("acknowledgement");
  if (f.acknowledgement) write_ack(w, *f.acknowledgement);
  else w.null();
  w.end_object();
}

}  // namespace

std::string render_json(const GatewayView& v) {
  JsonWriter w;
  w.begin_object();
  w.field("schema", 1);

  w.key("gateway");
  w.begin_object();
  w.field("version", v.version);
  w.field("site", v.site);
  w.field("config_file", v.config_file);
  w.field("started_ms", v.started_ms);
  w.field("now_ms", v.now_ms);
  w.field("uptime_s", v.now_ms > v.started_ms && v.started_ms > 0 ? (v.now_ms - v.started_ms) / 1000 : 0);
  w.field("restarts", v.restarts);
  w.field("scanner_running", v.scanner_running);
  w.field("acknowledge_enabled", v.acknowledge_enabled);
  w.field("datagrams_rejected", v.datagrams_rejected.total());
  w.key("datagrams_rejected_by_reason");
  w.begin_object();
  w.field("unknown_connection", v.datagrams_rejected.unknown_connection);
  w.field("wrong_source", v.datagrams_rejected.wrong_source);
  w.field("truncated", v.datagrams_rejected.truncated);
  w.field("malformed", v.datagrams_rejected.malformed);
  w.field("oversized", v.datagrams_rejected.oversized);
  w.end_object();
  const auto& rx = v.receive;
  w.key("receive");
  w.begin_object();
  w.field("kernel_drops", rx.kernel_drops);
  w.field("receive_calls", rx.receive_calls);
  w.field("datagrams", rx.datagrams);
  w.field("datagrams_per_call",
          rx.receive_calls ? static_cast<double>(rx.datagrams) / static_cast<double>(rx.receive_calls) : 0.0);
  w.field("delay_avg_ms", rx.datagrams ? rx.delay_seconds_sum * 1000.0 / static_cast<double>(rx.datagrams) : 0.0);
  w.field("delay_max_ms", rx.delay_max_seconds * 1000.0);
  w.field("cpu_seconds", rx.cpu_seconds);
  w.field("buffer_bytes", rx.buffer_bytes);
  w.field("buffer_wanted_bytes", rx.buffer_wanted_bytes);
  w.end_object();
  w.key("setups");
  w.begin_object();
  w.field("limit", v.setups.limit);
  w.field("in_flight", v.setups.in_flight);
  w.field("waiting", v.setups.waiting);
  w.field("peak", v.setups.peak);
  w.field("started", v.setups.started);
  w.end_object();
  w.field("rss_bytes", v.rss_bytes);
  w.field("memory_limit_bytes", v.memory_limit_bytes);
  w.end_object();

  w.key("ring");
  w.begin_object();
  w.field("capacity", v.ring_capacity);
  w.field("head", v.ring_head);
  w.end_object();

  w.key("alerts");
  w.begin_object();
  w.field("enabled", v.alerts.enabled);
  w.field("target", v.alerts.target);
  w.field("sent", v.alerts.sent);
  w.field("failed_attempts", v.alerts.failed_attempts);
  w.field("rejected", v.alerts.rejected);
  w.field("dropped", v.alerts.dropped);
  w.field("queued", v.alerts.queued);
  w.field("last_error", v.alerts.last_error);
  w.end_object();

  w.key("reload");
  w.begin_object();
  w.field("at_ms", v.reload.at_ms);
  w.field("result", v.reload.result);
  w.field("summary", v.reload.summary);
  for (const auto& [key, list] : {std::pair{"errors", &v.reload.errors}, std::pair{"applied", &v.reload.applied},
                                  std::pair{"restart_needed", &v.reload.restart_needed}}) {
    w.key(key);
    w.begin_array();
    for (const auto& e : *list) w.value(e);
    w.end_array();
  }
  w.end_object();

  w.key("failures");
  w.begin_array();
  for (const auto& f : v.failures) write_failure(w, f);
  w.end_array();

  w.key("acknowledgements");
  w.begin_array();
  for (const auto& a : v.acknowledgements) write_ack(w, a);
  w.end_array();

  w.key("devices");
  w.begin_array();
  for (const auto& d : v.devices) write_device(w, d);
  w.end_array();

  w.key("sinks");
  w.begin_array();
  for (const auto& s : v.sinks) write_sink(w, s, v.now_ms);
  w.end_array();

  if (!v.disk.path.empty()) {
    w.key("disk");
    w.begin_object();
    w.field("path", v.disk.path);
    w.field("free_bytes", v.disk.free_bytes);
    w.field("total_bytes", v.disk.total_bytes);
    w.field("reserve_bytes", v.disk.reserve_bytes);
    w.field("dropped", v.disk.dropped);
    w.field("short_of_space", v.disk.short_of_space);
    w.end_object();
  }

  w.key("events");
  w.begin_array();
  for (const auto& e : v.events) {
    w.begin_object();
    w.field("time_ms", e.time_ms);
    w.field("id", e.id);
    w.field("subject", e.subject);
    w.field("evidence", e.evidence);
    w.field("raised", e.raised);
    w.end_object();
  }
  w.end_array();

  w.end_object();
  return w.take();
}

std::string render_ack_json(std::string_view message, const std::optional<AckView>& entry) {
  JsonWriter w;
  w.begin_object();
  w.field("ok", true);
  w.field("message", message);
  w.key("acknowledgement");
  if (entry) write_ack(w, *entry);
  else w.null();
  w.end_object();
  return w.take();
}

std::string render_history_json(const HistoryView& v) {
  JsonWriter w;
  w.begin_object();
  w.field("schema", 1);
  w.field("device", v.device);
  w.field("now_ms", v.now_ms);
  // The first bucket of each resolution starts here; bucket i covers [start + i x step, + step).
  const std::pair<const char*, std::int64_t> spans[] = {{"fine", v.fine_step_ms}, {"coarse", v.coarse_step_ms}};
  for (const auto& [name, step] : spans) {
    const std::size_t n = v.series.empty() ? 0
                          : std::string_view(name) == "fine" ? v.series[0].fine.size()
                                                            : v.series[0].coarse_mean.size();
    w.key(name);
    w.begin_object();
    w.field("step_ms", step);
    w.field("buckets", static_cast<std::uint64_t>(n));
    w.field("start_ms", step > 0 ? (v.now_ms / step - static_cast<std::int64_t>(n) + 1) * step : 0);
    w.end_object();
  }
  auto floats = [&](std::string_view key, const std::vector<float>& list) {
    w.key(key);
    w.begin_array();
    for (float f : list) w.value(f);
    w.end_array();
  };
  w.key("series");
  w.begin_array();
  for (const auto& s : v.series) {
    w.begin_object();
    w.field("name", s.name);
    w.field("unit", s.unit);
    floats("fine", s.fine);
    floats("coarse_min", s.coarse_min);
    floats("coarse_mean", s.coarse_mean);
    floats("coarse_max", s.coarse_max);
    w.end_object();
  }
  w.end_array();
  w.end_object();
  return w.take();
}

}  // namespace pm500::status
