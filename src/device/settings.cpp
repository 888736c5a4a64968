#include "device/settings.hpp"

#include <array>
#include <cmath>
#include <utility>

namespace pm500::device {

namespace {
constexpr std::array<std::pair<std::string_view, Wiring>, 6> kWirings{{
    {"3PN", Wiring::three_phase_4wire},
    {"3P", Wiring::three_phase_3wire},
    {"3P1", Wiring::three_phase_1ct},
    {"3P2", Wiring::three_phase_2ct},
    {"2P", Wiring::two_phase},
    {"1P", Wiring::single_phase},
}};
}  // namespace

pm500::expected<Wiring, std::string> parse_wiring(std::string_view text) {
  for (const auto& [name, w] : kWirings)
    if (name == text) return w;
  return pm500::unexpected("wiring \"" + std::string(text) + "\" is not one of 3PN, 3P, 3P1, 3P2, 2P, 1P");
}

std::string_view to_string(Wiring w) {
  for (const auto& [name, v] : kWirings)
    if (v == w) return name;
  return "?";
}

pm500::expected<AppliedBy, std::string> parse_applied_by(std::string_view text) {
  if (text == "meter") return AppliedBy::meter;
  if (text == "gateway") return AppliedBy::gateway;
  return pm500::unexpected("ratios_applied_by \"" + std::string(text) + "\" is not \"meter\" or \"gateway\"");
}

std::string_view to_string(AppliedBy a) {
  return a == AppliedBy::meter ? "meter" : "gateway";
}

int phase_count(Wiring w) {
  switch (w) {
    case Wiring::two_phase:
      return 2;
    case Wiring::single_phase:
      return 1;
    default:
      return 3;
  }
}

bool has_neutral(Wiring w) {
  return w == Wiring::three_phase_4wire || w == Wiring::two_phase || w == Wiring::single_phase;
}

double DeviceSettings::nominal_ln() const {
  switch (wiring) {
    case Wiring::three_phase_4wire:
      return nominal_voltage / std::sqrt(3.0);
    case Wiring::two_phase:
      return nominal_voltage / 2.0;  // split phase: 240 V L1-L2, 120 V L-N
    case Wiring::single_phase:
      return nominal_voltage;
    default:
      return 0;
  }
}

pm500::expected<DeviceSettings, std::string> make_settings(std::string name, std::string_view ct, std::string_view pt,
                                                           std::string_view applied_by, double nominal_voltage,
                                                           std::string_view wiring) {
  DeviceSettings s;
  s.name = std::move(name);
  auto c = parse_ct(ct);
  if (!c) return pm500::unexpected(c.error());
  s.ct = *c;
  auto p = parse_pt(pt);
  if (!p) return pm500::unexpected(p.error());
  s.pt = *p;
  auto a = parse_applied_by(applied_by);
  if (!a) return pm500::unexpected(a.error());
  s.applied_by = *a;
  auto w = parse_wiring(wiring);
  if (!w) return pm500::unexpected(w.error());
  s.wiring = *w;
  if (!(nominal_voltage >= 0) || !std::isfinite(nominal_voltage))
    return pm500::unexpected(std::string("nominal_voltage must be 0 (unknown) or a positive voltage"));
  s.nominal_voltage = nominal_voltage;
  return s;
}

}  // namespace pm500::device
