// Plausibility: turns the guide's row "Erratic power readings -- CT/PT ratio misconfiguration"
// into findings that name the device, the quantities, expected vs seen, and the likely cause:
//
//   mcc-1: currents 40x above CT primary 400 A (seen 16000 A): CT ratio 400:5 applied by both meter and gateway?
//
// One Plausibility per device, fed every sample after decode and scaling, on the scanner
// thread. No allocation and no formatting per sample: a finding's message and evidence are
// formatted (into the scanner thread's fixed buffers) only for the sample that raises it, the
// only text anyone sees; a healthy sample, and a failing one that does not raise, only computes
// its verdict, from a per-assembly plan built once (which elements are power factors,
// frequencies, counters, and where each value goes). The texts of raised findings are kept in a
// store allocated at the device's first raise (one allocation in its lifetime), so a healthy
// meter costs no text memory: with thousands of meters that is most of them. A
// finding is raised after Thresholds::raise_after consecutive failing evaluations and cleared
// after clear_after consecutive healthy ones, so it never flaps.
// Findings feed the failure mode meter.erratic_readings through FindingListener.
//
//   Plausibility check(profile, settings, Thresholds{}, &listener);
//   check.check(sample);                  // sets kSampleSuspect while any finding is active
//   for (auto& f : check.snapshot()) ...  // any thread
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "device/profile.hpp"
#include "device/settings.hpp"
#include "pipeline/sample.hpp"

namespace pm500::device {

enum class FindingKind : std::uint8_t {
  voltage_vs_nominal,  // (a) voltages far from nominal, off by the PT ratio, a phase lost
  current_vs_ct,       // (b) currents above 1.2 x CT primary, or off by the CT ratio
  apparent_vs_vi,      // (c) S is not V x I
  power_triangle,      // (c) S^2 is not P^2 + Q^2 (P > S is impossible)
  power_factor_vs_ps,  // (c) PF is not P / S
  phase_sum,           // (c) total is not the sum of the phases
  non_finite,          // (d) NaN / Inf
  power_factor_range,  // (d) |PF| > 1
  frequency_range,     // (d) outside 40..70 Hz
  energy_backwards,    // (d) an energy counter went down
};
inline constexpr std::size_t kFindingKinds = 10;

// Stable snake_case id, e.g. "current_vs_ct" (for logs, metrics labels, the status page).
std::string_view to_string(FindingKind k);

// Whether an active finding of kind k makes a value of quantity q suspect (the status page marks
// it): a voltage finding the voltages and everything scaled by the PT ratio (powers, energies), a
// current finding the currents and everything scaled by the CT ratio, a consistency finding
// (S vs V x I, the power triangle, PF vs P/S, phase sums) the quantities it compares, a range
// finding its own quantity, non-finite values every measured quantity. Counters, bit fields and
// product information are never suspect.
bool affects(FindingKind k, Quantity q);

struct Thresholds {
  std::uint16_t raise_after = 5;        // consecutive failing evaluations before a finding is raised
  std::uint16_t clear_after = 5;        // consecutive healthy evaluations before it clears
  double voltage_tolerance = 0.15;      // |V / nominal - 1| above this is "far from nominal"
  double ratio_match = 0.15;            // seen / expected within this of a CT or PT ratio = "off by that ratio"
  double current_limit = 1.2;           // x CT primary
  bool detect_missing_ct = true;        // currents within the CT secondary range look like secondary amps
  double missing_ct_min_ratio = 10;     // below this, primary and secondary ranges overlap too much to tell
  double consistency_tolerance = 0.10;  // S vs V x I, P^2 + Q^2 above S^2, phase sums (relative)
  double distortion_tolerance = 0.30;   // sqrt(P^2 + Q^2) may fall this far below S (harmonics)
  double pf_tolerance = 0.05;           // | |PF| - |P| / S |, absolute
  double pf_limit = 1.001;              // |PF| above this is impossible (float rounding allowed)
  double min_current_fraction = 0.02;   // consistency checks skip loads below this x CT primary
  double frequency_min_hz = 40;
  double frequency_max_hz = 70;
  std::int64_t max_skew_ns = 5'000'000'000;  // values of another assembly older than this are not compared
};

// What meter.erratic_readings (src/health) implements; called on the scanner thread, once per
// transition. `message` is the operator text, `evidence` is key=value pairs (quantity,
// expected, seen, ratios); both are views valid only during the call.
class FindingListener {
 public:
  virtual ~FindingListener() = default;
  virtual void raise(FindingKind kind, std::string_view device, std::string_view message,
                     std::string_view evidence) = 0;
  virtual void clear(FindingKind kind, std::string_view device) = 0;
};

struct ActiveFinding {
  FindingKind kind{};
  std::string device;
  std::string message;
  std::string evidence;
  std::int64_t since_ns = 0;  // source time of the sample that raised it
};

class Plausibility {
 public:
  Plausibility(const Profile& profile, DeviceSettings settings, Thresholds thresholds = {},
               FindingListener* listener = nullptr);
  Plausibility(const Plausibility&) = delete;
  Plausibility& operator=(const Plausibility&) = delete;

