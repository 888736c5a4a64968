// Per-device electrical settings: how the meter is wired and who applies the CT/PT ratios.
//
//   auto s = pm500::device::make_settings("mcc-1", "400:5", "480:120", "gateway", 480, "3PN");
//
// The config loader validates each field by type; make_settings() checks them together and
// turns them into the form decode, scaling, plausibility and the feeder model use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "device/ratio.hpp"
#include "pm500/expected.hpp"

namespace pm500::device {

// Who multiplies the meter's secondary readings by the CT/PT ratios.
enum class AppliedBy : std::uint8_t {
  meter,    // the meter is configured with the ratios and reports primary values; the gateway only checks
  gateway,  // the meter reports secondary values; the gateway multiplies
};

// Wiring systems of the meter (manual, wiring system codes 0..5).
enum class Wiring : std::uint8_t {
  three_phase_4wire,  // "3PN": 4-wire wye, L-N and L-L voltages, three CTs (the meter's default)
  three_phase_3wire,  // "3P":  3-wire delta, L-L voltages only, three CTs
  three_phase_1ct,    // "3P1": 3-wire balanced load, one CT
  three_phase_2ct,    // "3P2": 3-wire, two CTs (Aron)
  two_phase,          // "2P":  split phase, L1-N, L2-N, L1-L2
  single_phase,       // "1P":  L1-N only
};

pm500::expected<Wiring, std::string> parse_wiring(std::string_view text);
std::string_view to_string(Wiring w);
pm500::expected<AppliedBy, std::string> parse_applied_by(std::string_view text);
std::string_view to_string(AppliedBy a);

// Number of phase conductors carrying load (3, 2 or 1).
int phase_count(Wiring w);
// Whether line-to-neutral voltages and per-phase powers are meaningful.
bool has_neutral(Wiring w);

struct DeviceSettings {
  std::string name;  // configured device name; starts every finding's message
  Ratio ct;
  Ratio pt;
  AppliedBy applied_by = AppliedBy::meter;
  // Nominal voltage at the primary, line-to-line; for 1P the L1-N voltage (there is no line).
  // 0 = unknown, voltages are then only checked for NaN.
  double nominal_voltage = 0;
  Wiring wiring = Wiring::three_phase_4wire;

  // Current that the CT primary is rated for. A plain ratio ("80") does not say the secondary;
  // 5 A is assumed then (and for 1:1, the meter's own 5 A input).
  double ct_primary_a() const { return ct.pair ? ct.primary : ct.value() * 5.0; }
  // Nominal line-to-neutral voltage (0 when unknown or for 3-wire systems without neutral).
  double nominal_ln() const;
};

pm500::expected<DeviceSettings, std::string> make_settings(std::string name, std::string_view ct, std::string_view pt,
                                                           std::string_view applied_by, double nominal_voltage,
                                                           std::string_view wiring);

}  // namespace pm500::device
