// Shared by the InfluxDB sink's tests: a catalog, deterministic samples, a condition recorder
// and a sink built from TOML through the plugin (so the options table is exercised too).
#pragma once

#include <doctest/doctest.h>

#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "pipeline/sink_plugin.hpp"
#include "sinks/influxdb/influxdb_sink.hpp"

namespace pm500 {
extern const SinkPlugin influxdb_sink_plugin;
}

namespace pm500::test {

inline Catalog influx_catalog(std::size_t devices = 2) {
  Catalog c;
  for (std::size_t i = 0; i < devices; ++i) {
    DeviceMeta m;
    m.name = "mcc-" + std::to_string(i + 1);
    m.site = "plant north";
    m.asset = "feeder " + std::to_string(i + 1);
    m.fields[1] = {"voltage_l1_n_v", "current_l1_a", "pf"};
    c.devices.push_back(std::move(m));
  }
  return c;
}

// Sample n of a device: timestamps 1 ms apart from a fixed recent-enough epoch (inside any
// retention policy the tests use: 2 days before now at most).
inline Sample influx_sample(std::uint64_t n, std::uint32_t device = 0, std::uint8_t values = 3) {
  static const std::int64_t base = (static_cast<std::int64_t>(std::time(nullptr)) - 3600) * 1'000'000'000;
  Sample s;
  s.source_time_ns = base + static_cast<std::int64_t>(n) * 1'000'000;
  s.device = device;
  s.assembly = 101;
  s.sequence = static_cast<std::uint16_t>(n);
  s.count = values;
  for (std::uint8_t i = 0; i < values; ++i) s.values[i] = 230.0 + static_cast<double>(n % 1000) / 8.0 + i;
  return s;
}

inline std::vector<Sample> influx_batch(std::uint64_t first, std::size_t count, std::uint8_t values = 3) {
  std::vector<Sample> v;
  for (std::size_t i = 0; i < count; ++i)
    v.push_back(influx_sample(first + i, static_cast<std::uint32_t>(i % 2), values));
  return v;
}

class Recorder : public ConditionSink {
 public:
  void raise(std::string_view id, std::string_view subject, std::string_view evidence) override {
    std::lock_guard lk(mu_);
    events_.push_back("raise " + std::string(id) + " " + std::string(subject) + ": " + std::string(evidence));
  }
  void clear(std::string_view id, std::string_view subject) override {
    std::lock_guard lk(mu_);
    events_.push_back("clear " + std::string(id) + " " + std::string(subject));
  }
  std::string find(std::string_view prefix) {
    std::lock_guard lk(mu_);
    for (auto it = events_.rbegin(); it != events_.rend(); ++it)
      if (it->starts_with(prefix)) return *it;
    return {};
  }
  bool has(std::string_view prefix) { return !find(prefix).empty(); }
  std::string all() {
    std::lock_guard lk(mu_);
    std::string s;
    for (auto& e : events_) s += e + "\n";
    return s;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

// Loads `[sinks.influxdb]` + `body` through the plugin's schema and builds the sink.
inline std::unique_ptr<sinks::InfluxSink> make_influx_sink(const std::string& body, const Catalog& catalog,
                                                           ConditionSink* conditions = nullptr) {
  const std::vector<config::SinkSchema> schemas{influxdb_sink_plugin.schema};
  auto cfg = config::load_string("[sinks.influxdb]\n" + body, "test.toml", schemas);
  if (!cfg) {
    std::string all;
    for (auto& d : cfg.error()) all += d.str() + "\n";
    FAIL_CHECK(all);
    return nullptr;
  }
  SinkEnv env{catalog, "/nonexistent", conditions, {}};
  auto sink = influxdb_sink_plugin.create(cfg->sinks[0], env);
  if (!sink) {
    FAIL_CHECK(sink.error());
    return nullptr;
  }
  return std::unique_ptr<sinks::InfluxSink>(static_cast<sinks::InfluxSink*>(sink->release()));
}

inline DeliveryResult deliver(sinks::InfluxSink& s, const std::vector<Sample>& batch) {
  return s.deliver(std::span<const Sample>(batch));
}

}  // namespace pm500::test
