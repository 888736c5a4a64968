// The file sink's configuration table and factory.
#include <any>

#include "pipeline/sink_plugin.hpp"
#include "sinks/file/file_sink.hpp"
#include "sinks/file/probe.hpp"

namespace pm500 {
namespace sinks {

const config::Options<FileSinkConfig>& file_sink_options() {
  static const config::Options<FileSinkConfig> o{
      config::string("path", &FileSinkConfig::path,
                     "File to append to; a relative path is under state_dir/sinks/file/."),
      config::choice("format", &FileSinkConfig::format, {"line-protocol", "json"},
                     "InfluxDB line protocol, or one JSON object per line."),
      config::choice("precision", &FileSinkConfig::precision, {"ns", "us", "ms", "s"},
                     "Line protocol timestamp precision (the sample's source time)."),
      config::string("measurement", &FileSinkConfig::measurement, "Line protocol measurement name."),
      config::boolean("sequence_field", &FileSinkConfig::sequence_field,
                      "Line protocol: add the CIP sequence count as an integer field `sequence`."),
      config::integer("max_mb", &FileSinkConfig::max_mb, 1, 1 << 20, "Rotate the file beyond this size (MiB)."),
      config::integer("max_files", &FileSinkConfig::max_files, 1, 1000,
                      "Rotated files kept (path.1 newest ... path.N oldest)."),
      config::boolean("fsync", &FileSinkConfig::fsync,
                      "Confirm a batch only after fdatasync, so a power loss cannot lose confirmed samples."),
  };
  return o;
}

}  // namespace sinks

extern const SinkPlugin file_sink_plugin;  // external linkage for the generated registry
const SinkPlugin file_sink_plugin{
    config::SinkSchema{
        "file",
        "Line protocol or JSON lines to a rotating local file (the embedded default).",
        [](config::TableReader& r) {
          sinks::FileSinkConfig c;
          r.read(sinks::file_sink_options(), c);
          return std::any(c);
        },
        [](const std::any& a) { return config::dump(sinks::file_sink_options(), std::any_cast<const sinks::FileSinkConfig&>(a)); },
        [] { return config::describe(sinks::file_sink_options()); },
        [] {
          config::DeliverySection d;
          d.flush_interval_ms = 200;  // each batch is one write and one fdatasync
          return d;
        }(),
    },
    [](const config::SinkSection& section, const SinkEnv& env) -> pm500::expected<std::unique_ptr<Sink>, std::string> {
      const auto* cfg = std::any_cast<sinks::FileSinkConfig>(&section.settings);
      if (!cfg) return pm500::unexpected(std::string("sinks.file: settings were not read by the file sink's schema"));
      std::filesystem::path p = sinks::file_sink_path(*cfg, env.state_dir);
      if (p.empty()) return pm500::unexpected(std::string("sinks.file.path is empty: name the file to write"));
      return std::unique_ptr<Sink>(std::make_unique<sinks::FileSink>(*cfg, env.catalog, p));
    },
    [](const config::SinkSection& section, const SinkEnv& env) -> std::vector<SinkProbeResult> {
      const auto* cfg = std::any_cast<sinks::FileSinkConfig>(&section.settings);
      if (!cfg) return {{SinkProbeResult::Result::fail, "settings", "not read by the file sink's schema", ""}};
      return sinks::probe_file_sink(*cfg, env.state_dir);
    },
    [](const config::SinkSection& section) -> std::uint64_t {
      const auto* cfg = std::any_cast<sinks::FileSinkConfig>(&section.settings);
      // The current file and max_files rotated ones, each up to max_mb.
      return cfg ? static_cast<std::uint64_t>(cfg->max_mb) * static_cast<std::uint64_t>(cfg->max_files + 1) << 20 : 0;
    },
};

}  // namespace pm500
