// Logging: spdlog to stderr, readable text on a terminal, JSON lines for log collectors.
// Components log a condition when it is raised and when it clears, and count the rest; nothing
// logs per datagram.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace pm500::log {

enum class Format { text, json };

// Picks "auto" -> text when stderr is a terminal, JSON otherwise.
Format resolve_format(std::string_view word);

// Installs the default logger. `level` is a spdlog level word ("info", "debug", ...).
void setup(std::string_view level, Format format);

// A named logger sharing the default sink ("scanner", "sink.influxdb", ...).
std::shared_ptr<spdlog::logger> get(const std::string& name);

}  // namespace pm500::log
