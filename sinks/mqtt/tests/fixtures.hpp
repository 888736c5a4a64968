// What the MQTT sink's tests share: two devices with the fields of assembly 101, and numbered
// samples of that assembly (value 1 carries the number, so a consumer can tell them apart).
#pragma once

#include <cstdint>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"

namespace pm500::test::mqtt {

inline Catalog two_devices() {
  Catalog c;
  DeviceMeta m;
  m.name = "mcc-1";
  m.site = "plant";
  m.asset = "feeder 1";
  m.fields[1] = {"voltage_l1_n_v", "current_l1_a"};
  c.devices.push_back(m);
  m.name = "mcc-2";
  c.devices.push_back(m);
  return c;
}

// Sample n of assembly 101, n ms after `base_ns`.
inline Sample numbered(std::uint32_t n, std::uint32_t device, std::int64_t base_ns) {
  Sample s;
  s.source_time_ns = base_ns + static_cast<std::int64_t>(n) * 1'000'000;
  s.device = device;
  s.assembly = 101;
  s.sequence = static_cast<std::uint16_t>(n);
  s.count = 2;
  s.values[0] = 230.5;
  s.values[1] = static_cast<double>(n);
  return s;
}

}  // namespace pm500::test::mqtt
