// One Sample as a JSON object (MQTT payloads, JSON-lines files, dead letters):
//
//   {"device":"mcc-1","site":"plant","asset":"feeder 1","time":"2024-05-01T12:00:00.123Z",
//    "time_ms":1714564800123,"assembly":101,"sequence":4711,"flags":0,
//    "values":{"voltage_l1_n_v":230.5,"current_l1_a":12.25}}
//
// A sample taken while a plausibility finding was active (kSampleSuspect, flags bit 2) also has
// "quality":"suspect" after "flags"; any other sample has no "quality" member, so its document
// is what it always was. Values are named by the Catalog; a value without a name is "value_<i>". NaN and infinity
// become null (JSON has neither). Appends to the caller's reused string.
//
// The free functions render the names on every call; an Encoder renders the constant parts of
// each (device, assembly) once -- the identity, the keys with their quotes, colons and commas --
// and per sample writes only the time, the sequence, the flags and the numbers: the same bytes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"

namespace pm500::json {

// The member a kSampleSuspect sample carries after "flags" (with its leading comma).
inline constexpr std::string_view kSuspectMember = ",\"quality\":\"suspect\"";

// meta may be null (unknown device): "device" is then "#<index>" and site/asset are omitted.
void append_sample(std::string& out, const Sample& s, const DeviceMeta* meta);

// One sample without the device's identity, for documents that carry it once for many samples:
//   {"time":"2024-05-01T12:00:00.123Z","time_ms":1714564800123,"assembly":101,"sequence":4711,
//    "flags":0,"values":{"voltage_l1_n_v":230.5}}
void append_sample_body(std::string& out, const Sample& s, const DeviceMeta* meta);

// The identity members shared by both forms, without braces: "device":"mcc-1","site":..,"asset":..
void append_device_identity(std::string& out, std::uint32_t device, const DeviceMeta* meta);

// "2024-05-01T12:00:00.123Z": UTC, millisecond precision, from nanoseconds since the epoch.
void append_iso8601_ms(std::string& out, std::int64_t unix_ns);

// The functions above with the constant text of each (device, assembly) rendered once, on first
// use, and kept: the same bytes. The cache is keyed by the device index and the assembly and
// remembers which DeviceMeta it was built from: pass the same one (the Catalog's entry, or null
// for an index the Catalog does not know) for a device index every time, and do not change it
// while the Encoder lives; another DeviceMeta object for the same index rebuilds that entry.
class Encoder {
 public:
  Encoder();
  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;
  ~Encoder();

  void append_sample(std::string& out, const Sample& s, const DeviceMeta* meta);
  void append_sample_body(std::string& out, const Sample& s, const DeviceMeta* meta);
  void append_device_identity(std::string& out, std::uint32_t device, const DeviceMeta* meta);

  struct Parts;  // the constant text of one (device, assembly, part)

 private:
  struct Device;
  const Parts& parts(std::uint32_t device, std::uint16_t assembly, std::uint8_t part, const DeviceMeta* meta);
  void write(std::string& out, const Sample& s, const Parts& p, bool identity);

  std::vector<std::unique_ptr<Device>> devices_;  // by device index, up to a bound
  std::unique_ptr<Parts> spare_;                  // rebuilt per sample for a larger index
  // "2024-05-01T" for the day of the last sample written (samples of a batch share it).
  std::int64_t day_ = 0;
  std::array<char, 24> date_{};
  std::size_t date_len_ = 0;
};

}  // namespace pm500::json
