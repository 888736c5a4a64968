// One Sample as a JSON object (MQTT payloads, JSON-lines files, dead letters):
//
//   {"device":"mcc-1","site":"plant","asset":"feeder 1","time":"2024-05-01T12:00:00.123Z",
//    "time_ms":1714564800123,"assembly":101,"sequence":4711,"flags":0,
//    "values":{"voltage_l1_n_v":230.5,"current_l1_a":12.25}}
//
// Values are named by the Catalog; a value without a name is "value_<i>". NaN and infinity
// become null (JSON has neither). Appends to the caller's reused string.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"

namespace pm500::json {

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

}  // namespace pm500::json
