#include "device/plausibility.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>

namespace pm500::device {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kSqrt3 = 1.7320508075688772;
constexpr std::array<Phase, 3> kPhaseOf{Phase::l1, Phase::l2, Phase::l3};
constexpr std::array<Phase, 3> kLineOf{Phase::l1_l2, Phase::l2_l3, Phase::l3_l1};

constexpr std::uint32_t bit(Quantity q) {
  return 1u << static_cast<unsigned>(q);
}

double ratio_of(double a, double b) {
  return b > 0 ? a / b : 0;
}

bool near(double x, double target, double tol) {
  return target > 0 && std::abs(x / target - 1.0) <= tol;
}

// The text of the finding being raised, formatted by say()/evidence() and copied into the
// device's store by update(): one pair per thread (checks run on the scanner thread), not one
// per device.
thread_local std::array<char, 384> t_message{};
thread_local std::array<char, 256> t_evidence{};

bool is_counter(Quantity q) {
  return q == Quantity::active_energy || q == Quantity::reactive_energy || q == Quantity::apparent_energy ||
         q == Quantity::counter;
}

// Iterates the set bits of `mask` (element indices) in increasing order.
template <class F>
void for_each_bit(std::uint32_t mask, F&& f) {
  while (mask) {
    const auto i = static_cast<std::size_t>(__builtin_ctz(mask));
    mask &= mask - 1;
    if (!f(i)) return;
  }
}

// Bits of the elements the sample carries (the first min(count, elements) values).
[[gnu::always_inline]] inline std::uint32_t below(const pm500::Sample& s, const Assembly& a) {
  const std::size_t n = std::min<std::size_t>({s.count, a.elements.size(), kMaxSampleValues});
  return n >= 32 ? ~0u : (1u << n) - 1;
}

// "40x" for big factors, "1.7x" for small ones: an electrician reads "40x" faster than 39.87.
const char* times(double f, char* buf, std::size_t n) {
  std::snprintf(buf, n, f >= 10 ? "%.0fx" : "%.1fx", f);
  return buf;
}

}  // namespace

std::string_view to_string(FindingKind k) {
  switch (k) {
    case FindingKind::voltage_vs_nominal:
      return "voltage_vs_nominal";
    case FindingKind::current_vs_ct:
      return "current_vs_ct";
    case FindingKind::apparent_vs_vi:
      return "apparent_vs_vi";
    case FindingKind::power_triangle:
      return "power_triangle";
    case FindingKind::power_factor_vs_ps:
      return "power_factor_vs_ps";
    case FindingKind::phase_sum:
      return "phase_sum";
    case FindingKind::non_finite:
      return "non_finite";
    case FindingKind::power_factor_range:
      return "power_factor_range";
    case FindingKind::frequency_range:
      return "frequency_range";
    case FindingKind::energy_backwards:
      return "energy_backwards";
  }
  return "?";
}

bool affects(FindingKind k, Quantity q) {
  using Q = Quantity;
  const bool voltage = q == Q::voltage_ln || q == Q::voltage_ll;
  const bool power = q == Q::active_power || q == Q::reactive_power || q == Q::apparent_power;
  const bool energy = q == Q::active_energy || q == Q::reactive_energy || q == Q::apparent_energy;
  switch (k) {
    case FindingKind::voltage_vs_nominal:
      return voltage || power || energy;
    case FindingKind::current_vs_ct:
      return q == Q::current || power || energy;
    case FindingKind::apparent_vs_vi:
      return voltage || q == Q::current || q == Q::apparent_power;
    case FindingKind::power_triangle:
    case FindingKind::phase_sum:
      return power;
    case FindingKind::power_factor_vs_ps:
      return power || q == Q::power_factor;
    case FindingKind::non_finite:
      return voltage || q == Q::current || power || energy || q == Q::power_factor || q == Q::frequency;
    case FindingKind::power_factor_range:
      return q == Q::power_factor;
    case FindingKind::frequency_range:
      return q == Q::frequency;
    case FindingKind::energy_backwards:
      return energy;
  }
  return false;
}

