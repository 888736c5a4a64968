#include "device/feeder_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <complex>
#include <limits>
#include <numbers>

#include "device/decode.hpp"
#include "device/scaling.hpp"

namespace pm500::device {

namespace {

constexpr double kPi = std::numbers::pi;

std::uint64_t splitmix(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double unit_from_bits(std::uint64_t b) {
  return static_cast<double>(b >> 11) * 0x1.0p-53;
}

// Phase angle of each conductor's voltage: 3-phase 0/-120/+120 degrees, split phase 0/180.
double angle(int phases, int k) {
  if (phases == 2) return k == 0 ? 0.0 : kPi;
  return -2.0 * kPi / 3.0 * k;
}

int phase_index(Phase p) {
  switch (p) {
    case Phase::l1:
      return 0;
    case Phase::l2:
      return 1;
    case Phase::l3:
      return 2;
    default:
      return -1;
  }
}

}  // namespace

std::uint64_t FeederModel::Rng::next() {
  // xoshiro256**: fast and with a fixed, portable sequence for a given seed.
  const std::uint64_t result = std::rotl(s[1] * 5, 7) * 9;
  const std::uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = std::rotl(s[3], 45);
  return result;
}

double FeederModel::Rng::uniform() {
  return unit_from_bits(next());
}

double FeederModel::Rng::normal() {
  // Box-Muller; clamped so that a "healthy" model never produces a 6-sigma outlier that a
  // plausibility test would (rightly) flag.
  const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
  return std::clamp(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2), -4.0, 4.0);
}

FeederModel::FeederModel(const Profile& profile, FeederSettings settings, std::uint64_t seed)
    : profile_(profile), settings_(std::move(settings)), seed_(seed) {
  std::uint64_t x = seed;
  for (auto& w : rng_.s) w = splitmix(x);
  if (settings_.device.nominal_voltage <= 0) settings_.device.nominal_voltage = 480;
  if (settings_.load_a <= 0) settings_.load_a = 0.5 * settings_.device.ct_primary_a();
  settings_.power_factor = std::clamp(settings_.power_factor, 0.05, 1.0);
  phases_ = phase_count(settings_.device.wiring);
  import_wh_[0] = settings_.initial_import_kwh * 1e3;
  for (int k = 1; k <= phases_; ++k) import_wh_[static_cast<std::size_t>(k)] = import_wh_[0] / phases_;
  export_wh_[0] = import_wh_[0] * 0.001;
  import_varh_[0] = import_wh_[0] * 0.4;
  export_varh_[0] = import_wh_[0] * 0.002;
  apparent_vah_ = import_wh_[0] * 1.1;
  hours_ = settings_.initial_hours;
  partial_base_import_wh_ = import_wh_[0];
  partial_base_export_wh_ = export_wh_[0];
  partial_base_import_varh_ = import_varh_[0];
  partial_base_export_varh_ = export_varh_[0];
  partial_base_vah_ = apparent_vah_;
  partial_base_hours_ = hours_;
  for (const auto& a : profile_.assemblies)
    if (a.role == Role::maximum || a.role == Role::demand)
      for (const auto& e : a.elements) used_[slot(e.kind, e.phase)] = true;
  measure();
  for (std::size_t i = 0; i < kSlots; ++i) {
    if (!used_[i]) continue;
    max_[i] = demand_[i] = instant(static_cast<Quantity>(i / 10), static_cast<Phase>(i % 10));
  }
}

void FeederModel::measure() {
  const auto& d = settings_.device;
  const double t = started_ ? static_cast<double>(last_ns_ - start_ns_) * 1e-9 : 0.0;
  const double vln_nom = d.wiring == Wiring::single_phase ? d.nominal_voltage
                         : d.wiring == Wiring::two_phase  ? d.nominal_voltage / 2.0
                                                          : d.nominal_voltage / std::sqrt(3.0);
  const double load =
      settings_.load_a * (1.0 + settings_.load_swing * std::sin(2.0 * kPi * t / settings_.load_period_s));
  const double phi0 = std::acos(settings_.power_factor);
  const double n = settings_.noise;
  // Fixed per-phase unbalance pattern (+u, -u, +u/2), so the spread does not jitter.
  const std::array<double, 3> unbal{1.0 + settings_.unbalance, 1.0 - settings_.unbalance,
                                    1.0 + settings_.unbalance / 2};
  std::complex<double> in{0, 0};
  std::array<std::complex<double>, 3> vph{};
  for (int k = 0; k < 3; ++k) {
    const auto ku = static_cast<std::size_t>(k);
    if (k >= phases_) {
      v_ln_[ku] = i_[ku] = p_[ku] = q_[ku] = s_[ku] = pf_[ku] = 0;
      continue;
    }
    // Voltages are stiffer than loads: a third of the current unbalance.
    double v = vln_nom * (1.0 + 0.3 * (unbal[ku] - 1.0)) * (1.0 + n * rng_.normal());
    if (settings_.faults.lost_phase == k + 1) v = 0;
    const double i = std::max(0.0, load * unbal[ku] * (1.0 + n * rng_.normal()));
    const double phi = phi0 + n * rng_.normal();
    v_ln_[ku] = v;
    i_[ku] = i;
    s_[ku] = v * i;
    p_[ku] = s_[ku] * std::cos(phi);
    q_[ku] = s_[ku] * std::sin(phi);
    pf_[ku] = s_[ku] > 0 ? p_[ku] / s_[ku] : 1.0;
    vph[ku] = std::polar(v, angle(phases_, k));
    in += std::polar(i, angle(phases_, k) - phi);
  }
  i_n_ = phases_ == 1 ? i_[0] : std::abs(in);
  // Line-to-line magnitudes from the phasors: L1-L2, L2-L3, L3-L1.
  v_ll_[0] = phases_ >= 2 ? std::abs(vph[0] - vph[1]) : 0;
  v_ll_[1] = phases_ == 3 ? std::abs(vph[1] - vph[2]) : 0;
  v_ll_[2] = phases_ == 3 ? std::abs(vph[2] - vph[0]) : 0;
  f_ = settings_.frequency_hz + 0.01 * rng_.normal() + 0.02 * std::sin(2.0 * kPi * t / 97.0);
}

double FeederModel::instant(Quantity k, Phase p) const {
  const int idx = phase_index(p);
  const auto ui = static_cast<std::size_t>(idx < 0 ? 0 : idx);
  auto sum = [&](const std::array<double, 3>& a) { return a[0] + a[1] + a[2]; };
  auto avg = [&](const std::array<double, 3>& a, int n) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += a[static_cast<std::size_t>(i)];
    return n > 0 ? s / n : 0.0;
  };
  const int lines = phases_ == 3 ? 3 : phases_ == 2 ? 1 : 0;
  switch (k) {
    case Quantity::voltage_ln:
      return p == Phase::average ? avg(v_ln_, phases_) : idx >= 0 ? v_ln_[ui] : 0;
    case Quantity::voltage_ll:
      if (p == Phase::average) return avg(v_ll_, lines);
      return p == Phase::l1_l2 ? v_ll_[0] : p == Phase::l2_l3 ? v_ll_[1] : p == Phase::l3_l1 ? v_ll_[2] : 0;
    case Quantity::current:
      if (p == Phase::n) return i_n_;
      return p == Phase::average ? avg(i_, phases_) : idx >= 0 ? i_[ui] : 0;
    case Quantity::active_power:
      return p == Phase::total ? sum(p_) : idx >= 0 ? p_[ui] : 0;
    case Quantity::reactive_power:
      return p == Phase::total ? sum(q_) : idx >= 0 ? q_[ui] : 0;
    case Quantity::apparent_power:
      return p == Phase::total ? sum(s_) : idx >= 0 ? s_[ui] : 0;
    case Quantity::power_factor:
      if (p == Phase::total) return sum(s_) > 0 ? sum(p_) / sum(s_) : 1.0;
      return idx >= 0 ? pf_[ui] : 0;
    case Quantity::frequency:
      return f_;
    default:
      return 0;
  }
}

