// Device profile: what each assembly's bytes mean, loaded from a TOML data file
// (etc/profiles/powermonitor500.toml is built in; a site points a device at its own file).
//
//   auto p = pm500::device::load_profile_file("/etc/pm500/profiles/my-meter.toml");
//   if (!p) { for (auto& e : p.error()) log(e.str()); return; }   // "file:12:5: assembly.101 ...: ..."
//   const pm500::device::Profile& pm500 = pm500::device::builtin_profile();
//   if (auto bad = check_assembly_size(pm500, 101, attr4_size, "mcc-1"); !bad) flag(bad.error());
//
// The format is described at the top of etc/profiles/powermonitor500.toml and in README.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/catalog.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500::device {

// CIP elementary data types (CIP Vol. 1, C-2.1), little-endian on the wire.
enum class WireType : std::uint8_t { SINT, INT, DINT, LINT, USINT, UINT, UDINT, ULINT, REAL, LREAL };

// What an element measures; decides scaling, plausibility and how the feeder model fills it.
enum class Quantity : std::uint8_t {
  voltage_ln,       // line-to-neutral voltage          x PT
  voltage_ll,       // line-to-line voltage             x PT
  current,          //                                  x CT
  active_power,     // P                                x CT x PT
  reactive_power,   // Q                                x CT x PT
  apparent_power,   // S                                x CT x PT
  power_factor,     //                                  -
  frequency,        //                                  -
  active_energy,    // kWh counter                      x CT x PT
  reactive_energy,  // kvarh counter                    x CT x PT
  apparent_energy,  // kVAh counter                     x CT x PT
  counter,          // hour / event counter             -
  bit_field,        // alarm / output bits              -
  info,             // product information words        -
  indicator,        // unitless status value            -
};

// Which conductor(s) a value belongs to.
enum class Phase : std::uint8_t { none, l1, l2, l3, n, l1_l2, l2_l3, l3_l1, total, average };
enum class Direction : std::uint8_t { none, import, export_ };

// What an assembly holds; the model fills it and plausibility checks it accordingly.
enum class Role : std::uint8_t {
  realtime,  // instantaneous values (101, 102): range and consistency checks
  maximum,   // maximum values since reset (103, 104)
  demand,    // demand (interval average) values (105, 106)
  energy,    // counters (107): never decrease
  info,      // product information (100)
  status,    // alarms and outputs (108)
};

std::string_view to_string(WireType t);
std::string_view to_string(Quantity q);
std::string_view to_string(Phase p);
std::string_view to_string(Direction d);
std::string_view to_string(Role r);
std::size_t wire_size(WireType t);

// Scale factor by which an element's value is multiplied when the gateway applies the ratios.
enum class RatioUse : std::uint8_t { none, pt, ct, ct_pt };
RatioUse ratio_use(Quantity q);

// Energy counters (active_energy, reactive_energy, apparent_energy): consumers subtract
// successive readings, so after CT x PT scaling they keep every digit of the double product
// (float's 24-bit mantissa would round an 11-digit kWh counter to a multiple of 1024).
bool keeps_double_after_scaling(Quantity q);

struct Element {
  std::string name;  // stable snake_case field name ending in its unit: "voltage_l1_n_v"
  WireType type = WireType::REAL;
  Quantity kind = Quantity::indicator;
  std::string unit;  // "V", "kW", "kWh", "" ...
  Phase phase = Phase::none;
  Direction direction = Direction::none;
  bool partial = false;      // a resettable partial counter (may drop to 0 on an operator reset)
  double scale = 1.0;        // engineering value = raw x scale (e.g. 0.1 for a UINT in tenths)
  double si = 1.0;           // engineering value x si = SI value (kW -> 1000); from the unit
  std::uint32_t offset = 0;  // byte offset in the assembly, computed
};

// Whether the gateway rounds this element's value to float after multiplying it by the ratios:
// a REAL (float32) element that is not an energy counter. The product then has the precision
// the meter measured with, and is written as the shortest float text (233.8281, not
// 233.82808685302734: pm500/number_text.hpp writes a value that is exactly a float that way).
bool float_after_scaling(const Element& e);

struct Assembly {
  std::uint16_t instance = 0;  // 0 = not described by the profile
  std::string title;
  Role role = Role::realtime;
  std::uint32_t size_bytes = 0;  // sum of the elements' wire sizes (and equal to a declared size)
  std::vector<Element> elements;
  // Every element a REAL with scale 1 (so element i is at offset 4 x i): decode() then reads the
  // floats in one tight loop. Set by the loader once the elements are complete; false (the
  // element-by-element path, always correct) for an assembly built otherwise.
  bool plain_real = false;
  // More than kMaxSampleValues elements: a reading travels as consecutive Samples (pm500/sample.hpp,
  // Sample::part), and parts[p] is this assembly with only part p's elements (offsets still into
  // the whole payload, size_bytes the whole size). Empty when the assembly fits one Sample: then
  // part(0) is the assembly itself. Filled by the loader (split_parts()).
  std::vector<Assembly> parts;