Plausibility::Plausibility(const Profile& profile, DeviceSettings settings, Thresholds thresholds,
                           FindingListener* listener)
    : profile_(profile),
      settings_(std::move(settings)),
      thresholds_(thresholds),
      listener_(listener),
      phases_(phase_count(settings_.wiring)),
      wye_(has_neutral(settings_.wiring)) {
  thresholds_.raise_after = std::max<std::uint16_t>(thresholds_.raise_after, 1);
  thresholds_.clear_after = std::max<std::uint16_t>(thresholds_.clear_after, 1);
  latest_.fill(kNaN);
  std::size_t views = 0;
  for (std::size_t a = 0; a < kAssemblySlots; ++a) {
    view_of_[a] = views;
    views += profile_.assemblies[a].present() ? profile_.assemblies[a].part_count() : 0;
  }
  plan_.resize(views);
  kinds_in_.resize(views);
  for (auto& c : counters_) c.resize(views);
  for (std::size_t a = 0; a < kAssemblySlots; ++a) {
    const Assembly& whole = profile_.assemblies[a];
    for (std::size_t p = 0; whole.present() && p < whole.part_count(); ++p) {
      const Assembly& as = *whole.part(p);
      const std::size_t v = view_of_[a] + p;
      Plan& plan = plan_[v];
      const std::size_t n = std::min(as.elements.size(), kMaxSampleValues);
      for (std::size_t i = 0; i < n; ++i) {
        const Element& e = as.elements[i];
        const std::uint32_t b = 1u << i;
        plan.latest_slot[i] = static_cast<std::uint8_t>(slot(e.kind, e.phase));
        if (e.kind == Quantity::power_factor) plan.power_factor |= b;
        if (e.kind == Quantity::frequency) plan.frequency |= b;
        if (is_counter(e.kind)) plan.counters |= b;
      }
      if (as.role == Role::energy) {
        plan.energy = static_cast<std::uint16_t>(energy_.size());
        energy_.emplace_back();
      }
      if (as.role != Role::realtime) continue;
      for (const auto& e : as.elements) kinds_in_[v] |= bit(e.kind);
    }
  }
}

void Plausibility::say(const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(t_message.data(), t_message.size(), fmt, ap);
  va_end(ap);
}

void Plausibility::evidence(const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(t_evidence.data(), t_evidence.size(), fmt, ap);
  va_end(ap);
}

double Plausibility::get(Quantity k, Phase p) const {
  const std::size_t i = slot(k, p);
  if (latest_ns_[i] < now_ns_ - thresholds_.max_skew_ns) return kNaN;
  return latest_[i];
}

double Plausibility::i_floor() const {
  return thresholds_.min_current_fraction * settings_.ct_primary_a();
}

double Plausibility::s_floor() const {
  double v = settings_.nominal_ln();
  if (!(v > 0)) {
    v = get(Quantity::voltage_ln, Phase::average);
    if (!(v > 0)) v = get(Quantity::voltage_ll, Phase::average) / kSqrt3;
  }
  if (!(v > 0)) v = 100;
  return i_floor() * v;
}

// Mirrors update(): a bad verdict now would make this the raising sample (the counter reaches
// raise_after and no other assembly has raised the kind already).
bool Plausibility::raise_due(FindingKind k, std::size_t a) const noexcept {
  const auto ki = static_cast<std::size_t>(k);
  const Counter& c = counters_[ki][a];
  // The counter first: on a healthy device it is far below raise_after and decides alone.
  return c.bad + 1 >= thresholds_.raise_after && !c.active && active_slots_[ki] == 0;
}

template <class Check>
void Plausibility::judge(FindingKind k, std::size_t a, Check&& run) noexcept {
  describe_ = raise_due(k, a);
  if (describe_) {  // the evidence is formatted only where the check finds something
    t_message[0] = 0;
    t_evidence[0] = 0;
  }
  const Verdict v = run();
  describe_ = false;
  // The common case, a good verdict with no finding pending, only resets the counter.
  if (v == Verdict::good) {
    Counter& c = counters_[static_cast<std::size_t>(k)][a];
    if (!c.active) {
      c.bad = 0;
      return;
    }
  }
  update(k, a, v);
}

void Plausibility::update(FindingKind k, std::size_t a, Verdict v) noexcept {
  if (v == Verdict::skip) return;
  const auto ki = static_cast<std::size_t>(k);
  Counter& c = counters_[ki][a];
  if (v == Verdict::bad) {
    c.good = 0;
    if (c.bad < std::numeric_limits<std::uint16_t>::max()) ++c.bad;
    if (c.active || c.bad < thresholds_.raise_after) return;
    c.active = true;
    if (active_slots_[ki]++ > 0) return;  // already raised through another assembly
    {
      std::lock_guard lock(mutex_);
      if (!texts_) texts_ = std::make_unique<std::array<Text, kFindingKinds>>();  // once per device
      Text& t = (*texts_)[ki];
      t.message = t_message;
      t.evidence = t_evidence;
      t.since_ns = now_ns_;
      active_[ki].store(true, std::memory_order_relaxed);
    }
    active_count_.fetch_add(1, std::memory_order_relaxed);
    if (listener_) listener_->raise(k, settings_.name, t_message.data(), t_evidence.data());
    return;
  }
  c.bad = 0;
  if (!c.active) return;
  if (++c.good < thresholds_.clear_after) return;
  c.active = false;
  c.good = 0;
  if (--active_slots_[ki] > 0) return;
  {
    std::lock_guard lock(mutex_);
    active_[ki].store(false, std::memory_order_relaxed);
  }
  active_count_.fetch_sub(1, std::memory_order_relaxed);
  if (listener_) listener_->clear(k, settings_.name);
}

std::vector<ActiveFinding> Plausibility::snapshot() const {
  std::vector<ActiveFinding> out;
  std::lock_guard lock(mutex_);
  for (std::size_t k = 0; k < kFindingKinds; ++k) {
    if (!active_[k].load(std::memory_order_relaxed)) continue;
    const Text& t = (*texts_)[k];  // allocated before any finding became active
    out.push_back({static_cast<FindingKind>(k), settings_.name, t.message.data(), t.evidence.data(), t.since_ns});
  }
  return out;
}

