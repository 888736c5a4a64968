#include "app/status_view.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>

#include "app/version.hpp"
#include "health/failure_modes.hpp"

namespace pm500::app {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string identity_text(const cip::Identity& id) {
  return id.product_name + " (product code " + std::to_string(id.product_code) + ", revision " +
         std::to_string(id.revision_major) + "." + std::to_string(id.revision_minor) + ", serial " +
         std::to_string(id.serial) + ")";
}

}  // namespace

std::optional<status::HistoryView> history_view(const Devices& devices, std::string_view device) {
  const std::int64_t now = now_ms();
  auto trend = devices.trend(device, now * 1'000'000);
  if (!trend) return std::nullopt;
  status::HistoryView h;
  h.device = std::string(device);
  h.now_ms = now;
  h.fine_step_ms = Trend::kFineStepNs / 1'000'000;
  h.coarse_step_ms = Trend::kCoarseStepNs / 1'000'000;
  for (auto& s : *trend) {
    status::HistoryView::Series out;
    out.name = std::move(s.name);
    out.unit = std::move(s.unit);
    out.fine.reserve(s.fine.size());
    for (const auto& b : s.fine) out.fine.push_back(b.mean);
    for (const auto& b : s.coarse) {
      out.coarse_min.push_back(b.min);
      out.coarse_mean.push_back(b.mean);
      out.coarse_max.push_back(b.max);
    }
    h.series.push_back(std::move(out));
  }
  return h;
}

status::AckView ack_view(const health::Acknowledgement& a) {
  return {a.id, a.subject, std::string(health::to_string(a.kind)), a.by, a.note, a.evidence, a.at_ms, a.until_ms,
          a.waiting};
}

status::Server::AckAnswer acknowledge(health::Acknowledgements& acks, const health::Registry& registry,
                                      const status::AckRequest& r) {
  auto out = acks.apply({r.action, r.id, r.subject, r.by, r.note, r.minutes, r.evidence}, registry.active());
  status::Server::AckAnswer a{out.status, std::move(out.message), std::nullopt};
  if (out.entry) a.entry = ack_view(*out.entry);
  return a;
}

std::uint64_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t cgroup_memory_limit() {
  // cgroup v2 first, then v1; "max" or an absurd v1 value means no limit.
  for (const char* p : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(p);
    std::string v;
    if (!(in >> v) || v == "max") continue;
    try {
      std::uint64_t n = std::stoull(v);
      if (n > 0 && n < (1ull << 60)) return n;
    } catch (...) {
    }
  }
  return 0;
}

