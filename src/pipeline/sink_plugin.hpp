// A sink plugin: its configuration schema ([sinks.NAME]) and its factory. Each sink folder
// defines one `const SinkPlugin NAME_sink_plugin`; sinks/CMakeLists.txt generates the list.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "pipeline/sink.hpp"

namespace pm500 {

// One finding of a sink's probe: a line of `pm500-gateway check`. Plain data, so sinks report
// what they found without knowing the application or the health registry.
struct SinkProbeResult {
  enum class Result { ok, warn, fail };
  Result result = Result::ok;
  std::string what;        // the step, e.g. "connect http://127.0.0.1:8086", "database \"pm500\" exists"
  std::string detail;      // what was found; for a warning or failure the cause in words and the fix
  std::string failure_id;  // the failure mode a warning or failure belongs to; "" = the sink's usual one
};

// Tries everything a delivery will need, once and with the sink's own timeouts: connect,
// authenticate, the destination exists, certificates are usable. Never writes a sample. Runs on
// the caller's thread, with no delivery running.
using SinkProbe =
    std::function<std::vector<SinkProbeResult>(const config::SinkSection&, const SinkEnv&)>;

struct SinkPlugin {
  config::SinkSchema schema;
  // Builds the sink from the settings its schema produced. An error names the cause and fix.
  std::function<pm500::expected<std::unique_ptr<Sink>, std::string>(const config::SinkSection&, const SinkEnv&)> create;
  // `pm500-gateway check`; null when the sink has nothing to probe beyond its configuration.
  SinkProbe probe;
  // The most disk its own output can take under state_dir's filesystem, in bytes (the file
  // sink's rotated files); null: none. The gateway adds the spools' bounds and compares the sum
  // with the filesystem at start-up.
  std::function<std::uint64_t(const config::SinkSection&)> disk_bound{};
};

// Every sink compiled in, in folder order.
std::span<const SinkPlugin* const> sink_plugins();

// The plugin whose table is [sinks.NAME], or null when none is built in.
inline const SinkPlugin* find_sink_plugin(std::string_view name) {
  for (const SinkPlugin* p : sink_plugins())
    if (p->schema.name == name) return p;
  return nullptr;
}

// The schemas alone, for the configuration loader (also generated, in sinks/registry.cpp).
std::vector<config::SinkSchema> sink_schemas();

}  // namespace pm500