  bool present() const { return instance != 0; }
  std::size_t part_count() const { return parts.empty() ? 1 : parts.size(); }
  const Assembly* part(std::size_t p) const {
    if (parts.empty()) return p == 0 ? this : nullptr;
    return p < parts.size() ? &parts[p] : nullptr;
  }
};

// Fills a.parts from a.elements (clears it when they fit one Sample).
void split_parts(Assembly& a);

inline constexpr std::uint16_t kFirstAssembly = 100;
inline constexpr std::uint16_t kLastAssembly = 108;
inline constexpr std::size_t kAssemblySlots = kLastAssembly - kFirstAssembly + 1;

// [identity]: what ListIdentity must report for the gateway to accept the device.
struct DeviceIdentity {
  std::uint16_t vendor = 1;         // vendor id (1 = Rockwell Automation)
  std::uint16_t device_type = 0x92;  // CIP device type
  std::vector<std::uint16_t> product_codes{4, 5, 6, 7, 8, 9};  // accepted product codes; empty = any
  std::string product_name;         // glob pattern the product name must match; "" = any
};

// 32-bit run/idle header (CIP Vol 1, 3-6.1 "Real time formats") in front of a direction's data.
enum class RealTimeHeader : std::uint8_t { none, run_idle };
std::string_view to_string(RealTimeHeader h);

// [connection]: how a Class 1 connection to the device is addressed and framed.
struct ConnectionFormat {
  std::uint32_t config_instance = 1;    // configuration instance in the connection path
  std::uint32_t input_only_point = 98;  // O->T heartbeat point of an input-only connection
  std::uint32_t listen_only_point = 99;  // O->T heartbeat point of a listen-only connection
  RealTimeHeader t_o_header = RealTimeHeader::none;  // in front of the produced assembly's data
  RealTimeHeader o_t_header = RealTimeHeader::none;  // in front of the (empty) heartbeat data
};

// [trend] values: at most this many of a meter's values are kept as trends (/api/history).
inline constexpr std::size_t kMaxTrendValues = 8;

struct Profile {
  std::string name;    // "PowerMonitor 500"
  std::string source;  // file it was loaded from ("<built-in powermonitor500.toml>" for the built-in)
  DeviceIdentity identity;
  ConnectionFormat connection;
  // [trend] values: the elements whose recent history the gateway keeps, by name, in the order
  // the page and /api/history list them; nullopt when the file has no [trend] (the gateway's
  // default headline values, those the profile has); empty = no trend.
  std::optional<std::vector<std::string>> trend;
  std::array<Assembly, kAssemblySlots> assemblies;

  // nullptr when the assembly is not described.
  const Assembly* assembly(std::uint16_t instance) const {
    if (instance < kFirstAssembly || instance > kLastAssembly) return nullptr;
    const Assembly& a = assemblies[instance - kFirstAssembly];
    return a.present() ? &a : nullptr;
  }
  // The view of one part of an assembly (Assembly::part); nullptr when there is no such part.
  const Assembly* part(std::uint16_t instance, std::size_t p) const {
    const Assembly* a = assembly(instance);
    return a ? a->part(p) : nullptr;
  }
};

struct ProfileError {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string key;  // "assembly.101.elements[3].kind"; "" for syntax errors
  std::string message;

  // "my-meter.toml:14:5: assembly.101.elements[3].kind: \"voltag\" is not a quantity kind ..."
  std::string str() const;
};

using ProfileResult = pm500::expected<Profile, std::vector<ProfileError>>;

ProfileResult load_profile_file(const std::string& path);
ProfileResult load_profile_string(std::string_view text, const std::string& source_name);

// etc/profiles/powermonitor500.toml as compiled into the binary (parsed once, on first use).
const Profile& builtin_profile();
// Its text, e.g. for `pm500-gateway` to print or the simulator to write out.
std::string_view builtin_profile_text();

// A profile for a device: "" = the built-in one, else the file.
ProfileResult load_profile_for(const std::string& path_or_empty);

// Compares the meter's own size of an assembly (Get_Attribute_Single, class 4 attribute 4)
// with the profile. On mismatch the error names the device, both numbers and what to do, e.g.
// "mcc-1: assembly 101 is 52 bytes on the meter (attribute 4) but the profile ... describes 48".
pm500::expected<void, std::string> check_assembly_size(const Profile& p, std::uint16_t assembly,
                                                       std::uint32_t meter_size_bytes, std::string_view device);

// The field names per assembly (index = instance - 100), in value order. Devices of one
// profile share the lists (pm500::FieldList): build them once per profile and pass them below.
std::array<pm500::FieldList, kAssemblySlots> field_names(const Profile& p);
// Fills meta.fields (per assembly, in value order; `names` when given, else lists of its own),
// meta.info and meta.titles from the profile.
void fill_field_names(const Profile& p, pm500::DeviceMeta& meta,
                      const std::array<pm500::FieldList, kAssemblySlots>* names = nullptr);

}  // namespace pm500::device
