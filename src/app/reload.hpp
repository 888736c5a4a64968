// Reloading the configuration file without a restart (SIGHUP, `systemctl reload`): what changed
// between the running file and the new one, and which of it the running gateway can apply.
//
//   auto plan = plan_reload(running_cfg, running_table, next_cfg, next_table);
//   for (auto& name : plan.sinks_removed) ...   // applied by Gateway::reload()
//   plan.restart_needed  ->  "restart needed for: [status] listen, [scanner] udp_port"
//
// Tables are compared by value (a reformatted file with the same values is unchanged), key by
// key, so the result names exactly what differs. Sinks are compared as whole tables: a sink
// whose table did not change keeps running.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/config.hpp"

namespace pm500::app {

struct ReloadPlan {
  // [sinks.NAME] names, enabled ones only: a disabled sink counts as absent.
  std::vector<std::string> sinks_added, sinks_removed, sinks_changed;
  // [[devices]] names. Added ones are opened, removed ones closed (Forward Close), changed ones
  // take their new settings: ratios, nominal voltage, wiring and asset in the data path at once,
  // and a connection that changed (address, assemblies, RPI, connection, ...) is opened again; a
  // changed profile is the device removed and added again. Devices whose table did not change
  // are not touched.
  std::vector<std::string> devices_added, devices_removed, devices_changed;
  // [logging] level changed: the new level, applied to every logger at once.
  std::string log_level;
  // What differs but cannot be applied to the running gateway, as "[section] key" (or the
  // section's name when it is not a table).
  std::vector<std::string> restart_needed;

  bool sinks_change() const { return !sinks_added.empty() || !sinks_removed.empty() || !sinks_changed.empty(); }
  bool devices_change() const {
    return !devices_added.empty() || !devices_removed.empty() || !devices_changed.empty();
  }
  bool empty() const { return !sinks_change() && !devices_change() && log_level.empty() && restart_needed.empty(); }
};

// A TOML text as tables; nullopt when it does not parse (config::load_string says why).
std::optional<toml::table> parse_toml(const std::string& text, const std::string& name);

ReloadPlan plan_reload(const config::GatewayConfig& running, const toml::table& running_table,
                       const config::GatewayConfig& next, const toml::table& next_table);

// The outcome of one reload, for the log, the service manager's status line and the status page.
struct ReloadOutcome {
  std::int64_t at_ms = 0;            // wall clock; 0: no reload yet
  bool refused = false;              // the file was invalid: nothing applied
  std::vector<std::string> errors;   // why it was refused (each diagnostic with file:line)
  std::vector<std::string> applied;  // "sink file added", ...
  std::vector<std::string> restart_needed;

  // "refused: 2 errors", "applied: sink file added; restart needed for: [status] listen",
  // "no change".
  std::string summary() const;
};

}  // namespace pm500::app
