// Test rig: the feeder model produces bytes exactly as the simulator will, and they go through
// decode -> scale -> plausibility like the scanner does.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "device/decode.hpp"
#include "device/feeder_model.hpp"
#include "device/plausibility.hpp"
#include "device/profile.hpp"
#include "device/scaling.hpp"

namespace pm500::device::test {

struct Event {
  bool raised = false;
  FindingKind kind{};
  std::string device, message, evidence;
};

struct Recorder : FindingListener {
  std::vector<Event> events;
  void raise(FindingKind k, std::string_view d, std::string_view m, std::string_view e) override {
    events.push_back({true, k, std::string(d), std::string(m), std::string(e)});
  }
  void clear(FindingKind k, std::string_view d) override { events.push_back({false, k, std::string(d), {}, {}}); }
  int raised(FindingKind k) const {
    int n = 0;
    for (const auto& e : events) n += e.raised && e.kind == k;
    return n;
  }
  const Event* first(FindingKind k) const {
    for (const auto& e : events)
      if (e.raised && e.kind == k) return &e;
    return nullptr;
  }
};

inline DeviceSettings settings(const char* applied_by = "gateway", const char* wiring = "3PN", double nominal = 480,
                               const char* ct = "400:5", const char* pt = "480:120") {
  auto s = make_settings("mcc-1", ct, pt, applied_by, nominal, wiring);
  if (!s) throw std::runtime_error(s.error());
  return *s;
}

struct Rig {
  const Profile& profile;
  DeviceSettings gateway_side;
  FeederModel model;
  Scaler scaler;
  Recorder recorder;
  Plausibility check;
  std::int64_t now_ns = 1'700'000'000'000'000'000;
  std::int64_t period_ns = 1'000'000'000;
  std::vector<std::uint16_t> assemblies{100, 101, 102, 103, 104, 105, 106, 107, 108};
  int decode_errors = 0;

  // `meter` is how the simulated meter is set up; the gateway is configured the same way
  // unless a test changes gateway_side (a misconfiguration).
  Rig(const Profile& p, FeederSettings meter, std::uint64_t seed = 1, Thresholds t = {},
      const DeviceSettings* gateway = nullptr)
      : profile(p),
        gateway_side(gateway ? *gateway : meter.device),
        model(p, meter, seed),
        scaler(p, gateway_side),
        check(p, gateway_side, t, &recorder) {}

  // One RPI: the model advances, every assembly is encoded, decoded, scaled and checked.
  void run(int samples) {
    std::array<std::uint8_t, 256> buf{};
    for (int n = 0; n < samples; ++n) {
      now_ns += period_ns;
      model.step(now_ns);
      for (auto a : assemblies) {
        auto len = model.encode(a, buf);
        if (!len) {
          ++decode_errors;
          continue;
        }
        pm500::Sample s{};
        s.source_time_ns = now_ns;
        s.assembly = a;
        if (!decode(profile, a, std::span<const std::uint8_t>(buf.data(), *len), s)) {
          ++decode_errors;
          continue;
        }
        scaler.apply(s);
        check.check(s);
      }
    }
  }
};

inline FeederSettings meter(const DeviceSettings& d) {
  FeederSettings f;
  f.device = d;
  return f;
}

}  // namespace pm500::device::test
