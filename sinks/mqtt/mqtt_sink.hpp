// The MQTT sink: every sample as a JSON message (or one message per device and topic per batch
// when packed) on a topic from a template, QoS 1 by default, with a retained online/offline
// status topic whose "offline" is the last will. deliver() answers ok only once every sample of
// the batch is acknowledged, so the pipeline's spool offset advances only on PUBACK; a retry of a
// batch publishes only the samples an earlier attempt did not get acknowledged (QoS 1).
#pragma once

#include <chrono>
#include <cstdint>
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

  std::uint64_t published() const { return published_; }
  // Samples not published again on a retry because the broker had acknowledged them already.
  std::uint64_t skipped_acknowledged() const { return skipped_; }
  // Samples of the last failed batch that the broker acknowledged (what a retry will skip).
  std::size_t remembered_acknowledged() const { return retry_.remembered(); }
  mqttc::Session& session() { return session_; }

 private:
  void build(std::span<const Sample> batch);
  DeliveryResult failed(const mqttc::Error& e);

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
};

}  // namespace pm500::sinks::mqtt
