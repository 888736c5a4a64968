// CT and PT (VT) ratios as installers write them: "400:5", "480:120", or a plain ratio "80".
//
//   auto ct = pm500::device::parse_ct("400:5");   // ct->value() == 80, ct->primary == 400
//   if (!ct) report(ct.error());                  // "CT \"400:2\": secondary must be 1 A or 5 A ..."
//
// Dependency-free on purpose: the config loader calls these so that an error carries the
// configuration file's line and column.
#pragma once

#include <string>
#include <string_view>

#include "pm500/expected.hpp"

namespace pm500::device {

struct Ratio {
  double primary = 1;    // A or V on the primary side; for a plain ratio, the ratio itself
  double secondary = 1;  // A or V on the meter side; 1 for a plain ratio
  bool pair = false;     // written as "primary:secondary" (so primary and secondary are known)

  double value() const { return primary / secondary; }
  bool identity() const { return value() == 1.0; }
  // "400:5" or "80" (as written, trailing zeros dropped).
  std::string str() const;
};

// The meter stores each ratio as one REAL in 1.0 .. 9999.0 (manual, CT/VT ratio setup), so a
// ratio outside that range cannot be what the meter applies either.
inline constexpr double kMinRatio = 1.0;
inline constexpr double kMaxRatio = 9999.0;

// "400:5", "400/5", "80" or "" (1:1, meter wired directly). CT secondaries are 1 A or 5 A: the
// PowerMonitor 500 has 1 A / 5 A current inputs.
pm500::expected<Ratio, std::string> parse_ct(std::string_view text);
// "480:120", "4" or "" (1:1, no PT: voltage inputs wired directly).
pm500::expected<Ratio, std::string> parse_pt(std::string_view text);

}  // namespace pm500::device