void Plausibility::check(pm500::Sample& s) noexcept {
  const Assembly* a = profile_.part(s.assembly, s.part);
  if (!a) return;
  const std::size_t as = view_of_[s.assembly - kFirstAssembly] + s.part;
  const std::size_t n = std::min<std::size_t>({s.count, a->elements.size(), kMaxSampleValues});
  now_ns_ = s.source_time_ns;

  // x * 0 is 0 for a finite x and NaN for NaN or an infinity, so the sum is 0 exactly when
  // every value is finite: a multiply and an add per value, no branch, on the healthy path. A
  // real-time assembly's values are stored for the consistency checks in the same pass (and
  // stored again, non-finite ones as NaN, in the rare sample that has any).
  const Element* e = a->elements.data();
  const Plan& plan = plan_[as];
  const std::int64_t now = now_ns_;
  const std::size_t m = std::min<std::size_t>(s.count, a->elements.size());  // >= n
  double zero = 0;
  if (a->role == Role::realtime) {
#pragma GCC unroll 2
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t sl = plan.latest_slot[i];
      zero += s.values[i] * 0.0;
      latest_[sl] = s.values[i] * e[i].si;
      latest_ns_[sl] = now;
    }
    for (std::size_t i = n; i < m; ++i) zero += s.values[i] * 0.0;
  } else {
    for (std::size_t i = 0; i < m; ++i) zero += s.values[i] * 0.0;
  }
  const bool finite = zero == 0;
  if (!finite && a->role == Role::realtime) {
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(s.values[i])) latest_[plan.latest_slot[i]] = kNaN;
  }
  // Finite with nothing counted against it: a good verdict would change nothing.
  if (const Counter& c = counters_[static_cast<std::size_t>(FindingKind::non_finite)][as];
      !finite || c.bad != 0 || c.active)
    judge(FindingKind::non_finite, as, [&] { return finite ? Verdict::good : check_non_finite(*a, s); });
  judge(FindingKind::power_factor_range, as, [&] { return check_pf_range(*a, as, s); });
  if (a->role == Role::energy) judge(FindingKind::energy_backwards, as, [&] { return check_energy(*a, as, s); });

  if (a->role == Role::realtime) {
    // Each check runs when the sample carries its leading quantity, so a check is counted once
    // per arrival of that quantity even when its other inputs come from another assembly.
    const std::uint32_t in = kinds_in_[as];
    judge(FindingKind::frequency_range, as, [&] { return check_frequency(*a, as, s); });
    if (in & (bit(Quantity::voltage_ln) | bit(Quantity::voltage_ll)))
      judge(FindingKind::voltage_vs_nominal, as, [&] { return check_voltage(); });
    if (in & bit(Quantity::current)) judge(FindingKind::current_vs_ct, as, [&] { return check_current(); });
    if (in & bit(Quantity::apparent_power)) {
      judge(FindingKind::apparent_vs_vi, as, [&] { return check_apparent(); });
      judge(FindingKind::power_triangle, as, [&] { return check_triangle(); });
    }
    if (in & bit(Quantity::power_factor)) judge(FindingKind::power_factor_vs_ps, as, [&] { return check_pf(); });
    if (in & bit(Quantity::active_power)) judge(FindingKind::phase_sum, as, [&] { return check_phase_sum(); });
  }
  if (any_active()) s.flags = static_cast<std::uint16_t>(s.flags | pm500::kSampleSuspect);
}

// ---- (d) impossible values -----------------------------------------------------------------

Plausibility::Verdict Plausibility::check_non_finite(const Assembly& a, const pm500::Sample& s) noexcept {
  const std::size_t n = std::min<std::size_t>(s.count, a.elements.size());
  int bad = 0;
  std::size_t first = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(s.values[i]) && bad++ == 0) first = i;
  if (!describe_) return Verdict::bad;
  const Element& e = a.elements[first];
  say("%s: assembly %u %s is %s%s: the meter sends no number there -- profile element types or order wrong "
      "(REAL read as an integer?), or a meter fault",
      settings_.name.c_str(), a.instance, e.name.c_str(), std::isnan(s.values[first]) ? "NaN" : "infinite",
      bad > 1 ? " (and other values)" : "");
  evidence("assembly=%u element=%s seen=%g count=%d", a.instance, e.name.c_str(), s.values[first], bad);
  return Verdict::bad;
}

Plausibility::Verdict Plausibility::check_pf_range(const Assembly& a, std::size_t view, const pm500::Sample& s) noexcept {
  const std::uint32_t pf = plan_[view].power_factor & below(s, a);
  Verdict v = pf ? Verdict::good : Verdict::skip;
  for_each_bit(pf, [&](std::size_t i) {
    if (!(std::abs(s.values[i]) > thresholds_.pf_limit)) return true;
    v = Verdict::bad;
    if (describe_) {
      const Element& e = a.elements[i];
      say("%s: %s = %.3f, outside -1..1: impossible for any power factor -- profile element order or scale "
          "wrong (another quantity in the PF slot?)",
          settings_.name.c_str(), e.name.c_str(), s.values[i]);
      evidence("assembly=%u element=%s expected=-1..1 seen=%.4f", a.instance, e.name.c_str(), s.values[i]);
    }
    return false;
  });
  return v;
}

