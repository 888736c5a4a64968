// Catalog: what sinks need to know about devices to name a sample's values, built once at
// start-up from the configuration and device profiles, immutable afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pm500 {

struct DeviceMeta {
  std::string name;   // configured device name, e.g. "mcc-1"
  std::string site;   // tag "site"
  std::string asset;  // tag "asset"
  std::int64_t rpi_ms = 0;  // how often each assembly arrives (RPI, or the poll interval); 0: unknown
  // Field names per assembly instance 100..108 (index = instance - 100), in value order, e.g.
  // "voltage_l1_n_v". Empty when the assembly is not described.
  std::array<std::vector<std::string>, 9> fields;

  std::span<const std::string> field_names(std::uint16_t assembly) const {
    if (assembly < 100 || assembly > 108) return {};
    return fields[assembly - 100];
  }
};

struct Catalog {
  std::vector<DeviceMeta> devices;

  const DeviceMeta* device(std::uint32_t index) const {
    return index < devices.size() ? &devices[index] : nullptr;
  }
};

}  // namespace pm500
