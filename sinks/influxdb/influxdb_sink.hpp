// The InfluxDB sink: encodes a batch as one line-protocol body (sinks/common/line_protocol.hpp),
// gzips it, POSTs it to /write (v1) or /api/v2/write (v2) over one kept-alive connection, and
// answers ok / retry / reject (errors.hpp) -- retries, spooling and replay are the pipeline's.
// A 413 splits the batch and delivers the halves itself, recursively, and remembers the size
// that fits. After the first success, and then every readback_interval_s, it reads back what
// it wrote (readback.hpp) and reports what it finds through the ConditionSink.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/conditions.hpp"
#include "pipeline/sink.hpp"
#include "sinks/common/line_protocol.hpp"
#include "sinks/influxdb/cardinality.hpp"
#include "sinks/influxdb/errors.hpp"
#include "sinks/influxdb/influxdb_config.hpp"
#include "sinks/influxdb/readback.hpp"
#include "sinks/influxdb/transport.hpp"

namespace pm500::sinks {

namespace influx_condition {
inline constexpr std::string_view kWriteError = "influxdb.write_error";
inline constexpr std::string_view kEmptyPanels = "historian.empty_panels";
inline constexpr std::string_view kHighCardinality = "historian.high_cardinality";
inline constexpr std::string_view kRetentionDisabled = "historian.retention_disabled";
}  // namespace influx_condition

class InfluxSink final : public Sink {
 public:
  InfluxSink(InfluxSinkConfig cfg, const Catalog& catalog, ConditionSink* conditions, std::string name);
  ~InfluxSink() override;
  DeliveryResult deliver(std::span<const Sample> batch) override;

  struct Counters {
    std::uint64_t requests = 0;     // write requests sent
    std::uint64_t points = 0;       // points confirmed (204)
    std::uint64_t body_bytes = 0;   // bytes sent (after gzip)
    std::uint64_t splits = 0;       // 413 answers that split a batch
    std::uint64_t skipped = 0;      // samples with no finite value
    std::uint64_t readbacks = 0;    // read-back requests
    std::uint64_t connections = 0;  // TCP connections opened (keep-alive: stays small)
    std::size_t split_limit = 0;    // learned points per request after a 413; 0 = none
  };
  Counters counters() const;
  const std::string& write_url() const { return ep_.write_url; }

 private:
  DeliveryResult write(std::span<const Sample> batch);
  DeliveryResult encode(std::span<const Sample> batch);
  void report(const DeliveryResult& r);
  void after_success(std::chrono::steady_clock::time_point now);
  void raise(std::string_view id, const std::string& evidence);
  void clear(std::string_view id);

  InfluxSinkConfig cfg_;
  const Catalog& catalog_;
  ConditionSink* conditions_;
  std::string name_;
  lp::Options lp_;
  lp::Encoder encoder_;  // lp_, with the names escaped once per device and assembly
  InfluxEndpoint ep_;
  std::vector<std::string> write_headers_;
  influx::HttpClient http_;
  influx::Gzip gzip_;
  influx::ReadBack readback_;
  influx::SeriesTracker series_;
  std::string lines_, gz_;  // reused for every batch
  DeviceMeta unknown_;
  std::size_t split_limit_ = 0;
  Counters n_;

  // Last point encoded (for the visibility read-back) and the read-back schedule.
  std::uint32_t last_device_ = 0;
  std::int64_t last_time_ns_ = 0;
  bool any_encoded_ = false;
  bool succeeded_once_ = false;
  std::chrono::steady_clock::time_point next_readback_{};
  unsigned pending_checks_ = 0;      // bit 0 visible, bit 1 retention, bit 2 cardinality
  std::vector<std::string> active_;  // condition ids this sink raised and has not cleared
  std::string write_error_evidence_;
};

}  // namespace pm500::sinks
