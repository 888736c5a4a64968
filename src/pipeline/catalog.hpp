// Catalog: what sinks need to know about devices to name a sample's values, built once at
// start-up from the configuration and device profiles, immutable afterwards.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pm500 {

// What a sink may tell about one value besides its name (Sparkplug's birth certificates).
struct FieldInfo {
  // How the value is best typed: float32 for a REAL the gateway keeps at the meter's float
  // precision, float64 for one that needs double (energy counters, LREAL, scaled integers), else
  // the element's own integer type.
  enum class Type : std::uint8_t { float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64 };
  // Which of the device's ratios scale it (voltages PT, currents CT, powers and energies both).
  enum class Ratio : std::uint8_t { none, pt, ct, ct_pt };
  std::string unit;  // "V", "kWh", ...; "" = none
  Type type = Type::float64;
  Ratio ratio = Ratio::none;
};

struct DeviceMeta {
  std::string name;   // configured device name, e.g. "mcc-1"
  std::string site;   // tag "site"
  std::string asset;  // tag "asset"
  std::int64_t rpi_ms = 0;  // how often each assembly arrives (RPI, or the poll interval); 0: unknown
  // Field names per assembly instance 100..108 (index = instance - 100), in value order, e.g.
  // "voltage_l1_n_v". Empty when the assembly is not described.
  std::array<std::vector<std::string>, 9> fields;
  // Per assembly: its title in the profile ("Real-time voltage and current"), and per value
  // (parallel to fields) its unit, type and ratios.
  // (Default member initialisers keep DeviceMeta{name, site, asset, rpi, fields} warning-free.)
  std::array<std::string, 9> titles{};
  std::array<std::vector<FieldInfo>, 9> info{};
  // The CT and PT ratios as configured ("400:5", "480:120") and who applies them ("meter" or
  // "gateway"); "" when not known.
  std::string ct{}, pt{}, ratios_applied_by{};

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