Plausibility::Verdict Plausibility::check_frequency(const Assembly& a, std::size_t view, const pm500::Sample& s) noexcept {
  std::uint32_t frequency = plan_[view].frequency & below(s, a);
  while (frequency) {
    const auto i = static_cast<std::size_t>(__builtin_ctz(frequency));
    frequency &= frequency - 1;
    const Element& e = a.elements[i];
    if (!std::isfinite(s.values[i])) continue;
    const double f = s.values[i];
    if (f >= thresholds_.frequency_min_hz && f <= thresholds_.frequency_max_hz) return Verdict::good;
    // Without voltage the meter has nothing to measure a frequency from; 0 Hz is then honest.
    double vmax = 0;
    for (int k = 0; k < 3; ++k) {
      vmax = std::max(vmax, get(Quantity::voltage_ln, kPhaseOf[static_cast<std::size_t>(k)]) * kSqrt3);
      vmax = std::max(vmax, get(Quantity::voltage_ll, kLineOf[static_cast<std::size_t>(k)]));
    }
    const double vref = settings_.nominal_voltage > 0 ? settings_.nominal_voltage : 100;
    if (!(vmax > 0.1 * vref) && f == 0) return Verdict::skip;
    if (!describe_) return Verdict::bad;
    say("%s: frequency %.2f Hz outside %.0f..%.0f Hz: no grid runs there -- profile element order wrong "
        "(another quantity in the frequency slot?) or a meter fault",
        settings_.name.c_str(), f, thresholds_.frequency_min_hz, thresholds_.frequency_max_hz);
    evidence("element=%s expected=%g..%g Hz seen=%.3f Hz", e.name.c_str(), thresholds_.frequency_min_hz,
             thresholds_.frequency_max_hz, f);
    return Verdict::bad;
  }
  return Verdict::skip;
}

Plausibility::Verdict Plausibility::check_energy(const Assembly& a, std::size_t view, const pm500::Sample& s) noexcept {
  const Plan& plan = plan_[view];
  auto& st = energy_[plan.energy];
  const bool raised = counters_[static_cast<std::size_t>(FindingKind::energy_backwards)][view].active;
  std::uint32_t counters = plan.counters & below(s, a);
  Verdict v = Verdict::skip;
  while (counters) {
    const auto i = static_cast<std::size_t>(__builtin_ctz(counters));
    counters &= counters - 1;
    const double x = s.values[i];
    if (!std::isfinite(x)) continue;
    CounterState& c = st[i];
    // Rose or held (or the first value: high starts at -inf): neither a drop nor a reset.
    if (x >= c.high) {
      c.high = x;
      if (v == Verdict::skip) v = Verdict::good;
      continue;
    }
    const Element& e = a.elements[i];
    // float32 counters never decrease when the meter's count rises; the margin only absorbs
    // a meter that rounds differently between two reads.
    const double eps = 1e-6 * std::abs(c.high);
    const bool reset = e.partial && x <= 0.01 * c.high;  // an operator reset of a partial counter
    if (x < c.high - eps && !reset) {
      if (v != Verdict::bad && describe_) {
        // A drop by exactly a ratio is a scaling change, not a meter fault: the ratio used to be
        // applied (or applied twice) and no longer is.
        const double f = x > 0 ? c.high / x : 0;
        const double kct = settings_.ct.value(), kpt = settings_.pt.value(), tol = thresholds_.ratio_match;
        char cause[160];
        if (kct > 1.5 && kpt > 1.5 && near(f, kct * kpt, tol))
          std::snprintf(cause, sizeof cause,
                        "dropped by the CT x PT ratio %g: the ratios were applied before and are not now "
                        "(scaling configuration changed?)",
                        kct * kpt);
        else if (kct > 1.5 && near(f, kct, tol))
          std::snprintf(cause, sizeof cause,
                        "dropped by the CT ratio %s: the ratio was applied before and is not now "
                        "(scaling configuration changed?)",
                        settings_.ct.str().c_str());
        else if (kpt > 1.5 && near(f, kpt, tol))
          std::snprintf(cause, sizeof cause,
                        "dropped by the PT ratio %s: the ratio was applied before and is not now "
                        "(scaling configuration changed?)",
                        settings_.pt.str().c_str());
        else
          std::snprintf(cause, sizeof cause,
                        "counters reset or meter replaced, or profile element order wrong (a "
                        "measured value read as a counter?)");
        say("%s: energy counter %s went back from %.3f to %.3f %s: %s", settings_.name.c_str(), e.name.c_str(), c.high,
            x, e.unit.c_str(), cause);
        evidence("element=%s expected>=%.3f seen=%.3f unit=%s", e.name.c_str(), c.high, x, e.unit.c_str());
      }
      v = Verdict::bad;
      // While raised, judge sample against sample so that a counter that runs normally again
      // (from its new, lower value) clears the finding.
      if (raised) c.high = x;
    } else {
      if (v == Verdict::skip) v = Verdict::good;
      c.high = reset ? x : std::max(c.high, x);
    }
  }
  return v;
}

