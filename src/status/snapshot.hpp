// What the status page, /api/status, /metrics and /health show: a plain-data snapshot of the
// gateway, filled by the app about once a second (or on request) from its components. The
// status module renders it and knows nothing of the scanner, sinks or registry themselves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pm500::status {

struct Value {
  std::string name;  // field name with unit: "voltage_l1_n_v"
  std::string unit;  // "V"
  double value = 0;
  std::string suspect_finding = {};  // the active finding that makes this value suspect ("current_vs_ct"); "" = none
};

struct DeviceView {
  std::string name, asset, address;
  std::string state;            // connecting, identifying, opening, running, backoff, wrong_device, stopped
  std::string connection;       // path in use: listen-only, input-only, explicit
  std::string connection_reason;  // why that path ("listen-only refused 0x01/0x0119 ...: fell back to explicit")
  std::uint32_t rpi_ms = 0;
  std::int64_t last_packet_age_ms = -1;  // -1: never
  std::uint64_t packets = 0, samples = 0, timeouts = 0, reconnects = 0, decode_errors = 0;
  std::uint64_t stale_packets = 0, forward_opens = 0, forward_open_failures = 0;
  std::string identity;          // "PowerMonitor 500 1420-V2A-ENT rev 2.3 serial 94..."
  std::vector<Value> values;     // latest values of every assembly read
  std::vector<std::string> findings;  // active plausibility findings (operator text)
  std::vector<std::string> finding_kinds;  // their ids ("current_vs_ct"), in the same order
};

struct SinkView {
  std::string name;
  std::string state;  // delivering, retrying, spooling, replaying, stopped
  // When the sink entered `state` (ms since the epoch); 0 = not known, and the status server
  // then measures it itself from successive snapshots. /health/ready's time limit uses it.
  std::int64_t state_since_ms = 0;
  std::uint64_t delivered = 0, spooled = 0, replayed = 0, spool_backlog = 0, spool_bytes = 0;
  std::uint64_t dropped = 0, rejected = 0, retries = 0, ring_lag = 0;
  // dropped, by reason: ring overrun, spool_max_mb reached, disk full, corrupt records skipped.
  std::uint64_t dropped_overrun = 0, dropped_spool_full = 0, dropped_disk = 0, dropped_corrupt = 0;
  std::uint64_t unattributable = 0;  // spooled samples dead-lettered after a configuration change
  // Backlog progress: replayed samples/s, backlog shrink rate, seconds to catch up (< 0: not
  // draining; 0: no backlog).
  double replay_per_s = 0, drain_per_s = 0, catch_up_s = 0;
  std::string last_error;
};

// The filesystem under state_dir (spools, dead letters, the file sink's output).
struct DiskView {
  std::string path;
  std::uint64_t free_bytes = 0, total_bytes = 0, reserve_bytes = 0, dropped = 0;
  bool short_of_space = false;  // pipeline.disk_full is raised
};

// An operator's acknowledgement or shelf of a condition (POST /api/acknowledge): it changes how
// the condition is shown and stops its repeat alerts, never whether it is recorded.
struct AckView {
  std::string id, subject;
  std::string state;      // "acknowledged" or "shelved"
  std::string by, note;
  std::string evidence;   // the condition's evidence when it was given
  std::int64_t at_ms = 0;
  std::int64_t until_ms = 0;  // shelved: when it runs out; 0 otherwise
  bool waiting = false;       // kept from before a restart; the condition has not been raised again yet
};

struct FailureView {
  std::string id, subject, level, symptom, cause, resolution, evidence;
  std::int64_t since_ms = 0;
  std::uint64_t occurrences = 0;
  std::optional<AckView> acknowledgement;  // none: shown and alerted as usual
};

struct EventView {
  std::int64_t time_ms = 0;
  std::string id, subject, evidence;
  bool raised = false;
};

struct FailureCount {  // for /metrics: every known failure mode, active or not
  std::string id, level;
  bool active = false;
  std::uint64_t raised_total = 0;
};