  // Checks one decoded and scaled sample (values in primary units). Scanner thread only.
  void check(pm500::Sample& s) noexcept;

  // Active findings; safe from any thread.
  std::vector<ActiveFinding> snapshot() const;
  bool active(FindingKind k) const { return active_[static_cast<std::size_t>(k)].load(std::memory_order_relaxed); }
  bool any_active() const { return active_count_.load(std::memory_order_relaxed) > 0; }

  const DeviceSettings& settings() const { return settings_; }
  const Thresholds& thresholds() const { return thresholds_; }

 private:
  enum class Verdict : std::uint8_t { skip, good, bad };
  struct Counter {
    std::uint16_t bad = 0;
    std::uint16_t good = 0;
    bool active = false;
  };
  struct Text {
    std::array<char, 384> message{};
    std::array<char, 256> evidence{};
    std::int64_t since_ns = 0;
  };
  struct CounterState {  // energy counter tracking, per element of an energy assembly
    double high = -std::numeric_limits<double>::infinity();  // highest value so far; -inf: none yet
  };
  // What check() needs of an assembly's elements, from the profile once (bit i = element i).
  struct Plan {
    std::array<std::uint8_t, kMaxSampleValues> latest_slot{};  // slot(kind, phase) of each element
    std::uint32_t power_factor = 0;  // Quantity::power_factor
    std::uint32_t frequency = 0;     // Quantity::frequency
    std::uint32_t counters = 0;      // energy and hour/event counters (check_energy)
    std::uint16_t energy = kNoEnergy;  // index into energy_ for an energy assembly (part)
  };
  static constexpr std::uint16_t kNoEnergy = 0xffff;

  static std::size_t slot(Quantity k, Phase p) {
    return static_cast<std::size_t>(k) * 10 + static_cast<std::size_t>(p);
  }
  static constexpr std::size_t kSlots = 15 * 10;

  double get(Quantity k, Phase p) const;  // latest fresh real-time value in SI, or NaN
  // Runs one check (a callable returning its Verdict) and counts the verdict; the check
  // formats its text only when describe_ says a failure now would raise the finding.
  template <class Check>
  void judge(FindingKind k, std::size_t assembly_slot, Check&& run) noexcept;
  bool raise_due(FindingKind k, std::size_t assembly_slot) const noexcept;
  void update(FindingKind k, std::size_t assembly_slot, Verdict v) noexcept;
  static void say(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));
  static void evidence(const char* fmt, ...) noexcept __attribute__((format(printf, 1, 2)));

  Verdict check_non_finite(const Assembly& a, const pm500::Sample& s) noexcept;
  Verdict check_pf_range(const Assembly& a, std::size_t view, const pm500::Sample& s) noexcept;
  Verdict check_frequency(const Assembly& a, std::size_t view, const pm500::Sample& s) noexcept;
  Verdict check_energy(const Assembly& a, std::size_t view, const pm500::Sample& s) noexcept;
  Verdict check_voltage() noexcept;
  Verdict check_current() noexcept;
  Verdict check_apparent() noexcept;
  Verdict check_triangle() noexcept;
  Verdict check_pf() noexcept;
  Verdict check_phase_sum() noexcept;

  double s_floor() const;  // apparent power below which consistency is not judged (SI)
  double i_floor() const;  // current below which consistency is not judged (A)
  void ratio_cause(char* out, std::size_t n, double seen_over_expected) const;

  const Profile& profile_;
  DeviceSettings settings_;
  Thresholds thresholds_;
  FindingListener* listener_;
  int phases_;
  bool wye_;  // has_neutral(settings_.wiring)

  std::int64_t now_ns_ = 0;
  std::array<double, kSlots> latest_{};
  std::array<std::int64_t, kSlots> latest_ns_{};
  // Per view, i.e. per assembly part (Assembly::part; one for an assembly of up to 18
  // elements), sized once: view_of_[instance - 100] + part is the index.
  std::array<std::size_t, kAssemblySlots> view_of_{};
  std::vector<std::uint32_t> kinds_in_;  // bit per Quantity present, real-time assemblies
  std::vector<Plan> plan_;
  std::array<std::vector<Counter>, kFindingKinds> counters_{};
  std::array<std::uint16_t, kFindingKinds> active_slots_{};
  std::vector<std::array<CounterState, kMaxSampleValues>> energy_;  // per energy assembly, sized once

  bool describe_ = false;  // the running check's failure would raise its finding: format the text

  mutable std::mutex mutex_;  // guards texts_ (written on transitions, read by snapshot)
  std::unique_ptr<std::array<Text, kFindingKinds>> texts_;  // allocated at the first raise
  std::array<std::atomic<bool>, kFindingKinds> active_{};
  std::atomic<int> active_count_{0};
};

}  // namespace pm500::device
