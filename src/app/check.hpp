// `pm500-gateway check -c FILE`: every probe once, one line per check, like a health-check
// script an operator can read from top to bottom:
//
//   ✓ device mcc-1: reachable 10.0.0.5:44818: TCP connection and EtherNet/IP session established
//   ✓ device mcc-1: identity: 1420-V2A-ENT PowerMonitor 500 (vendor 1, product code 9, revision 2.3, serial 940000002)
//   ✗ sink mqtt: connect mqtts://broker:8883: refused: ... [mqtt.publish_failure]
//     fix: <the failure mode's resolution>
//   9 checks, 1 failed
//
// A check group is a function returning lines; cmd_check concatenates the groups, so a new
// probe (e.g. the alert webhook) is one more function of that shape.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "app/commands.hpp"
#include "config/config.hpp"

namespace pm500::app {

struct CheckLine {
  enum class Result {
    ok,       // ✓
    warn,     // !  works, but not as configured or not as it should (does not fail the exit code)
    fail,     // ✗  will not work: exit code 3
    skipped,  // -  not probed (disabled, --offline)
  };
  Result result = Result::ok;
  std::string subject;     // "device mcc-1", "sink influxdb", "configuration"
  std::string what;        // the check: "reachable 10.0.0.5:44818", "identity", "Forward Open"
  std::string detail;      // what was found; for a failure the cause in words
  std::string failure_id;  // the failure mode whose resolution is printed; "" when ok
};

struct CheckOptions {
  bool offline = false;  // validate the configuration only: no traffic to devices or sinks
};

// The configuration line (it loaded: counts of devices and sinks), and a warning naming the
// tables to add when no sink is enabled (the gateway would deliver nothing).
std::vector<CheckLine> check_configuration(const config::GatewayConfig& cfg);
// Devices (with the embedded simulator when [simulator] is enabled) and sinks, probed at the
// same time. Devices: one real scanner run (session, identity, assembly sizes, Forward Open, data,
// Forward Close). Sinks: each enabled sink's own probe (SinkPlugin::probe).
std::vector<CheckLine> check_devices_and_sinks(const config::GatewayConfig& cfg);

// The alert webhook: one test alert (state "test") to [alerts] url, and its outcome.
CheckLine webhook_check(const config::GatewayConfig& cfg);
// webhook_check when [alerts] is enabled.
std::vector<CheckLine> check_alerts(const config::GatewayConfig& cfg);

// Prints the lines, the resolution of each failure and warning that names a failure mode, and
// a summary "N checks, M failed". Returns the number of failed checks.
std::size_t render_check(std::ostream& out, std::span<const CheckLine> lines);

int cmd_check(const Options& opt, const CheckOptions& check);

}  // namespace pm500::app
