// The MQTT sink: every sample as a JSON message (or one message per device and topic per batch
// when packed) on a topic from a template, QoS 1 by default, with a retained online/offline
// status topic whose "offline" is the last will. A sample counts as delivered only once its
// PUBACK is in, so the pipeline's spool offset advances only on PUBACK; a retry publishes only
// the samples an earlier attempt did not get acknowledged (QoS 1).
//
// Live samples stream (Sink::stream()): new samples are published while earlier ones wait for
// their PUBACK, up to max_inflight messages, so a PUBACK the broker sends late (mosquitto's
// Nagle timer holds it for up to 40 ms) does not delay the next sample. Retries and spool
// replay use deliver(), which returns once the whole batch is acknowledged.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/options.hpp"
#include "pipeline/sink.hpp"
#include "sinks/common/condition_latch.hpp"
#include "sinks/common/mqtt/acked_samples.hpp"
#include "sinks/common/mqtt/session.hpp"
#include "sinks/common/mqtt/topic_template.hpp"

namespace pm500::sinks::mqtt {

struct MqttSinkConfig {
  std::string url;                 // mqtt://host[:port] or mqtts://host[:port]
  std::string protocol = "3.1.1";  // "3.1.1" or "5"
  std::string client_id = "pm500-gateway";
  std::string username;
  std::string password;            // secret
  std::string ca_file;
  std::string ca_dir;
  bool tls_verify = true;
  std::string cert_file;
  std::string key_file;
  std::string key_password;        // secret
  std::string topic = "pm500/{site}/{asset}/{device}/{assembly}";
  std::int64_t qos = 1;
  bool pack = false;
  std::string status_topic = "pm500/status/{client_id}";
  std::string status_online = "online";
  std::string status_offline = "offline";
  std::int64_t keepalive_s = 30;
  std::int64_t connect_timeout_ms = 5000;
  std::int64_t ack_timeout_ms = 10000;
  std::int64_t max_inflight = 20;
};

const config::Options<MqttSinkConfig>& mqtt_sink_options();

// Checks what the options table cannot (URL, template, files that belong together); "" = fine.
std::string validate(const MqttSinkConfig& cfg);

// The session settings this configuration produces (exposed for tests).
mqttc::SessionSettings session_settings(const MqttSinkConfig& cfg);

class MqttSink final : public Sink {
 public:
  // name: the sink's name, the subject of its conditions.
  MqttSink(MqttSinkConfig cfg, const Catalog& catalog, ConditionSink* conditions, std::string name = "mqtt");
  ~MqttSink() override;
  DeliveryResult deliver(std::span<const Sample> batch) override;
  DeliveryResult flush() override;
  bool streams() const override { return true; }
  StreamProgress stream(std::span<const Sample> pending, std::size_t sent) override;
  void set_waker(std::function<void()> wake) override { session_.set_waker(std::move(wake)); }
  // Messages published by stream() and not acknowledged yet.
  std::size_t in_flight() const noexcept { return in_flight_; }

  std::uint64_t published() const { return published_; }
  // Samples not published again on a retry because the broker had acknowledged them already.
  std::uint64_t skipped_acknowledged() const { return skipped_; }
  // Samples of the last failed batch that the broker acknowledged (what a retry will skip).
  std::size_t remembered_acknowledged() const { return retry_.remembered(); }
  mqttc::Session& session() { return session_; }

 private:
  // Builds messages for the leading samples of `batch`, at most max_messages of them; returns
  // how many samples they carry. message_of[i]: the message that carries sample i.
  std::size_t build(std::span<const Sample> batch, std::size_t max_messages, std::vector<mqttc::Outgoing>& out,
                    std::vector<std::uint32_t>& message_of);
  std::optional<mqttc::Error> check_files();
  DeliveryResult failed(const mqttc::Error& e);

  // Messages stream() published whose PUBACKs are outstanding, one Chunk per call that sent.
  struct Chunk {
    std::size_t samples = 0;
    std::vector<mqttc::Outgoing> out;
    std::vector<mqttc::Session::Pending> pending;  // per message
    std::vector<std::uint8_t> acked;               // per message
    std::vector<std::uint32_t> message_of;         // per sample
    std::size_t acked_count = 0;
  };
  StreamProgress stream_broke(std::span<const Sample> pending, StreamProgress p, const mqttc::Error& e);
  void recycle(Chunk&& c);

  MqttSinkConfig cfg_;
  const Catalog& catalog_;
  mqttc::TopicTemplate topic_;
  mqttc::Session session_;
  ConditionLatch condition_;
  std::vector<mqttc::Outgoing> out_;  // reused between batches
  std::uint64_t published_ = 0, skipped_ = 0;
  // QoS 1: which samples of a failed batch the broker acknowledged, so the retry skips them.
  mqttc::RetryFilter retry_;
  std::vector<std::uint8_t> todo_acked_;     // per sample published: acknowledged by this attempt
  std::vector<std::uint32_t> message_of_;    // per sample of todo: the index of its message in out_
  std::vector<std::uint8_t> message_acked_;  // per message: acknowledged by this attempt
  std::deque<Chunk> chunks_;  // oldest first
  std::vector<Chunk> spare_;  // recycled, so streaming allocates nothing once warm
  std::size_t in_flight_ = 0;
};

}  // namespace pm500::sinks::mqtt