// ---- (a) voltages --------------------------------------------------------------------------

void Plausibility::ratio_cause(char* out, std::size_t n, double f) const {
  const double kct = settings_.ct.value(), kpt = settings_.pt.value();
  const double tol = thresholds_.ratio_match;
  if (near(f, 1000, tol) || near(f, 0.001, tol))
    std::snprintf(out, n, "a unit error of 1000 (W vs kW) in the profile?");
  else if (kct > 1.5 && (near(f, kct, tol) || near(f, 1 / kct, tol)))
    std::snprintf(out, n,
                  "powers and currents disagree by the CT ratio %s: the ratio applied to one but not the other?",
                  settings_.ct.str().c_str());
  else if (kpt > 1.5 && (near(f, kpt, tol) || near(f, 1 / kpt, tol)))
    std::snprintf(out, n,
                  "powers and voltages disagree by the PT ratio %s: the ratio applied to one but not the other?",
                  settings_.pt.str().c_str());
  else
    std::snprintf(out, n,
                  "profile element order or units wrong (check the profile against the manual's Appendix A), "
                  "or a meter fault?");
}

Plausibility::Verdict Plausibility::check_voltage() noexcept {
  if (!(settings_.nominal_voltage > 0)) return Verdict::skip;
  const bool wye = wye_;
  // 4-wire systems are judged on L-N (a lost phase shows on one value), 3-wire on L-L.
  const double nominal = wye ? settings_.nominal_ln() : settings_.nominal_voltage;
  std::array<double, 3> v{kNaN, kNaN, kNaN};
  int count = 0;
  for (int k = 0; k < phases_; ++k) {
    const auto ku = static_cast<std::size_t>(k);
    double x = wye ? get(Quantity::voltage_ln, kPhaseOf[ku]) : get(Quantity::voltage_ll, kLineOf[ku]);
    if (!std::isfinite(x) && wye) x = phases_ == 3 ? get(Quantity::voltage_ll, kLineOf[ku]) / kSqrt3 : kNaN;
    if (std::isfinite(x)) {
      v[ku] = x;
      ++count;
    }
  }
  if (count == 0) return Verdict::skip;
  double sum = 0, worst = 0;
  int ok = 0, worst_k = 0;
  for (int k = 0; k < phases_; ++k) {
    const double x = v[static_cast<std::size_t>(k)];
    if (!std::isfinite(x)) continue;
    sum += x;
    const double dev = std::abs(x / nominal - 1.0);
    if (dev <= thresholds_.voltage_tolerance) ++ok;
    if (dev > worst) {
      worst = dev;
      worst_k = k;
    }
  }
  if (ok == count) return Verdict::good;
  if (!describe_) return Verdict::bad;
  const double mean = sum / count;
  const double r = mean / nominal;
  const double kpt = settings_.pt.value();
  const char* dev = settings_.name.c_str();
  const char* ref = wye ? "L-N" : "L-L";
  // Installers configure the L-L voltage; name it beside the L-N value that is compared.
  char nom[64];
  if (settings_.wiring == Wiring::three_phase_4wire)
    std::snprintf(nom, sizeof nom, "%.0f V L-N (%.0f V L-L)", nominal, settings_.nominal_voltage);
  else if (settings_.wiring == Wiring::two_phase)
    std::snprintf(nom, sizeof nom, "%.0f V L-N (%.0f V L1-L2)", nominal, settings_.nominal_voltage);
  else
    std::snprintf(nom, sizeof nom, "%.0f V %s", nominal, ref);
  const bool gw = settings_.applied_by == AppliedBy::gateway;
  const std::string pt = settings_.pt.str();
  char f[16];
  evidence("quantity=voltage_%s expected=%.1f V seen=%.1f V factor=%.3f pt=%s applied_by=%s wiring=%s",
           wye ? "ln" : "ll", nominal, mean, r, pt.c_str(), gw ? "gateway" : "meter",
           std::string(to_string(settings_.wiring)).c_str());
  if (mean < 0.1 * nominal) {
    say("%s: no voltage on the meter inputs (%.0f V %s, nominal %.0f V): feeder de-energised, VT fuses blown, or "
        "voltage inputs disconnected?",
        dev, mean, ref, nominal);
  } else if (kpt >= 1.5 && near(r, kpt, thresholds_.ratio_match)) {
    if (gw)
      say("%s: voltages %s above nominal %s (seen %.0f V): PT ratio %s applied by both meter and gateway?", dev,
          times(r, f, sizeof f), nom, mean, pt.c_str());
    else
      say("%s: voltages %s above nominal %s (seen %.0f V): PT ratio %s applied twice (the meter's VT ratio "
          "must be %g)?",
          dev, times(r, f, sizeof f), nom, mean, pt.c_str(), kpt);
  } else if (kpt >= 1.5 && near(r * kpt, 1.0, thresholds_.ratio_match)) {
    if (gw)
      say("%s: voltages %s below nominal %s (seen %.0f V): PT ratio %s missing although the gateway applies "
          "it -- is the meter set to a VT ratio below 1 or the PT different?",
          dev, times(1 / r, f, sizeof f), nom, mean, pt.c_str());
    else
      say("%s: voltages %s below nominal %s (seen %.0f V, PT secondary volts): PT ratio %s not applied -- set "
          "the VT ratio %g on the meter, or ratios_applied_by = \"gateway\"?",
          dev, times(1 / r, f, sizeof f), nom, mean, pt.c_str(), kpt);
  } else if (wye && near(r, kSqrt3, 0.05)) {
    say("%s: voltages %s nominal (seen %.0f V L-N for %.0f V L-L nominal): is nominal_voltage the line-to-neutral "
        "value? It must be line-to-line (%.0f V), or the wiring is not %s",
        dev, times(r, f, sizeof f), mean, settings_.nominal_voltage, mean * kSqrt3,
        std::string(to_string(settings_.wiring)).c_str());
  } else if (ok > 0) {
    const double x = v[static_cast<std::size_t>(worst_k)];
    const char* ph = wye ? (worst_k == 0   ? "L1"
                            : worst_k == 1 ? "L2"
                                           : "L3")
                         : (worst_k == 0   ? "L1-L2"
                            : worst_k == 1 ? "L2-L3"
                                           : "L3-L1");
    say("%s: voltage %s at %.0f V, %.0f%% of nominal %s, while other phases are normal: blown VT fuse or loose "
        "voltage connection on %s?",
        dev, ph, x, 100 * x / nominal, nom, ph);
    evidence("quantity=voltage_%s phase=%s expected=%.1f V seen=%.1f V pt=%s", wye ? "ln" : "ll", ph, nominal, x,
             pt.c_str());
  } else {
    say("%s: voltages %.0f%% of nominal %s (seen %.0f V): nominal_voltage, wiring %s, or PT ratio %s "
        "configured wrong?",
        dev, 100 * r, nom, mean, std::string(to_string(settings_.wiring)).c_str(), pt.c_str());
  }
  return Verdict::bad;
}