struct AlertsView {  // the [alerts] webhook
  bool enabled = false;
  std::string target;  // scheme://host:port only (the path may carry a token)
  std::uint64_t sent = 0, failed_attempts = 0, rejected = 0, dropped = 0, queued = 0;
  std::string last_error;  // "" once a POST succeeded
};

struct ReloadView {        // the last configuration reload (SIGHUP)
  std::int64_t at_ms = 0;  // 0: none since start
  std::string result;      // "applied" or "refused"; "" when none
  std::string summary;     // one line: what was applied, what needs a restart, or why refused
  std::vector<std::string> errors, applied, restart_needed;
};

// Datagrams the scanner threw away on its Class 1 UDP port, by reason (scanner-wide).
struct RejectedDatagramsView {
  std::uint64_t unknown_connection = 0;  // no open connection has that connection id
  std::uint64_t wrong_source = 0;        // an open connection's id, from another address
  std::uint64_t truncated = 0, malformed = 0, oversized = 0;  // not a Class 1 packet
  std::uint64_t total() const { return unknown_connection + wrong_source + truncated + malformed + oversized; }
};

// The scanner's Class 1 receive socket (one socket receives every device's I/O data).
struct ReceiveView {
  std::uint64_t kernel_drops = 0;     // dropped by the kernel: the receive buffer was full
  std::uint64_t receive_calls = 0;    // recvmmsg calls
  std::uint64_t datagrams = 0;        // datagrams they returned
  double delay_seconds_sum = 0;       // kernel receive -> read by the scanner, summed over datagrams
  double delay_max_seconds = 0;       // the longest of those in the last completed second
  double cpu_seconds = 0;             // scanner thread CPU time
  std::uint64_t buffer_bytes = 0;     // SO_RCVBUF granted
  std::uint64_t buffer_wanted_bytes = 0;  // SO_RCVBUF asked for (more than granted: rmem_max caps it)
};

// Connection set-ups: a device's TCP connect, session, identity and Forward Opens, of which the
// scanner runs at most [scanner] max_setups at once (the rest wait for a slot, in order).
struct SetupsView {
  std::uint64_t limit = 0;      // [scanner] max_setups; 0 = no limit
  std::uint64_t in_flight = 0;  // running now
  std::uint64_t waiting = 0;    // waiting for a slot
  std::uint64_t peak = 0;       // the most ever in flight at once
  std::uint64_t started = 0;    // begun since start
};

// /api/history?device=...: the trend of one meter's headline values (src/app/trend.hpp). Buckets
// are oldest first; the last one holds now_ms; NaN = nothing arrived in that bucket.
struct HistoryView {
  std::string device;
  std::int64_t now_ms = 0;
  std::int64_t fine_step_ms = 0, coarse_step_ms = 0;
  struct Series {
    std::string name, unit;
    std::vector<float> fine;                  // mean per bucket
    std::vector<float> coarse_min, coarse_mean, coarse_max;
  };
  std::vector<Series> series;
};

struct GatewayView {
  std::string version, site, config_file;
  std::int64_t started_ms = 0, now_ms = 0;
  std::uint64_t restarts = 0;        // from the restart history in the state directory
  bool scanner_running = false;
  RejectedDatagramsView datagrams_rejected;
  ReceiveView receive;
  SetupsView setups;
  std::uint64_t ring_capacity = 0, ring_head = 0;
  std::uint64_t rss_bytes = 0, memory_limit_bytes = 0;  // process memory vs cgroup limit (0: none)
  std::vector<DeviceView> devices;
  std::vector<SinkView> sinks;
  DiskView disk;
  std::vector<FailureView> failures;  // active, most severe first
  std::vector<AckView> acknowledgements;  // every acknowledgement and shelf in force, by id and subject
  // POST /api/acknowledge is accepted: [status] token is set (the server fills this in).
  bool acknowledge_enabled = false;
  std::vector<FailureCount> failure_counts;
  std::vector<EventView> events;      // newest last
  AlertsView alerts;
  ReloadView reload;
};

}  // namespace pm500::status
