// The AWS IoT Core sink: samples packed per device per batch into documents (<= 128 KB),
// published with QoS 1 at no more than 100 publishes/s on one mutual-TLS connection whose client
// id is the thing name; certificate files checked locally before every connect; the gateway's
// Device Shadow "reported" state kept current; the rule error-action topic watched so rule
// delivery failures (and Kinesis throttling) reach the gateway's failure modes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "pipeline/sink.hpp"
#include "sinks/aws_iot/config.hpp"
#include "sinks/aws_iot/documents.hpp"
#include "sinks/aws_iot/rate.hpp"
#include "sinks/aws_iot/rule_error.hpp"
#include "sinks/aws_iot/shadow.hpp"
#include "sinks/common/condition_latch.hpp"
#include "sinks/common/mqtt/acked_samples.hpp"
#include "sinks/common/mqtt/session.hpp"
#include "sinks/common/mqtt/topic_template.hpp"

namespace pm500::sinks::aws_iot {

class AwsIotSink final : public Sink {
 public:
  // shadow: the state the application feeds; null = the sink makes its own (see shadow()).
  AwsIotSink(AwsIotConfig cfg, const Catalog& catalog, ConditionSink* conditions,
             std::shared_ptr<ShadowState> shadow = nullptr, std::string name = "aws_iot");
  ~AwsIotSink() override;
  DeliveryResult deliver(std::span<const Sample> batch) override;

  ShadowState& shadow() { return *shadow_; }
  // Where the shadow's gateway state comes from (read before each shadow check).
  void set_report_source(std::function<GatewayReport()> source) { report_ = std::move(source); }
  std::shared_ptr<ShadowState> shadow_handle() { return shadow_; }
  std::uint64_t documents_published() const { return documents_; }
  // Samples not published again on a retry because AWS IoT had acknowledged their document.
  std::uint64_t skipped_acknowledged() const { return skipped_; }
  std::uint64_t rule_errors() const { return rule_errors_.load(); }
  std::uint64_t shadow_updates() const { return shadow_updates_; }

 private:
  DeliveryResult failed(mqttc::Error e);
  std::optional<mqttc::Error> ensure_connected();
  void publish_shadow_if_changed();
  std::function<GatewayReport()> report_;
  void on_rule_error(const std::string& payload);
  void check_lag(std::chrono::steady_clock::time_point now);

  AwsIotConfig cfg_;
  const Catalog& catalog_;
  mqttc::TopicTemplate topic_;
  mqttc::Session session_;
  std::shared_ptr<ShadowState> shadow_;
  ConditionLatch connect_condition_, rule_condition_, lag_condition_;
  TokenBucket bucket_;
  ThroughputMeter meter_;
  std::vector<Document> docs_;          // reused between batches
  json::Encoder encoder_;               // device identities and keys rendered once
  std::vector<mqttc::Outgoing> out_;
  std::uint64_t documents_ = 0, skipped_ = 0;
  // QoS 1: which samples of a failed batch are in acknowledged documents, so the retry skips them.
  mqttc::RetryFilter retry_;
  std::vector<std::uint8_t> todo_acked_;      // per sample published: acknowledged by this attempt
  std::vector<std::uint8_t> document_acked_;  // per document: acknowledged by this attempt
  std::uint64_t shadow_published_version_ = ~0ull;
  std::uint64_t shadow_updates_ = 0;
  std::set<std::string> shadow_devices_;
  // Written by paho's thread (rule error messages), read by the delivery thread.
  std::atomic<std::int64_t> last_rule_error_ns_{0}, last_throughput_error_ns_{0};
  std::atomic<std::uint64_t> rule_errors_{0};
};

}  // namespace pm500::sinks::aws_iot
