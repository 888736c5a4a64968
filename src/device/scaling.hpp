// CT/PT scaling: when ratios_applied_by = "gateway", the meter reports secondary values and the
// gateway multiplies voltages by PT, currents by CT, powers and energies by CT x PT -- exactly
// once (kSampleScaled marks a scaled sample; applying again does nothing).
//
// The product is computed in double. For a float32 (REAL) element it is then rounded to float,
// the precision the meter measured with (current_l2_a = 233.82809, not 233.82808685302734: a
// float's digits times a ratio printed as a double), except for energy counters, which keep the
// double product (float_after_scaling() in profile.hpp).
//
//   Scaler scaler(profile, settings);          // once per device, precomputes the factors
//   scaler.apply(sample);                      // per datagram, no allocation
#pragma once

#include <array>
#include <vector>

#include "device/profile.hpp"
#include "device/settings.hpp"
#include "pipeline/sample.hpp"

namespace pm500::device {

// The factor for a quantity kind under the given ratios (1 for unscaled kinds).
double ratio_factor(Quantity kind, const Ratio& ct, const Ratio& pt);

class Scaler {
 public:
  Scaler(const Profile& p, const DeviceSettings& s);

  // Multiplies the sample's values in place when the gateway applies ratios; sets kSampleScaled.
  // A no-op when the meter applies them or the sample is already scaled.
  void apply(pm500::Sample& s) const noexcept;

  bool active() const { return active_; }
  // The factor of an element, by its index in the whole assembly (all parts).
  double factor(std::uint16_t assembly, std::size_t element) const;

 private:
  bool active_ = false;
  // Per assembly, per element of the whole assembly (a part's values start at 18 x part).
  std::array<std::vector<double>, kAssemblySlots> factors_{};
  std::array<std::vector<std::uint8_t>, kAssemblySlots> to_float_{};  // float_after_scaling()
};

}  // namespace pm500::device
