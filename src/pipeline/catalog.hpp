// Catalog: what sinks need to know about devices to name a sample's values, built once at
// start-up from the configuration and device profiles, immutable afterwards.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipeline/sample.hpp"

namespace pm500 {

// The field names of one assembly, in value order. Devices of one profile share one list (the
// gateway builds it once per profile: with thousands of meters a copy each cost ~6 KB per
// meter); a list is immutable once shared, push_back copies before it appends.
class FieldList {
 public:
  FieldList() = default;
  FieldList(std::vector<std::string> names)  // NOLINT(google-explicit-constructor): a list of names is one
      : names_(names.empty() ? nullptr : std::make_shared<const std::vector<std::string>>(std::move(names))) {}
  FieldList(std::initializer_list<std::string> names) : FieldList(std::vector<std::string>(names)) {}

  std::size_t size() const { return names_ ? names_->size() : 0; }
  bool empty() const { return size() == 0; }
  const std::string& operator[](std::size_t i) const { return (*names_)[i]; }
  std::span<const std::string> span() const {
    return names_ ? std::span<const std::string>(*names_) : std::span<const std::string>{};
  }
  operator std::span<const std::string>() const { return span(); }  // NOLINT(google-explicit-constructor)
  const std::string* begin() const { return span().data(); }
  const std::string* end() const { return span().data() + size(); }
  // Whether two devices use the very same list (as devices of one profile do).
  bool shares(const FieldList& o) const { return names_ == o.names_; }

  void push_back(std::string name) {
    std::vector<std::string> v(begin(), end());
    v.push_back(std::move(name));
    *this = FieldList(std::move(v));
  }

  friend bool operator==(const FieldList& a, const FieldList& b) {
    return a.names_ == b.names_ || std::ranges::equal(a.span(), b.span());
  }

 private:
  std::shared_ptr<const std::vector<std::string>> names_;
};

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

// An integer a reload changes while sinks read it on their threads (a device's RPI): relaxed
// atomic loads and stores, copyable like the int it stands for.
class LiveInt {
 public:
  LiveInt(std::int64_t v = 0) : v_(v) {}  // NOLINT(google-explicit-constructor): stands for an int
  LiveInt(const LiveInt& o) : v_(o.get()) {}
  LiveInt& operator=(const LiveInt& o) { return *this = o.get(); }
  LiveInt& operator=(std::int64_t v) {
    v_.store(v, std::memory_order_relaxed);
    return *this;
  }
  std::int64_t get() const { return v_.load(std::memory_order_relaxed); }
  operator std::int64_t() const { return get(); }  // NOLINT(google-explicit-constructor)

 private:
  std::atomic<std::int64_t> v_;
};

struct DeviceMeta {
  std::string name;   // configured device name, e.g. "mcc-1"
  std::string site;   // tag "site"
  std::string asset;  // tag "asset"
  // How often each assembly arrives (RPI, or the poll interval); 0: unknown. A reload that
  // changes it updates it in place (Devices::update): the restart-gap estimate uses the new one.
  LiveInt rpi_ms = 0;
  // Field names per assembly instance 100..108 (index = instance - 100), in value order, e.g.
  // "voltage_l1_n_v". Empty when the assembly is not described.
  std::array<FieldList, 9> fields;
  // Per assembly: its title in the profile ("Real-time voltage and current"), and per value
  // (parallel to fields) its unit, type and ratios.
  // (Default member initialisers keep DeviceMeta{name, site, asset, rpi, fields} warning-free.)
  std::array<std::string, 9> titles{};
  std::array<std::vector<FieldInfo>, 9> info{};
  // The CT and PT ratios as configured ("400:5", "480:120") and who applies them ("meter" or
  // "gateway"); "" when not known.
  std::string ct{}, pt{}, ratios_applied_by{};

  // All of an assembly's field names (every part), or those of one part: a Sample of part p
  // holds elements [18p, 18p + 18) (pipeline/sample.hpp), so names[i] names its values[i].
  std::span<const std::string> field_names(std::uint16_t assembly) const {
    if (assembly < 100 || assembly > 108) return {};
    return fields[assembly - 100];
  }
  // Whether a reading of the assembly takes more than one Sample (more than 18 elements).
  bool has_parts(std::uint16_t assembly) const { return field_names(assembly).size() > kMaxSampleValues; }
  std::span<const std::string> field_names(std::uint16_t assembly, std::uint8_t part) const {
    return part_of(field_names(assembly), part);
  }
  std::span<const FieldInfo> field_info(std::uint16_t assembly, std::uint8_t part) const {
    if (assembly < 100 || assembly > 108) return {};
    return part_of(std::span<const FieldInfo>(info[assembly - 100]), part);
  }

 private:
  template <class T>
  static std::span<const T> part_of(std::span<const T> all, std::uint8_t part) {
    const std::size_t first = std::size_t{part} * kMaxSampleValues;
    if (first >= all.size()) return {};
    return all.subspan(first, std::min(kMaxSampleValues, all.size() - first));
  }
};

struct Catalog {
  std::vector<DeviceMeta> devices;

  const DeviceMeta* device(std::uint32_t index) const {
    return index < devices.size() ? &devices[index] : nullptr;
  }
};

}  // namespace pm500
