// The sink interface: a sink turns batches of samples into deliveries and says what happened.
// Retries, backoff with jitter, spooling, replay and accounting belong to the pipeline
// (pipeline/delivery.hpp), never to a sink.
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/catalog.hpp"
#include "pipeline/conditions.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500 {

struct DeliveryResult {
  enum class Kind {
    ok,      // every sample in the batch is confirmed by the destination
    retry,   // nothing confirmed; try again later (after retry_after when it is non-zero)
    reject,  // the destination refused these samples for good; they go to the dead-letter file
  };
  Kind kind = Kind::ok;
  std::chrono::milliseconds retry_after{0};  // honoured when the server said so (Retry-After)
  std::string reason;                        // for humans: cause and remedy
  std::string evidence;                      // for diagnosis: HTTP code, TLS alert, reason code...

  static DeliveryResult ok() { return {}; }
  static DeliveryResult retry(std::string reason, std::string evidence = {},
                              std::chrono::milliseconds after = std::chrono::milliseconds{0}) {
    return {Kind::retry, after, std::move(reason), std::move(evidence)};
  }
  static DeliveryResult reject(std::string reason, std::string evidence = {}) {
    return {Kind::reject, std::chrono::milliseconds{0}, std::move(reason), std::move(evidence)};
  }
};

// What one Sink::stream() call did (see there).
struct StreamProgress {
  std::size_t sent = 0;       // samples of `pending` handed to the destination so far
  std::size_t confirmed = 0;  // leading samples of `pending` the destination confirmed now
  // Set when the stream broke: the samples after `confirmed` are given back to the pipeline,
  // which retries them through deliver() after its backoff (what the destination confirmed of
  // them the sink remembers, so the retry skips it).
  std::optional<DeliveryResult> failure;
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Delivers a batch (blocking is allowed: each sink runs on its own thread). Samples are in
  // source order; the batch is never empty.
  virtual DeliveryResult deliver(std::span<const Sample> batch) = 0;
  // Delivers a batch read back from the spool: samples held through an outage, oldest first,
  // older than what the destination may have had live since. A sink that marks such data
  // (Sparkplug's is_historical, so a host never takes it for the current value) overrides this;
  // by default it is deliver().
  virtual DeliveryResult deliver_spooled(std::span<const Sample> batch) { return deliver(batch); }
  // Delivers or persists whatever the sink buffers itself (called before shutdown).
  virtual DeliveryResult flush() { return DeliveryResult::ok(); }
  // Called by the delivery thread between deliveries, at least every poll_interval and also
  // while no sample arrives: work a sink does on its own clock (Sparkplug: a device's death
  // certificate when its samples stop, a rebirth a host asked for). `live`: the sink is
  // delivering live samples (not retrying, spooling or replaying a backlog). Never called while
  // deliver() or stream() runs; must not block for long.
  virtual void tick(bool live) { (void)live; }

  // Streaming (optional): a sink whose destination confirms asynchronously (MQTT PUBACK) lets
  // the pipeline send new samples while earlier ones wait for their confirmation, instead of
  // one blocking deliver() at a time, so a slow acknowledgement never delays the next sample.
  // Only the healthy path streams; retries, spool replay and shutdown use deliver().
  virtual bool streams() const { return false; }
  // `pending`: every sample handed over and not yet confirmed, oldest first, in source order;
  // the first `sent` went out in earlier calls. Sends what its window allows of the rest, never
  // blocks on the destination, and reports the leading samples confirmed since the last call
  // (the pipeline drops them from the front of `pending` before the next call).
  virtual StreamProgress stream(std::span<const Sample> pending, std::size_t sent) {
    (void)pending;
    return {sent, 0, DeliveryResult::retry("this sink does not stream")};
  }
  // The pipeline's wake-up: a streaming sink calls it (from any thread) when a confirmation or
  // a failure arrives, so the delivery thread reports it at once instead of at its next poll.
  virtual void set_waker(std::function<void()> wake) { (void)wake; }
};

// The gateway's state as a cloud sink reports it (AWS IoT Device Shadow "reported").
struct GatewayReport {
  std::string version;
  std::vector<std::pair<std::string, std::string>> devices;  // name, connection state in words
  std::vector<std::uint8_t> running;                        // per entry of devices: 1 = data flowing
  std::vector<std::string> failure_modes;                   // active failure-mode ids
};

// What a sink factory gets besides its own settings.
struct SinkEnv {
  const Catalog& catalog;
  std::string state_dir;  // the sink may keep files under state_dir/sinks/<name>/
  ConditionSink* conditions = nullptr;
  // The gateway's current state, for sinks that report it (null when the app does not offer it).
  // Called from the sink's delivery thread; thread-safe.
  std::function<GatewayReport()> gateway_report;
};

}  // namespace pm500
