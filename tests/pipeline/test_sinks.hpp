// Test doubles for the pipeline tests: a destination the test controls and a recorder of
// raised and cleared conditions.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "pipeline/conditions.hpp"
#include "pipeline/delivery.hpp"
#include "pipeline/sink.hpp"

namespace pm500::test {

// A destination the test controls: accepts, asks to retry, or rejects.
class TestSink : public Sink {
 public:
  enum Mode { accept, retry, reject };
  std::atomic<int> mode{accept};
  std::atomic<int> delay_ms{0};

  DeliveryResult deliver(std::span<const Sample> batch) override {
    if (int d = delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(d));
    if (batch.empty()) bad_batch = true;
    switch (mode.load()) {
      case retry: ++refusals; return DeliveryResult::retry("test destination down", "HTTP 503");
      case reject: return DeliveryResult::reject("test destination refuses", "HTTP 400");
      default: break;
    }
    std::lock_guard lk(mu);
    for (const Sample& s : batch) {
      got.push_back(sample_number(s));
      got_device.push_back(s.device);
    }
    return DeliveryResult::ok();
  }
  std::vector<std::uint64_t> received() {
    std::lock_guard lk(mu);
    return got;
  }
  // Device index of each received sample, in order.
  std::vector<std::uint32_t> received_devices() {
    std::lock_guard lk(mu);
    return got_device;
  }
  std::size_t count() {
    std::lock_guard lk(mu);
    return got.size();
  }
  std::atomic<int> refusals{0};
  std::atomic<bool> bad_batch{false};

 private:
  std::mutex mu;
  std::vector<std::uint64_t> got;
  std::vector<std::uint32_t> got_device;
};

// A destination that confirms asynchronously (Sink::stream()): it takes every sample offered
// at once, and confirms only as many as the test releases; fail() breaks the stream. Samples
// that come back through deliver() (the retry after a break) are recorded too.
class StreamingTestSink : public Sink {
 public:
  bool streams() const override { return true; }
  void set_waker(std::function<void()> wake) override {
    std::lock_guard lk(mu);
    waker = std::move(wake);
  }
  StreamProgress stream(std::span<const Sample> pending, std::size_t sent) override {
    std::lock_guard lk(mu);
    ++calls;
    if (pending.size() > sent) ++sending_calls;
    for (std::size_t i = sent; i < pending.size(); ++i) streamed.push_back(sample_number(pending[i]));
    StreamProgress p{pending.size(), 0, std::nullopt};
    // The oldest `allowed - confirmed_` of what is out are confirmed now.
    const std::size_t allowed = released.load();
    p.confirmed = std::min(pending.size(), allowed > confirmed_ ? allowed - confirmed_ : 0);
    for (std::size_t i = 0; i < p.confirmed; ++i) got.push_back(sample_number(pending[i]));
    confirmed_ += p.confirmed;
    if (broken.exchange(false)) p.failure = DeliveryResult::retry("test stream broke", "PUBACK timeout");
    return p;
  }
  DeliveryResult deliver(std::span<const Sample> batch) override {
    std::lock_guard lk(mu);
    for (const Sample& s : batch) {
      got.push_back(sample_number(s));
      retried.push_back(sample_number(s));
    }
    return DeliveryResult::ok();
  }
  // Lets the first n samples (counted over the whole run) be confirmed, and wakes the pipeline.
  void release(std::size_t n) {
    released = n;
    std::function<void()> w;
    {
      std::lock_guard lk(mu);
      w = waker;
    }
    if (w) w();
  }
  void fail() {
    broken = true;
    release(released.load());
  }
  std::vector<std::uint64_t> received() {
    std::lock_guard lk(mu);
    return got;
  }
  std::vector<std::uint64_t> sent_samples() {
    std::lock_guard lk(mu);
    return streamed;
  }
  std::vector<std::uint64_t> retried_samples() {
    std::lock_guard lk(mu);
    return retried;
  }
  std::size_t sends() {
    std::lock_guard lk(mu);
    return sending_calls;
  }
  std::atomic<std::size_t> released{0};
  std::atomic<bool> broken{false};

 private:
  std::mutex mu;
  std::function<void()> waker;
  std::vector<std::uint64_t> got, streamed, retried;
  std::size_t confirmed_ = 0, calls = 0, sending_calls = 0;
};

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
  bool has(std::string_view prefix) {
    std::lock_guard lk(mu_);
    for (auto& e : events_)
      if (e.starts_with(prefix)) return true;
    return false;
  }
  // The most recent event starting with prefix ("" when none).
  std::string find_last(std::string_view prefix) {
    std::lock_guard lk(mu_);
    for (auto it = events_.rbegin(); it != events_.rend(); ++it)
      if (it->starts_with(prefix)) return *it;
    return {};
  }
  std::string find(std::string_view prefix) {
    std::lock_guard lk(mu_);
    for (auto& e : events_)
      if (e.starts_with(prefix)) return e;
    return {};
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

// Delivery settings for tests: small batches, fast retries, quick spooling.
inline SinkDelivery::Options quick_options(const std::filesystem::path& state, ConditionSink* conditions = nullptr) {
  using namespace std::chrono_literals;
  SinkDelivery::Options o;
  o.name = "test";
  o.state_dir = state;
  o.conditions = conditions;
  o.delivery.batch_size = 200;
  o.delivery.flush_interval_ms = 5;
  o.delivery.retry_initial_ms = 2;
  o.delivery.retry_max_ms = 20;
  o.delivery.spool_fsync_interval_ms = 100;
  o.delivery.replay_rate = 0;
  o.delivery.spool_max_mb = 64;
  o.poll_interval = 1ms;
  o.spool_after = 10ms;
  o.stop_timeout = 1s;
  o.jitter_seed = 3;
  return o;
}

}  // namespace pm500::test