void FeederModel::step(std::int64_t now_ns) {
  if (!started_) {
    started_ = true;
    start_ns_ = last_ns_ = now_ns;
    measure();
    ++steps_;
    return;
  }
  if (now_ns <= last_ns_) return;
  const double dt = static_cast<double>(now_ns - last_ns_) * 1e-9;
  const double h = dt / 3600.0;
  // Counters integrate the power measured over the interval that just ended.
  const double sign = settings_.faults.energy_backwards ? -1.0 : 1.0;
  auto add = [&](double& c, double v) { c = std::max(0.0, c + sign * v); };
  for (int k = 0; k < 3; ++k) {
    const auto ku = static_cast<std::size_t>(k);
    add(p_[ku] >= 0 ? import_wh_[ku + 1] : export_wh_[ku + 1], std::abs(p_[ku]) * h);
    add(q_[ku] >= 0 ? import_varh_[ku + 1] : export_varh_[ku + 1], std::abs(q_[ku]) * h);
  }
  const double pt = p_[0] + p_[1] + p_[2], qt = q_[0] + q_[1] + q_[2];
  add(pt >= 0 ? import_wh_[0] : export_wh_[0], std::abs(pt) * h);
  add(qt >= 0 ? import_varh_[0] : export_varh_[0], std::abs(qt) * h);
  add(apparent_vah_, (s_[0] + s_[1] + s_[2]) * h);
  if (i_[0] + i_[1] + i_[2] > 0) hours_ += h;

  last_ns_ = now_ns;
  ++steps_;
  measure();
  // Demand: exponential average over the demand interval (the meter uses sliding or fixed
  // blocks; the model only needs values that lag the real-time ones plausibly).
  const double alpha = 1.0 - std::exp(-dt / std::max(1.0, settings_.demand_interval_s));
  for (std::size_t i = 0; i < kSlots; ++i) {
    if (!used_[i]) continue;
    const double v = instant(static_cast<Quantity>(i / 10), static_cast<Phase>(i % 10));
    max_[i] = std::max(max_[i], v);
    demand_[i] += alpha * (v - demand_[i]);
  }
}

