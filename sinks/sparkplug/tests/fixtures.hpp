// What the Sparkplug sink's tests share: meters described by the built-in PowerMonitor 500
// profile (every assembly, 118 values), samples of assembly 101 whose values tell them apart,
// a broker with accounts, and a condition recorder.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "device/profile.hpp"
#include "pipeline/catalog.hpp"
#include "pipeline/conditions.hpp"
#include "pipeline/sample.hpp"
#include "sinks/sparkplug/config.hpp"
#include "sinks/sparkplug/tests/decoded.hpp"

namespace pm500::test::sparkplug {

inline constexpr std::int64_t kBaseNs = 1'714'564'800'000'000'000;  // 2024-05-01T12:00:00Z

inline Catalog meters(int n) {
  Catalog c;
  for (int i = 0; i < n; ++i) {
    DeviceMeta m;
    m.name = "mcc-" + std::to_string(i + 1);
    m.site = "plant";
    m.rpi_ms = 100;
    device::fill_field_names(device::builtin_profile(), m);
    m.ct = "400:5";
    m.pt = "480:120";
    m.ratios_applied_by = "gateway";
    c.devices.push_back(std::move(m));
  }
  return c;
}

// Assembly 101 of `device`, n ms after kBaseNs, values base, base + 1, ... (12 of them).
inline Sample s101(std::uint32_t device, std::uint32_t n, double base) {
  Sample s;
  s.source_time_ns = kBaseNs + static_cast<std::int64_t>(n) * 1'000'000;
  s.device = device;
  s.assembly = 101;
  s.sequence = static_cast<std::uint16_t>(n);
  s.count = 12;
  for (int i = 0; i < 12; ++i) s.values[i] = base + i;
  return s;
}

inline std::uint64_t ms_of(const Sample& s) { return static_cast<std::uint64_t>(s.source_time_ns / 1'000'000); }

inline std::map<std::string, std::string> users() { return {{"gw", "gw-secret"}, {"observer", "observer-secret"}}; }
inline const std::vector<std::string> kObserver{"-u", "observer", "-P", "observer-secret"};

inline sinks::sparkplug::SparkplugConfig config_for(const Mosquitto& b, const Pki& pki) {
  sinks::sparkplug::SparkplugConfig c;
  c.url = b.url();
  c.ca_file = pki.ca_crt().string();
  c.username = "gw";
  c.password = "gw-secret";
  c.connect_timeout_ms = 3000;
  c.ack_timeout_ms = 3000;
  c.group_id = "plant-a";
  c.edge_node_id = "gw-1";
  return c;
}

class Conditions : public ConditionSink {
 public:
  void raise(std::string_view id, std::string_view subject, std::string_view evidence) override {
    std::lock_guard lk(mu_);
    log_ += "raise " + std::string(id) + " " + std::string(subject) + ": " + std::string(evidence) + "\n";
  }
  void clear(std::string_view id, std::string_view subject) override {
    std::lock_guard lk(mu_);
    log_ += "clear " + std::string(id) + " " + std::string(subject) + "\n";
  }
  std::string log() const {
    std::lock_guard lk(mu_);
    return log_;
  }

 private:
  mutable std::mutex mu_;
  std::string log_;
};

// A broker over TLS with accounts gw and observer, and a Sparkplug subscriber that is ready.
struct BrokerRig {
  TempDir tmp;
  Pki pki{tmp / "pki"};
  Mosquitto broker{tmp / "broker", &pki, {.users = users()}};
  std::unique_ptr<SparkplugSubscriber> sub;
  Conditions conditions;

  BrokerRig() {
    broker.start();
    sub = std::make_unique<SparkplugSubscriber>(broker, pki, kObserver);
    REQUIRE(sub->ready(kObserver));
  }
  std::string state_dir() const { return (tmp / "state").string(); }
};

}  // namespace pm500::test::sparkplug