status::GatewayView StatusViewBuilder::build(const ViewSources& src) {
  status::GatewayView v;
  const auto& cfg = src.cfg;
  v.version = kVersion;
  v.site = cfg.gateway.site;
  v.config_file = cfg.source_file;
  v.started_ms = src.started_ms;
  v.now_ms = now_ms();
  v.restarts = src.restarts;
  v.scanner_running = src.scanner_running;
  const auto& rj = src.datagrams_rejected;
  v.datagrams_rejected = {rj.unknown_connection, rj.wrong_source, rj.truncated, rj.malformed, rj.oversized};
  const auto& rx = src.receive;
  v.receive = {rx.kernel_drops, rx.receive_calls, rx.datagrams, static_cast<double>(rx.delay_ns_sum) / 1e9,
               static_cast<double>(rx.delay_ns_max) / 1e9, static_cast<double>(rx.cpu_ns) / 1e9, rx.buffer_granted,
               rx.buffer_wanted};
  v.setups = {static_cast<std::uint64_t>(cfg.scanner.max_setups), src.setups.in_flight, src.setups.waiting,
              src.setups.peak, src.setups.started};
  v.ring_capacity = src.ring_capacity;
  v.ring_head = src.ring_head;
  v.rss_bytes = resident_bytes();
  v.memory_limit_bytes = cgroup_memory_limit();
  if (src.alerts) {
    auto a = src.alerts->stats();
    v.alerts = {true, health::redacted_url(cfg.alerts.url), a.sent, a.failed_attempts, a.rejected, a.dropped,
                a.queued, a.last_error};
  }

  for (std::uint32_t i = 0; i < cfg.devices.size(); ++i) {
    const auto& dc = cfg.devices[i];
    const std::uint32_t index = src.device_index && i < src.device_index->size() ? (*src.device_index)[i] : i;
    status::DeviceView d;
    d.name = dc.name;
    d.asset = dc.asset;
    d.address = dc.address;
    d.rpi_ms = static_cast<std::uint32_t>(dc.rpi_ms);
    d.state = src.scanner_running ? "connecting" : "stopped";
    d.connection = dc.connection;
    for (const auto& st : src.scan) {
      if (st.device != index) continue;
      d.state = cip::to_string(st.state);
      d.connection = cip::to_string(st.path_in_use);
      d.connection_reason = st.path_reason;
      d.packets = st.packets;
      d.timeouts = st.timeouts;
      d.reconnects = st.reconnects;
      d.stale_packets = st.stale_packets;
      d.forward_opens = st.forward_opens;
      d.forward_open_failures = st.forward_open_failures;
      if (st.last_packet_ns > 0) d.last_packet_age_ms = std::max<std::int64_t>(0, v.now_ms - st.last_packet_ns / 1'000'000);
      if (st.identity) d.identity = identity_text(*st.identity);
    }
    if (src.devices && index < src.devices->size()) {
      const auto& c = src.devices->counters(index);
      d.samples = c.samples.load(std::memory_order_relaxed);
      d.decode_errors = c.decode_errors.load(std::memory_order_relaxed);
      for (auto& nv : src.devices->values(index))
        d.values.push_back({std::move(nv.name), std::move(nv.unit), nv.value, std::string(nv.finding)});
      for (const auto& f : src.devices->findings(index)) {
        d.findings.push_back(f.message);
        d.finding_kinds.emplace_back(device::to_string(f.kind));
      }
    }
    v.devices.push_back(std::move(d));
  }

  for (const auto& del : src.deliveries) {
    auto st = del->stats();
    status::SinkView s;
    s.name = st.name;
    s.state = std::string(to_string(st.state));
    auto& since = sink_state_since_[s.name];
    if (since.first != s.state) since = {s.state, v.now_ms};
    s.state_since_ms = since.second;
    s.delivered = st.delivered;
    s.spooled = st.spooled;
    s.replayed = st.replayed;
    s.spool_backlog = st.spool_backlog;
    s.spool_bytes = st.spool_bytes;
    s.dropped_overrun = st.dropped_overrun;
    s.dropped_spool_full = st.dropped_spool_full;
    s.dropped_disk = st.dropped_disk;
    s.dropped_corrupt = st.corrupt_skipped;
    s.dropped = s.dropped_overrun + s.dropped_spool_full + s.dropped_disk + s.dropped_corrupt;
    s.unattributable = st.unattributable;
    s.replay_per_s = st.replay_per_s;
    s.drain_per_s = st.drain_per_s;
    s.catch_up_s = st.spool_backlog == 0 ? 0 : st.catch_up_s;
    s.rejected = st.rejected;
    s.retries = st.retries;
    s.ring_lag = st.ring_lag;
    s.last_error = st.last_error;
    v.sinks.push_back(std::move(s));
  }
  if (src.disk) {
    const DiskSpace::Snapshot d = src.disk->snapshot();
    v.disk = {src.disk->dir().string(), d.free_bytes, d.total_bytes, d.reserve_bytes, d.dropped, d.short_of_space};
  }

  for (const auto& c : src.health.active()) {
    status::FailureView f;
    f.id = c.id;
    f.subject = c.subject;
    f.evidence = c.evidence;
    f.since_ms = c.since_ms;
    f.occurrences = c.occurrences;
    if (const auto* m = health::find_failure_mode(c.id)) {
      f.level = std::string(health::level_short(m->level));
      f.symptom = m->symptom;
      f.cause = m->cause;
      f.resolution = m->resolution;
    }
    if (src.acks)
      if (auto a = src.acks->find(c.id, c.subject)) f.acknowledgement = ack_view(*a);
    v.failures.push_back(std::move(f));
  }
  if (src.acks)
    for (const auto& a : src.acks->list()) v.acknowledgements.push_back(ack_view(a));
  for (const auto& m : health::failure_modes()) {
    v.failure_counts.push_back({std::string(m.id), std::string(health::level_short(m.level)),
                                src.health.is_active(m.id), src.health.raised_total(m.id)});
  }
  for (const auto& e : src.health.history()) v.events.push_back({e.time_ms, e.id, e.subject, e.evidence, e.raised});
  return v;
}

}  // namespace pm500::app
