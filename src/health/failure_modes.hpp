// The failure-mode registry's table: one entry per row of the plant's troubleshooting guide,
// plus the gateway's own pipeline conditions. This folder is the only place that knows the rows.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace pm500::health {

// The guide's escalation path.
enum class Level { l1_site_operations = 1, l2_edge_engineering, l3_cloud_integration, l4_architect };
std::string_view level_name(Level l);   // "L1 site operations"
std::string_view level_short(Level l);  // "L1"

struct FailureMode {
  std::string_view id;          // stable: "eip.ownership_conflict"
  std::string_view section;     // guide section: "Device and Network"
  std::string_view symptom;     // what an operator sees
  std::string_view cause;       // probable cause
  std::string_view resolution;  // what to do, written for this gateway
  Level level;                  // who acts first
  std::string_view detection;   // how the gateway notices
  std::string_view guide_row;   // the guide's own symptom text ("" for gateway-only conditions)
  std::string_view test;        // the end-to-end test that provokes it
};

// Every failure mode: those of the 15 guide rows first (in guide order; a row may have more than
// one, e.g. "No response from device": eip.no_response and eip.wrong_device), then the gateway's own.
std::span<const FailureMode> failure_modes();
const FailureMode* find_failure_mode(std::string_view id);

// The failure mode a sink's delivery problems belong to ("influxdb" -> "influxdb.write_error").
std::string_view failure_mode_for_sink(std::string_view sink_type);
// True when a sink type raises its own failure mode for an unreachable destination, so the
// pipeline does not raise pipeline.sink_unavailable beside it.
bool sink_has_own_failure_mode(std::string_view sink_type);

// docs/troubleshooting.md, generated; a test fails when the committed file differs.
std::string troubleshooting_markdown();
// The matrix as plain text for `pm500-gateway troubleshooting`.
std::string troubleshooting_text();

}  // namespace pm500::health