// ---- (b) currents --------------------------------------------------------------------------

Plausibility::Verdict Plausibility::check_current() noexcept {
  double imax = -1;
  int kmax = 0;
  for (int k = 0; k < phases_; ++k) {
    const double x = get(Quantity::current, kPhaseOf[static_cast<std::size_t>(k)]);
    if (std::isfinite(x) && x > imax) {
      imax = x;
      kmax = k;
    }
  }
  if (imax < 0) return Verdict::skip;
  const double ip = settings_.ct_primary_a();
  const double kct = settings_.ct.value();
  const double limit = thresholds_.current_limit * ip;
  const double isec = ip / kct;
  // Within the 5 A secondary range: a 400:5 CT carrying real load reads tens to hundreds of
  // amps; all phases staying this low means the readings are secondary amps (or the feeder idles).
  const bool secondary_amps = imax <= limit && thresholds_.detect_missing_ct &&
                              kct >= thresholds_.missing_ct_min_ratio && imax > 0.02 * isec &&
                              imax <= thresholds_.current_limit * isec;
  if (imax <= limit && !secondary_amps) return Verdict::good;
  if (!describe_) return Verdict::bad;
  const bool gw = settings_.applied_by == AppliedBy::gateway;
  const std::string ct = settings_.ct.str();
  const char* dev = settings_.name.c_str();
  const char* ph = kmax == 0 ? "L1" : kmax == 1 ? "L2" : "L3";
  if (imax > limit) {
    const char* assumed = settings_.ct.pair ? "" : " (assuming a 5 A secondary; write ct = \"primary:secondary\")";
    char f[16];
    evidence("quantity=current phase=%s expected<=%.1f A seen=%.1f A ct_primary=%.1f A ct=%s applied_by=%s", ph, limit,
             imax, ip, ct.c_str(), gw ? "gateway" : "meter");
    const double r = imax / ip;
    // Applied twice: far beyond any sustained overload (3x), and divided by the ratio it is a
    // load between 10 % and the limit. A smaller excess is an overload or a smaller CT.
    if (kct >= 2 && r >= 3 && imax / kct <= limit && imax / kct >= 0.1 * ip) {
      if (gw)
        say("%s: currents %s above CT primary %.0f A (seen %.0f A)%s: CT ratio %s applied by both meter and gateway?",
            dev, times(r, f, sizeof f), ip, imax, assumed, ct.c_str());
      else
        say("%s: currents %s above CT primary %.0f A (seen %.0f A)%s: CT ratio %s applied twice (the meter's CT ratio "
            "must be %g)?",
            dev, times(r, f, sizeof f), ip, imax, assumed, ct.c_str(), kct);
    } else {
      say("%s: current %s %.0f A is %s the CT primary %.0f A%s: overload, or the CT is smaller than configured "
          "(ct = \"%s\")?",
          dev, ph, imax, times(r, f, sizeof f), ip, assumed, ct.c_str());
    }
    return Verdict::bad;
  }
  say("%s: currents at most %.2f A on a %s CT (primary %.0f A): readings look like CT secondary amps -- CT ratio "
      "%s not applied%s (or the feeder is almost idle)?",
      dev, imax, ct.c_str(), ip, ct.c_str(), gw ? "" : "; set the CT ratio on the meter, or ratios_applied_by = \"gateway\"");
  evidence("quantity=current phase=%s expected>%.2f A seen=%.3f A ct_secondary=%.0f A ct=%s applied_by=%s", ph,
           thresholds_.current_limit * isec, imax, isec, ct.c_str(), gw ? "gateway" : "meter");
  return Verdict::bad;
}

