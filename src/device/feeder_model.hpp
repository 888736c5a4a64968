// FeederModel: a deterministic three-phase feeder as a PowerMonitor 500 would measure it, for
// the simulator (tools/pm500-sim) and the tests. It fills any profile assembly's elements by
// their quantity kind and phase, so the simulator and the gateway always agree on the layout.
//
//   FeederModel model(profile, settings, /*seed=*/42);
//   model.step(now_ns);                                   // advance physics, integrate energy
//   std::array<std::uint8_t, 72> buf;
//   auto n = model.encode(102, buf);                      // little-endian wire bytes
//   model.faults().ct_applied_twice = true;               // fault injection, any time
//
// Physics (primary side, SI): wye-equivalent phasors at 0/-120/+120 degrees (split phase 0/180),
// unbalanced magnitudes, a slowly swinging load at a fixed lagging power factor, measurement
// noise on V, I and the phase angle; P, Q, S derived from them like the meter does, so a
// healthy model is internally consistent. Energies integrate P, Q, S over the time between
// steps and never decrease (unless the fault says so). What reaches the wire depends on
// settings.device.applied_by: "meter" = primary values, "gateway" = secondary values (the
// meter has no ratios configured), then the faults.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "device/profile.hpp"
#include "device/settings.hpp"
#include "pm500/expected.hpp"

namespace pm500::device {

// Fault injection: what an installer or a wrong profile does to the readings.
struct Faults {
  bool ct_applied_twice = false;        // currents, powers, energies x CT ratio (meter and gateway both multiply)
  bool ct_missing = false;              // ... / CT ratio (nobody multiplies: secondary amps)
  bool pt_applied_twice = false;        // voltages, powers, energies x PT ratio
  bool pt_missing = false;              // ... / PT ratio (secondary volts)
  bool power_exceeds_apparent = false;  // P reported 1.4 x S: impossible (element order / meter fault)
  bool apparent_mismatch = false;       // S reported 2 x V x I
  bool pf_swapped = false;              // PF reported as Q / S (reactive factor in the PF slot)
  bool total_mismatch = false;          // totals leave out phase L3
  bool pf_above_one = false;            // PF L1 reported 1.3
  bool nan_values = false;              // voltage L2-N and active power L1 (real-time) are NaN
  double frequency_hz = 0;              // != 0: reported frequency forced to this
  bool energy_backwards = false;        // energy counters run down instead of up
  int lost_phase = 0;                   // 1..3: that phase's voltage input reads 0 (blown VT fuse)
};

struct FeederSettings {
  DeviceSettings device;       // ct, pt, applied_by (what the meter reports), nominal voltage, wiring
  double load_a = 0;           // mean phase current, primary A; 0 = half the CT primary
  double power_factor = 0.92;  // lagging, 0 < pf <= 1
  double frequency_hz = 60;
  double noise = 0.002;      // relative 1-sigma measurement noise (clamped at 4 sigma)
  double load_swing = 0.15;  // relative amplitude of the slow load variation
  double load_period_s = 600;
  double unbalance = 0.03;  // relative magnitude spread between phases
  double demand_interval_s = 900;
  double initial_import_kwh = 125000;  // total import counter at start (primary)
  double initial_hours = 8760;
  std::array<std::uint16_t, 10> info_words = {3,   1, 'A', 2,   4,
                                              'B', 1, 0,   'A', 0};  // filled into info elements in order
  std::array<std::uint32_t, 4> bit_fields = {0, 0, 0, 0};            // filled into bit_field elements in order
  Faults faults;
};

class FeederModel {
 public:
  // Nominal voltage 0 in settings.device means 480 V L-L here (the model needs a voltage).
  FeederModel(const Profile& profile, FeederSettings settings, std::uint64_t seed);

  // Advances the physics to now_ns (any monotonic or wall clock, in ns). The first call only
  // sets the clock; energies integrate over later intervals. Going back in time is ignored.
  void step(std::int64_t now_ns);

  // Wire bytes of one assembly; returns the number of bytes written (the profile's size_bytes).
  pm500::expected<std::size_t, std::string> encode(std::uint16_t assembly, std::span<std::uint8_t> out) const;

  // Engineering value of one element as the meter reports it (what encode() writes, before
  // float rounding): after the secondary conversion for applied_by = gateway and the faults.
  double reported(std::uint16_t assembly, std::size_t element) const;
  // The true primary value of one element in its unit (no faults, no ratio division): what the
  // gateway should publish.
  double primary(std::uint16_t assembly, std::size_t element) const;

  Faults& faults() { return settings_.faults; }
  const FeederSettings& settings() const { return settings_; }
  const Profile& profile() const { return profile_; }

 private:
  struct Rng {
    std::uint64_t s[4];
    std::uint64_t next();
    double uniform();  // [0, 1)
    double normal();   // clamped to +-4
  };

  // Index of a (kind, phase) pair in the max / demand tables.
  static std::size_t slot(Quantity k, Phase p) {
    return static_cast<std::size_t>(k) * 10 + static_cast<std::size_t>(p);
  }
  static constexpr std::size_t kSlots = 15 * 10;

  double instant(Quantity k, Phase p) const;  // SI, primary
  double energy(const Element& e) const;      // SI (Wh, varh, VAh) or hours, primary
  double true_si(const Assembly& a, const Element& e, std::size_t index) const;
  double wire_value(const Assembly& a, const Element& e, std::size_t index) const;
  void measure();

  const Profile& profile_;
  FeederSettings settings_;
  Rng rng_{};
  int phases_ = 3;
  std::int64_t start_ns_ = 0;
  std::int64_t last_ns_ = 0;
  bool started_ = false;
  std::uint64_t seed_ = 0;
  std::uint64_t steps_ = 0;  // feeds the per-element noise, so encode() stays const and repeatable

  // Measured state (primary, SI). Index 0..2 = L1..L3.
  std::array<double, 3> v_ln_{}, v_ll_{}, i_{}, p_{}, q_{}, s_{}, pf_{};
  double i_n_ = 0, f_ = 0;
  // Counters (primary, Wh / varh / VAh). [0] total, [1..3] per phase.
  std::array<double, 4> import_wh_{}, export_wh_{}, import_varh_{}, export_varh_{};
  double apparent_vah_ = 0, partial_base_import_wh_ = 0, partial_base_export_wh_ = 0;
  double partial_base_import_varh_ = 0, partial_base_export_varh_ = 0, partial_base_vah_ = 0;
  double hours_ = 0, partial_base_hours_ = 0;
  std::array<double, kSlots> max_{}, demand_{};
  std::array<bool, kSlots> used_{};
};

}  // namespace pm500::device
