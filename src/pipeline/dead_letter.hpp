// Dead-letter file: samples a destination refused for good (DeliveryResult::reject), one JSON
// line each with the reason, in state_dir/sinks/<name>/dead-letter.jsonl. Nothing is silently
// dropped: an operator can fix the cause and feed the lines back. Bounded: beyond max_bytes the
// file is renamed to dead-letter.jsonl.1 (replacing the previous one) and a new one started.
//
//   {"sink":"influxdb","reason":"...","evidence":"HTTP 400","sample":{...}}
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500 {

// Appends one sample as a JSON object, named by `device` (null when unknown). The app passes the
// sinks' JSON encoder (named fields); the default writes the raw record (device name when
// known, device index, values array), which loses nothing either.
using SampleJsonEncoder = std::function<void(std::string& out, const Sample& sample, const DeviceMeta* device)>;
void append_raw_sample_json(std::string& out, const Sample& sample, const DeviceMeta* device);

class DeadLetterFile {
 public:
  // names: the devices samples are named by (null: none; the raw record keeps the index).
  DeadLetterFile(std::filesystem::path file, std::string sink, SampleJsonEncoder encoder,
                 const Catalog* names = nullptr, std::uint64_t max_bytes = 64ull << 20);
  // Appends and fsyncs (rare by nature; each line must survive a crash). `names` overrides the
  // device list for these samples (spooled under an older configuration).
  pm500::expected<void, std::string> write(std::span<const Sample> samples, std::string_view reason,
                                           std::string_view evidence, const Catalog* names = nullptr);
  const std::filesystem::path& path() const { return file_; }

 private:
  std::filesystem::path file_;
  std::string sink_;
  SampleJsonEncoder encoder_;
  const Catalog* names_;
  std::uint64_t max_bytes_;
  std::string buf_;
};

}  // namespace pm500