// ---- (c) internal consistency --------------------------------------------------------------

Plausibility::Verdict Plausibility::check_apparent() noexcept {
  const char* dev = settings_.name.c_str();
  char cause[200];
  if (wye_) {
    Verdict v = Verdict::skip;
    double worst = 0, ws = 0, wvi = 0;
    int wk = 0;
    for (int k = 0; k < phases_; ++k) {
      const Phase p = kPhaseOf[static_cast<std::size_t>(k)];
      const double s = get(Quantity::apparent_power, p), u = get(Quantity::voltage_ln, p),
                   i = get(Quantity::current, p);
      if (!std::isfinite(s) || !std::isfinite(u) || !std::isfinite(i) || i < i_floor()) continue;
      const double vi = u * i;
      const double dev_rel = std::abs(s - vi) / std::max({std::abs(s), vi, 1e-9});
      if (v == Verdict::skip) v = Verdict::good;
      if (dev_rel > thresholds_.consistency_tolerance && dev_rel > worst) {
        worst = dev_rel;
        ws = s;
        wvi = vi;
        wk = k;
        v = Verdict::bad;
      }
    }
    if (v != Verdict::bad || !describe_) return v;
    const char* ph = wk == 0 ? "L1" : wk == 1 ? "L2" : "L3";
    ratio_cause(cause, sizeof cause, ratio_of(ws, wvi));
    say("%s: apparent power %s %.1f kVA but V x I = %.1f kVA (%.2fx, tolerance %.0f%%): %s", dev, ph, ws / 1e3,
        wvi / 1e3, ws / wvi, 100 * thresholds_.consistency_tolerance, cause);
    evidence("quantity=apparent_power phase=%s expected=%.1f VA seen=%.1f VA", ph, wvi, ws);
    return Verdict::bad;
  }
  // 3-wire: no neutral, so compare the total with sqrt(3) x V_LL x I (balanced approximation).
  const double s = get(Quantity::apparent_power, Phase::total);
  double u = 0, i = 0;
  int n = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    const double uk = get(Quantity::voltage_ll, kLineOf[k]), ik = get(Quantity::current, kPhaseOf[k]);
    if (std::isfinite(uk) && std::isfinite(ik)) {
      u += uk;
      i += ik;
      ++n;
    }
  }
  if (!std::isfinite(s) || n == 0 || i / n < i_floor()) return Verdict::skip;
  const double vi = kSqrt3 * (u / n) * (i / n);
  const double dev_rel = std::abs(s - vi) / std::max({std::abs(s), vi, 1e-9});
  if (dev_rel <= thresholds_.consistency_tolerance) return Verdict::good;
  if (!describe_) return Verdict::bad;
  ratio_cause(cause, sizeof cause, ratio_of(s, vi));
  say("%s: apparent power total %.1f kVA but sqrt(3) x V x I = %.1f kVA (%.2fx, tolerance %.0f%%): %s", dev, s / 1e3,
      vi / 1e3, s / vi, 100 * thresholds_.consistency_tolerance, cause);
  evidence("quantity=apparent_power phase=total expected=%.1f VA seen=%.1f VA", vi, s);
  return Verdict::bad;
}

