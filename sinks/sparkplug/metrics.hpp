// Each meter as a Sparkplug device: its metrics (every value of its profile), named by assembly
// ("Real-time voltage and current/voltage_l1_n_v"), with an alias, a Sparkplug data type from the
// profile's element type, its unit and CT/PT ratios as properties, and the deadband of its unit.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pipeline/catalog.hpp"
#include "sinks/sparkplug/payload.hpp"

namespace pm500::sinks::sparkplug {

struct DeviceMetric {
  std::string name;
  std::uint64_t alias = 0;
  DataType type = DataType::Double;
  std::string unit;
  FieldInfo::Ratio ratio = FieldInfo::Ratio::none;
  double deadband = 0;  // a change must exceed this to be reported (0: any change)
};

struct DeviceTable {
  std::string id;  // the Sparkplug device id: the configured device name
  std::vector<DeviceMetric> metrics;
  std::array<std::uint32_t, 9> first{};  // per assembly 100..108: index of its first metric
  std::array<std::uint16_t, 9> count{};  // and how many it has (all parts)
  // The sink's per-device state keeps one slot per assembly part (Sample::part): the index of
  // assembly a's part 0 among the device's slots, and how many slots the device has.
  std::array<std::uint32_t, 9> first_slot{};
  std::uint32_t slots = 0;
  std::string ct, pt, applied_by;
};

// Aliases are unique across the edge node: node metrics take 1..99, device d's value i of
// assembly a takes (d + 1) * 100000 + a * 100 + i (device 0, assembly 101, value 3: 110103).
// A value from index 100 on (an assembly of more than 100 elements) has no room there and takes
// 2^56 + d * 2^17 + (a - 100) * 2^13 + i instead (at most 4,590 elements per assembly < 2^13).
std::uint64_t device_alias(std::uint32_t device, std::uint16_t assembly, std::size_t index);

DataType data_type(FieldInfo::Type t);
// A sample's value (a double) as a value of `type` (integers rounded).
Value value_of(DataType type, double v);

DeviceTable device_table(const DeviceMeta& meta, std::uint32_t device, const std::map<std::string, double>& deadbands);

// The properties of a metric in a birth certificate: engUnit, and the ratios that scale it.
// Views into `table` and `m`; `out` is reused.
void birth_properties(const DeviceTable& table, const DeviceMetric& m, std::vector<Property>& out);

}  // namespace pm500::sinks::sparkplug
