// Pure renderers of a GatewayView: what /api/status, /metrics and /health/* answer. They keep
// no state and touch no socket, so tests feed them hand-built views. The formats are documented
// in docs/status-api.md; names there are stable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "status/snapshot.hpp"

namespace pm500::status {

// /api/status: the whole view as JSON (schema version 1).
std::string render_json(const GatewayView& view);
// /api/history?device=... (docs/status-api.md).
std::string render_history_json(const HistoryView& view);
// The answer to POST /api/acknowledge that was carried out: {"ok":true,"message":...,"acknowledgement":...}.
std::string render_ack_json(std::string_view message, const std::optional<AckView>& entry);

// /metrics: Prometheus text exposition format 0.0.4. Every known failure mode has a
// pm500_failure_active series (0 or 1), so an alert on it never sees a missing series.
std::string render_metrics(const GatewayView& view);

// The rule behind /health/ready, from [status] ready_* (see docs/status-api.md).
struct ReadyRule {
  bool requires_scanner = true;
  // A sink whose state has been anything but delivering/replaying/idle for longer than this
  // cannot deliver: the gateway is not ready. <= 0 disables the time limit.
  std::int64_t max_not_delivering_ms = 300'000;
  // A sink with more samples than this in its spool is too far behind; 0 = no limit.
  std::uint64_t max_backlog = 1'000'000;
};

struct HealthReport {
  bool ok = false;   // 200 when true, 503 otherwise
  std::string json;  // {"status":..., "checks":..., "devices":{...}, "sinks":{...}}
};

// Sink states in which samples still reach the destination.
bool sink_delivering(std::string_view state);

// /health/live: the process answers; the body lists every dependency's state for humans.
HealthReport render_live(const GatewayView& view);
// /health/ready: configuration loaded, scanner running, and every sink able to deliver.
// Devices are listed but never make the gateway unready: a meter that is down is a plant
// problem the status page reports, and restarting the gateway would not fix it.
HealthReport render_ready(const GatewayView& view, const ReadyRule& rule);

}  // namespace pm500::status
