// A sink plugin: its configuration schema ([sinks.NAME]) and its factory. Each sink folder
// defines one `const SinkPlugin NAME_sink_plugin`; sinks/CMakeLists.txt generates the list.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "config/config.hpp"
#include "pipeline/sink.hpp"

namespace pm500 {

struct SinkPlugin {
  config::SinkSchema schema;
  // Builds the sink from the settings its schema produced. An error names the cause and fix.
  std::function<pm500::expected<std::unique_ptr<Sink>, std::string>(const config::SinkSection&, const SinkEnv&)> create;
};

// Every sink compiled in, in folder order.
std::span<const SinkPlugin* const> sink_plugins();

// The schemas alone, for the configuration loader (also generated, in sinks/registry.cpp).
std::vector<config::SinkSchema> sink_schemas();

}  // namespace pm500