Plausibility::Verdict Plausibility::check_triangle() noexcept {
  Verdict v = Verdict::skip;
  const double floor = s_floor();
  const std::array<Phase, 4> phases{Phase::l1, Phase::l2, Phase::l3, Phase::total};
  for (std::size_t k = 0; k < phases.size(); ++k) {
    const Phase p = phases[k];
    if (p != Phase::total && (!wye_ || static_cast<int>(k) >= phases_)) continue;
    const double pw = get(Quantity::active_power, p), q = get(Quantity::reactive_power, p),
                 s = get(Quantity::apparent_power, p);
    if (!std::isfinite(pw) || !std::isfinite(q) || !std::isfinite(s) || s < floor) continue;
    if (v == Verdict::skip) v = Verdict::good;
    // Compared squared (s >= floor > 0 here), so a healthy sample takes no square root;
    // sqrt(P^2 + Q^2) is computed for the text only.
    const double t2 = pw * pw + q * q;
    const double hi = s * (1 + thresholds_.consistency_tolerance), lo = s * (1 - thresholds_.distortion_tolerance);
    const bool above = t2 > hi * hi, below_lo = lo > 0 && t2 < lo * lo;
    if (!above && !below_lo) continue;
    if (!describe_) return Verdict::bad;
    const double t = std::hypot(pw, q);
    const char* ph = p == Phase::total ? "total" : k == 0 ? "L1" : k == 1 ? "L2" : "L3";
    if (above) {
      say("%s: active and reactive power exceed apparent power %s (P %.1f kW, Q %.1f kvar, S %.1f kVA; P^2 + Q^2 "
          "must not exceed S^2): impossible for a real load -- profile element order or units wrong, or a meter fault?",
          settings_.name.c_str(), ph, pw / 1e3, q / 1e3, s / 1e3);
      evidence("quantity=power_triangle phase=%s expected<=%.1f VA seen=%.1f VA p=%.1f q=%.1f", ph, s, t, pw, q);
      return Verdict::bad;
    }
    say("%s: apparent power %s %.1f kVA but sqrt(P^2 + Q^2) = %.1f kVA: apparent power does not fit P and Q -- "
        "profile element order or units wrong, or extreme harmonic distortion?",
        settings_.name.c_str(), ph, s / 1e3, t / 1e3);
    evidence("quantity=power_triangle phase=%s expected=%.1f VA seen=%.1f VA p=%.1f q=%.1f", ph, t, s, pw, q);
    return Verdict::bad;
  }
  return v;
}

Plausibility::Verdict Plausibility::check_pf() noexcept {
  Verdict v = Verdict::skip;
  const double floor = s_floor();
  const std::array<Phase, 4> phases{Phase::l1, Phase::l2, Phase::l3, Phase::total};
  for (std::size_t k = 0; k < phases.size(); ++k) {
    const Phase p = phases[k];
    if (p != Phase::total && (!wye_ || static_cast<int>(k) >= phases_)) continue;
    const double pf = get(Quantity::power_factor, p), pw = get(Quantity::active_power, p),
                 s = get(Quantity::apparent_power, p);
    if (!std::isfinite(pf) || !std::isfinite(pw) || !std::isfinite(s) || s < floor) continue;
    if (v == Verdict::skip) v = Verdict::good;
    const double expect = std::abs(pw) / s;
    // Sign conventions for PF differ between meters (import/export, lead/lag), so magnitudes.
    if (std::abs(std::abs(pf) - expect) > thresholds_.pf_tolerance) {
      if (!describe_) return Verdict::bad;
      const char* ph = p == Phase::total ? "total" : k == 0 ? "L1" : k == 1 ? "L2" : "L3";
      say("%s: power factor %s is %.3f but P / S = %.3f (P %.1f kW, S %.1f kVA): profile element order wrong "
          "(another quantity in the PF slot?) or inconsistent powers",
          settings_.name.c_str(), ph, pf, expect, pw / 1e3, s / 1e3);
      evidence("quantity=power_factor phase=%s expected=%.3f seen=%.3f", ph, expect, pf);
      return Verdict::bad;
    }
  }
  return v;
}

Plausibility::Verdict Plausibility::check_phase_sum() noexcept {
  if (!wye_) return Verdict::skip;  // 3-wire meters need not report meaningful phases
  const double floor = s_floor();
  Verdict v = Verdict::skip;
  const std::array<Quantity, 2> kinds{Quantity::active_power, Quantity::reactive_power};
  double ssum = 0;
  for (int k = 0; k < phases_; ++k)
    ssum += std::abs(get(Quantity::apparent_power, kPhaseOf[static_cast<std::size_t>(k)]));
  if (!(ssum >= floor)) return Verdict::skip;  // light load (or S unknown): sums are noise
  for (Quantity q : kinds) {
    const double total = get(q, Phase::total);
    double sum = 0;
    bool ok = std::isfinite(total);
    for (int k = 0; k < phases_ && ok; ++k) {
      const double x = get(q, kPhaseOf[static_cast<std::size_t>(k)]);
      ok = std::isfinite(x);
      sum += x;
    }
    if (!ok) continue;
    if (v == Verdict::skip) v = Verdict::good;
    if (std::abs(sum - total) > thresholds_.consistency_tolerance * ssum) {
      if (!describe_) return Verdict::bad;
      const bool active = q == Quantity::active_power;
      say("%s: total %s power %.1f %s is not the sum of the phases %.1f %s: the meter's wiring setting differs from "
          "%s (a phase left out of the total?), or profile element order wrong",
          settings_.name.c_str(), active ? "active" : "reactive", total / 1e3, active ? "kW" : "kvar", sum / 1e3,
          active ? "kW" : "kvar", std::string(to_string(settings_.wiring)).c_str());
      evidence("quantity=%s_total expected=%.1f seen=%.1f", active ? "active_power" : "reactive_power", sum, total);
      return Verdict::bad;
    }
  }
  return v;
}

}  // namespace pm500::device
