#include "sinks/mqtt/mqtt_sink.hpp"

#include "sinks/common/json_sample.hpp"
#include "sinks/common/mqtt/cert_check.hpp"
#include "sinks/mqtt/errors.hpp"

namespace pm500::sinks::mqtt {

using mqttc::substitute;
using mqttc::TopicTemplate;

std::string validate(const MqttSinkConfig& cfg) {
  auto ep = mqttc::parse_url(cfg.url);
  if (!ep) return "url: " + ep.error();
  if (auto e = TopicTemplate::validate(cfg.topic); !e.empty()) return "topic \"" + cfg.topic + "\": " + e;
  if (!cfg.status_topic.empty())
    if (auto e = TopicTemplate::validate(cfg.status_topic, "client_id"); !e.empty())
      return "status_topic \"" + cfg.status_topic + "\": " + e;
  if (cfg.cert_file.empty() != cfg.key_file.empty()) return "cert_file and key_file go together: set both or neither";
  if (!ep->tls && (!cfg.ca_file.empty() || !cfg.cert_file.empty() || !cfg.ca_dir.empty()))
    return "TLS files are set but the url is mqtt:// (plain TCP): use mqtts://";
  if (!ep->tls && !cfg.password.empty() && !mqttc::is_ip_literal(ep->host) && ep->host != "localhost")
    return "a password would cross the network in clear text over mqtt://; use mqtts://";
  if (cfg.client_id.empty()) return "client_id is empty";
  return {};
}

mqttc::SessionSettings session_settings(const MqttSinkConfig& cfg) {
  mqttc::SessionSettings s;
  s.endpoint = *mqttc::parse_url(cfg.url);
  s.client_id = cfg.client_id;
  s.mqtt_version = cfg.protocol == "5" ? 5 : 4;
  s.username = cfg.username;
  s.password = cfg.password;
  s.tls = {cfg.ca_file, cfg.ca_dir, cfg.tls_verify, cfg.cert_file, cfg.key_file, cfg.key_password, {}};
  s.keepalive = std::chrono::seconds(cfg.keepalive_s);
  s.connect_timeout = std::chrono::milliseconds(cfg.connect_timeout_ms);
  s.ack_timeout = std::chrono::milliseconds(cfg.ack_timeout_ms);
  s.max_inflight = static_cast<int>(cfg.max_inflight);
  if (!cfg.status_topic.empty()) {
    const std::string topic = substitute(cfg.status_topic, "client_id", cfg.client_id);
    // Retained, so a consumer that subscribes later still learns whether the gateway is up; the
    // broker publishes "offline" itself when the connection dies (last will).
    s.will = mqttc::Outgoing{topic, cfg.status_offline, 1, true};
    s.birth = mqttc::Outgoing{topic, cfg.status_online, 1, true};
  }
  return s;
}

MqttSink::MqttSink(MqttSinkConfig cfg, const Catalog& catalog, ConditionSink* conditions, std::string name)
    : cfg_(std::move(cfg)),
      catalog_(catalog),
      topic_(cfg_.topic),
      session_(session_settings(cfg_)),
      condition_(conditions, std::string(kPublishFailure), std::move(name)) {}

MqttSink::~MqttSink() {
  // A clean shutdown says "offline" itself: the broker does not send the will after DISCONNECT.
  session_.disconnect(session_.settings().will);
}

void MqttSink::build(std::span<const Sample> batch) {
  out_.resize(0);
  message_of_.resize(batch.size());
  const int qos = static_cast<int>(cfg_.qos);
  if (!cfg_.pack) {
    if (out_.capacity() < batch.size()) out_.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Sample& s = batch[i];
      mqttc::Outgoing m;
      m.qos = qos;
      const DeviceMeta* meta = catalog_.device(s.device);
      topic_.render(m.topic, meta, s.device, s.assembly);
      json::append_sample(m.payload, s, meta);
      message_of_[i] = static_cast<std::uint32_t>(i);
      out_.push_back(std::move(m));
    }
    return;
  }
  // Packed: one document per (topic, device) in order of first appearance, so a consumer sees
  // each device's samples in source order inside one message.
  std::vector<std::pair<std::string, std::uint32_t>> keys;
  for (std::size_t j = 0; j < batch.size(); ++j) {
    const Sample& s = batch[j];
    const DeviceMeta* meta = catalog_.device(s.device);
    std::string topic;
    topic_.render(topic, meta, s.device, s.assembly);
    std::size_t i = 0;
    while (i < keys.size() && !(keys[i].second == s.device && keys[i].first == topic)) ++i;
    if (i == keys.size()) {
      keys.emplace_back(topic, s.device);
      mqttc::Outgoing m;
      m.qos = qos;
      m.topic = std::move(topic);
      m.payload = "{";
      json::append_device_identity(m.payload, s.device, meta);
      m.payload += ",\"samples\":[";
      out_.push_back(std::move(m));
    } else {
      out_[i].payload += ',';
    }
    json::append_sample_body(out_[i].payload, s, meta);
    message_of_[j] = static_cast<std::uint32_t>(i);
  }
  for (auto& m : out_) m.payload += "]}";
}

DeliveryResult MqttSink::failed(const mqttc::Error& e) {
  condition_.raise(evidence_line(e));
  return to_delivery_result(e);
}

DeliveryResult MqttSink::deliver(std::span<const Sample> batch) {
  // QoS 1: a retry of a failed batch publishes only what the broker has not acknowledged yet
  // (RetryFilter matches samples by content, so a batch that comes back different is safe).
  // QoS 0 has no acknowledgement to go by.
  const bool track = cfg_.qos >= 1;
  const std::span<const Sample> todo = retry_.start(batch, track);
  if (todo.empty()) {
    // Every sample was acknowledged by earlier attempts.
    retry_.finished();
    skipped_ += retry_.skipped();
    condition_.clear();
    return DeliveryResult::ok();
  }
  build(todo);
  if (!session_.connected() && (!cfg_.cert_file.empty() || !cfg_.ca_file.empty())) {
    // Files first: "key_file does not match cert_file" beats a vague TLS failure.
    if (auto f = mqttc::check_cert_files({cfg_.cert_file, cfg_.key_file, cfg_.key_password, cfg_.ca_file})) {
      retry_.failed({});
      return failed(f->error);
    }
  }
  std::size_t acked = 0;
  if (auto e = session_.publish(out_, &acked, nullptr, track ? &message_acked_ : nullptr)) {
    // The attempt failed: remember what is acknowledged by now (skipped, or confirmed this time).
    todo_acked_.assign(todo.size(), 0);
    if (track)
      for (std::size_t j = 0; j < todo.size(); ++j) todo_acked_[j] = message_acked_[message_of_[j]];
    retry_.failed(todo_acked_);
    return failed(*e);
  }
  published_ += out_.size();
  skipped_ += retry_.skipped();
  retry_.finished();
  condition_.clear();
  return DeliveryResult::ok();
}

DeliveryResult MqttSink::flush() { return DeliveryResult::ok(); }

}  // namespace pm500::sinks::mqtt