double FeederModel::energy(const Element& e) const {
  const int idx = phase_index(e.phase);
  const std::size_t c = idx < 0 ? 0 : static_cast<std::size_t>(idx + 1);
  const bool imp = e.direction != Direction::export_;
  double v = 0, base = 0;
  switch (e.kind) {
    case Quantity::active_energy:
      v = imp ? import_wh_[c] : export_wh_[c];
      base = imp ? partial_base_import_wh_ : partial_base_export_wh_;
      break;
    case Quantity::reactive_energy:
      v = imp ? import_varh_[c] : export_varh_[c];
      base = imp ? partial_base_import_varh_ : partial_base_export_varh_;
      break;
    case Quantity::apparent_energy:
      v = apparent_vah_;
      base = partial_base_vah_;
      break;
    case Quantity::counter:
      v = hours_;
      base = partial_base_hours_;
      break;
    default:
      return 0;
  }
  // Partial counters start at zero when the model starts (as after an operator reset); only
  // the totals have partial counterparts here.
  return e.partial && c == 0 ? std::max(0.0, v - base) : v;
}

double FeederModel::true_si(const Assembly& a, const Element& e, std::size_t index) const {
  switch (e.kind) {
    case Quantity::active_energy:
    case Quantity::reactive_energy:
    case Quantity::apparent_energy:
    case Quantity::counter:
      return energy(e);
    case Quantity::info: {
      std::size_t n = 0;
      for (std::size_t i = 0; i < index; ++i) n += a.elements[i].kind == Quantity::info;
      return n < settings_.info_words.size() ? settings_.info_words[n] : 0;
    }
    case Quantity::bit_field: {
      std::size_t n = 0;
      for (std::size_t i = 0; i < index; ++i) n += a.elements[i].kind == Quantity::bit_field;
      return n < settings_.bit_fields.size() ? settings_.bit_fields[n] : 0;
    }
    case Quantity::indicator:
      return 0;  // phase sequence L1-L2-L3
    default:
      break;
  }
  if (a.role == Role::maximum) return max_[slot(e.kind, e.phase)];
  if (a.role == Role::demand) return demand_[slot(e.kind, e.phase)];
  return instant(e.kind, e.phase);
}

