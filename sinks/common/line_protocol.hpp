// InfluxDB line protocol for Samples.
//
//   lp::Encoder enc(opts);                 // one per sink: caches the escaped names
//   std::string buf;                       // reused for every batch
//   for (const Sample& s : batch)
//     if (auto r = enc.append(buf, s, *catalog.device(s.device)); !r) ...;
//   // powermonitor_500,asset=feeder\ 1,device=mcc-1,site=plant voltage_l1_n_v=230.5,... 1714564800123000000
//
// Everything in a line but the numbers is constant per device and assembly: the Encoder escapes
// and renders it once (the measurement and tag set; each field key with its separator and '=')
// and per sample only copies it and writes the values (pm500/number_text.hpp) and the
// timestamp, into the caller's buffer, without allocating once that buffer has grown.
//
// Escaping (InfluxDB 1.x/2.x line protocol reference, "Special characters"):
//   measurement            comma, space, backslash
//   tag key / value,
//   field key              comma, equals sign, space, backslash
//   string field value     double quote, backslash (inside double quotes)
// A literal newline (or carriage return) cannot be escaped anywhere: such a name is an error.
// Double quotes in names need no escaping and are written as they are.
//
// Quality: a sample taken while a plausibility finding was active (kSampleSuspect) carries the
// tag quality=suspect, in its sorted place among the others; any other sample has no quality
// tag, so its line is what it always was. A dashboard keeps trusted values with
// `WHERE "quality" != 'suspect'` (InfluxQL: a missing tag compares as '') or, in Flux,
// `filter(fn: (r) => not exists r.quality)`.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500::lp {

inline constexpr std::string_view kQualityTag = "quality";       // tag key of the quality mark
inline constexpr std::string_view kSuspectTagValue = "suspect";  // its value on a kSampleSuspect sample

enum class Precision { ns, us, ms, s };
std::optional<Precision> parse_precision(std::string_view s);  // "ns", "us", "ms", "s"
std::string_view to_string(Precision p);

enum class EncodeError {
  newline_in_name,  // a measurement, tag or field name contains \n or \r
  empty_name,       // an empty measurement or field key
  no_fields,        // no finite value (line protocol needs at least one field)
};
std::string_view to_string(EncodeError e);

struct Options {
  std::string measurement = "powermonitor_500";
  Precision precision = Precision::ns;
  bool sequence_field = false;  // add sequence=<n>i (the CIP sequence count)
  bool device_tag = true;       // write the tag `device` (the configured device name)
  // Constant tags added to every line (e.g. {"plant_area", "north"}). Keep them sorted by key
  // and distinct from asset/device/quality/site: lines are then written with all tags sorted, as
  // InfluxDB prefers (unsorted tags are still valid, only slower for the server to index).
  // A key or value that is empty is left out; one with a newline is an error.
  std::vector<std::pair<std::string, std::string>> extra_tags;
};

// Appenders for the parts of a line (exposed for other sinks and for tests).
void append_measurement(std::string& out, std::string_view s);
void append_key(std::string& out, std::string_view s);  // tag key, tag value or field key
void append_string_value(std::string& out, std::string_view s);  // "..." string field value
void append_float(std::string& out, double v);          // shortest round-trip text
void append_integer(std::string& out, std::int64_t v);  // with the `i` suffix
std::int64_t timestamp(std::int64_t source_time_ns, Precision p);

// Appends one line (with '\n'). On error `out` is left exactly as it was. Renders the names
// afresh on every call: for a stream of samples use an Encoder, which writes the same bytes.
pm500::expected<void, EncodeError> append_sample(std::string& out, const Sample& s, const DeviceMeta& meta,
                                                 const Options& opt);

// append_sample() with the constant parts of each (device, assembly) rendered once, on first use,
// and kept. The same bytes and errors as append_sample(out, s, meta, options()).
//
// The cache is keyed by s.device and s.assembly and remembers which DeviceMeta it was built
// from: pass the same DeviceMeta (the Catalog's entry; the Catalog is immutable during a run)
// for a device index every time, and do not change it while the Encoder lives. Another
// DeviceMeta object for the same index rebuilds that device's entry.
class Encoder {
 public:
  Encoder();
  explicit Encoder(Options opt);
  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;
  ~Encoder();

  const Options& options() const { return opt_; }

  // Appends one line (with '\n'). On error `out` is left exactly as it was.
  pm500::expected<void, EncodeError> append(std::string& out, const Sample& s, const DeviceMeta& meta);

  struct Parts;  // the constant text of one (device, assembly, part)

 private:
  struct Device;
  const Parts& parts(const Sample& s, const DeviceMeta& meta);

  Options opt_;
  std::vector<std::unique_ptr<Device>> devices_;  // by device index, up to kMaxCachedDevices
  std::unique_ptr<Parts> spare_;                  // rebuilt per sample for a larger index
};

}  // namespace pm500::lp
