// The file sink: every sample as one line of InfluxDB line protocol or JSON, appended to a local
// file that rotates by size (path, path.1, ... path.N). The gateway's embedded default sink, and
// the simplest way to see what the gateway would send.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "config/options.hpp"
#include "pipeline/sink.hpp"
#include "sinks/common/json_sample.hpp"
#include "sinks/common/line_protocol.hpp"

namespace pm500::sinks {

struct FileSinkConfig {
  std::string path = "samples.lp";        // relative paths are under state_dir/sinks/file/
  std::string format = "line-protocol";   // line-protocol or json
  std::string precision = "ns";           // line protocol timestamps: ns, us, ms, s
  std::string measurement = "powermonitor_500";
  bool sequence_field = false;            // line protocol: add sequence=<n>i
  std::int64_t max_mb = 64;               // rotate beyond this size
  std::int64_t max_files = 5;             // rotated files kept (path.1 .. path.N)
  bool fsync = true;                      // a delivery is confirmed only once on disk
};

const config::Options<FileSinkConfig>& file_sink_options();

class FileSink final : public Sink {
 public:
  FileSink(FileSinkConfig cfg, const Catalog& catalog, std::filesystem::path path);
  ~FileSink() override;
  DeliveryResult deliver(std::span<const Sample> batch) override;
  DeliveryResult flush() override;

  const std::filesystem::path& path() const { return path_; }
  std::uint64_t skipped() const { return skipped_; }  // samples with no finite value
  // Rotated files removed to make room on a full disk.
  std::uint64_t rotated_removed() const { return rotated_removed_; }

 private:
  DeliveryResult open_file();
  DeliveryResult rotate();
  DeliveryResult io_error(std::string_view what, int err);

  FileSinkConfig cfg_;
  const Catalog& catalog_;
  std::filesystem::path path_;
  lp::Options lp_;
  lp::Encoder lp_encoder_;      // lp_, with the names escaped once per device and assembly
  json::Encoder json_encoder_;  // the JSON lines, likewise
  bool json_;
  std::uint64_t max_bytes_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t rotated_removed_ = 0;
  bool remove_oldest_rotated();
  std::string buf_;        // reused for every batch
  DeviceMeta unknown_;     // for a device index the catalog does not know
};

}  // namespace pm500::sinks