double FeederModel::wire_value(const Assembly& a, const Element& e, std::size_t index) const {
  const Faults& f = settings_.faults;
  const auto& d = settings_.device;
  double si = true_si(a, e, index);
  const bool realtime = a.role == Role::realtime;
  if (realtime) {
    // Faults that a wrong profile or a broken meter would produce, in SI before units.
    auto si_of = [&](Quantity k, Phase p) { return instant(k, p); };
    if (e.kind == Quantity::active_power && f.power_exceeds_apparent) {
      si = (e.phase == Phase::total) ? 1.4 * si_of(Quantity::apparent_power, Phase::total)
                                     : 1.4 * si_of(Quantity::apparent_power, e.phase);
    }
    if (e.kind == Quantity::apparent_power && f.apparent_mismatch) si *= 2.0;
    if (e.kind == Quantity::power_factor && f.pf_swapped) {
      const double s = si_of(Quantity::apparent_power, e.phase);
      si = s > 0 ? si_of(Quantity::reactive_power, e.phase) / s : 0;
    }
    if (f.total_mismatch && e.phase == Phase::total &&
        (e.kind == Quantity::active_power || e.kind == Quantity::reactive_power || e.kind == Quantity::apparent_power))
      si -= si_of(e.kind, Phase::l3);
    if (e.kind == Quantity::power_factor && e.phase == Phase::l1 && f.pf_above_one) si = 1.3;
    if (e.kind == Quantity::frequency && f.frequency_hz != 0) si = f.frequency_hz;
    if (f.nan_values && ((e.kind == Quantity::voltage_ln && e.phase == Phase::l2) ||
                         (e.kind == Quantity::active_power && e.phase == Phase::l1)))
      return std::numeric_limits<double>::quiet_NaN();
  }
  double v = si / e.si;
  // With ratios_applied_by = gateway the meter has no ratios configured: it reports secondary values.
  if (d.applied_by == AppliedBy::gateway) v /= ratio_factor(e.kind, d.ct, d.pt);
  const RatioUse use = ratio_use(e.kind);
  const bool uses_ct = use == RatioUse::ct || use == RatioUse::ct_pt;
  const bool uses_pt = use == RatioUse::pt || use == RatioUse::ct_pt;
  if (uses_ct && f.ct_applied_twice) v *= d.ct.value();
  if (uses_ct && f.ct_missing) v /= d.ct.value();
  if (uses_pt && f.pt_applied_twice) v *= d.pt.value();
  if (uses_pt && f.pt_missing) v /= d.pt.value();
  // Small independent noise per element, as a meter whose quantities come from slightly
  // different integration windows; counters and words carry none.
  const bool measured = e.kind != Quantity::info && e.kind != Quantity::bit_field && e.kind != Quantity::indicator &&
                        a.role != Role::energy && e.kind != Quantity::counter;
  if (measured && settings_.noise > 0) {
    std::uint64_t x =
        seed_ ^ (steps_ * 0x100000001B3ull) ^ (static_cast<std::uint64_t>(a.instance) << 40) ^ (index << 32);
    const double u = unit_from_bits(splitmix(x)) + unit_from_bits(splitmix(x)) - 1.0;  // triangular, |u| < 1
    v *= 1.0 + 0.25 * settings_.noise * u;
  }
  return v;
}

double FeederModel::reported(std::uint16_t assembly, std::size_t element) const {
  const Assembly* a = profile_.assembly(assembly);
  if (!a || element >= a->elements.size()) return std::numeric_limits<double>::quiet_NaN();
  return wire_value(*a, a->elements[element], element);
}

double FeederModel::primary(std::uint16_t assembly, std::size_t element) const {
  const Assembly* a = profile_.assembly(assembly);
  if (!a || element >= a->elements.size()) return std::numeric_limits<double>::quiet_NaN();
  const Element& e = a->elements[element];
  return true_si(*a, e, element) / e.si;
}

pm500::expected<std::size_t, std::string> FeederModel::encode(std::uint16_t assembly,
                                                              std::span<std::uint8_t> out) const {
  const Assembly* a = profile_.assembly(assembly);
  if (!a)
    return pm500::unexpected("assembly " + std::to_string(assembly) + " is not in the profile " + profile_.source);
  if (out.size() < a->size_bytes)
    return pm500::unexpected("assembly " + std::to_string(assembly) + " needs " + std::to_string(a->size_bytes) +
                             " bytes, buffer has " + std::to_string(out.size()));
  for (std::size_t i = 0; i < a->elements.size(); ++i) {
    const Element& e = a->elements[i];
    detail::write_element(e.type, wire_value(*a, e, i) / e.scale, out.data() + e.offset);
  }
  return a->size_bytes;
}

}  // namespace pm500::device
