// InfluxDB line protocol for Samples.
//
//   std::string buf;                       // reused for every batch
//   for (const Sample& s : batch)
//     if (auto r = lp::append_sample(buf, s, *catalog.device(s.device), opts); !r) ...;
//   // powermonitor_500,asset=feeder\ 1,device=mcc-1,site=plant voltage_l1_n_v=230.5,... 1714564800123000000
//
// Escaping (InfluxDB 1.x/2.x line protocol reference, "Special characters"):
//   measurement            comma, space, backslash
//   tag key / value,
//   field key              comma, equals sign, space, backslash
//   string field value     double quote, backslash (inside double quotes)
// A literal newline (or carriage return) cannot be escaped anywhere: such a name is an error.
// Double quotes in names need no escaping and are written as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500::lp {

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
  // and distinct from asset/device/site: lines are then written with all tags sorted, as
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

// Appends one line (with '\n'). On error `out` is left exactly as it was.
pm500::expected<void, EncodeError> append_sample(std::string& out, const Sample& s, const DeviceMeta& meta,
                                                 const Options& opt);

}  // namespace pm500::lp
