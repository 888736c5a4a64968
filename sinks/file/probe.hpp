// `pm500-gateway check` for the file sink: can the gateway's user create and append to the file?
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/sink_plugin.hpp"
#include "sinks/file/file_sink.hpp"

namespace pm500::sinks {

// The file the sink writes: a relative path is under state_dir/sinks/file/ (shared by the
// factory and the probe, so both look at the same place).
std::filesystem::path file_sink_path(const FileSinkConfig& cfg, const std::string& state_dir);

// The folder exists (or can be created) and is writable -- proved by creating and removing a
// temporary file in it -- and an existing file can be opened for appending.
std::vector<SinkProbeResult> probe_file_sink(const FileSinkConfig& cfg, const std::string& state_dir);

}  // namespace pm500::sinks
