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
  session_.set_waker(nullptr);  // the pipeline that woke on it is going
  // A clean shutdown says "offline" itself: the broker does not send the will after DISCONNECT.
  session_.disconnect(session_.settings().will);
}

std::size_t MqttSink::build(std::span<const Sample> batch, std::size_t max_messages, std::vector<mqttc::Outgoing>& out,
                           std::vector<std::uint32_t>& message_of) {
  // Messages (their strings' capacity) are reused: a warm sink allocates nothing here.
  std::size_t used = 0;
  auto next = [&]() -> mqttc::Outgoing& {
    if (used == out.size()) out.emplace_back();
    mqttc::Outgoing& m = out[used++];
    m.topic.clear();
    m.payload.clear();
    m.qos = static_cast<int>(cfg_.qos);
    m.retained = false;
    return m;
  };
  std::size_t n = batch.size();
  if (!cfg_.pack) {
    n = std::min(n, max_messages);
    message_of.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const Sample& s = batch[i];
      mqttc::Outgoing& m = next();
      const DeviceMeta* meta = catalog_.device(s.device);
      topic_.render(m.topic, meta, s.device, s.assembly);
      json::append_sample(m.payload, s, meta);
      message_of[i] = static_cast<std::uint32_t>(i);
    }
    out.resize(used);
    return n;
  }
  // Packed: one document per (topic, device) in order of first appearance, so a consumer sees
  // each device's samples in source order inside one message.
  std::vector<std::uint32_t> device_of;  // per message
  std::string topic;
  message_of.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    const Sample& s = batch[j];
    const DeviceMeta* meta = catalog_.device(s.device);
    topic.clear();
    topic_.render(topic, meta, s.device, s.assembly);
    std::size_t i = 0;
    while (i < used && !(device_of[i] == s.device && out[i].topic == topic)) ++i;
    if (i == used) {
      if (used == max_messages) {  // the window is full: the rest waits for the next call
        n = j;
        break;
      }
      mqttc::Outgoing& m = next();
      device_of.push_back(s.device);
      m.topic = topic;
      m.payload = "{";
      json::append_device_identity(m.payload, s.device, meta);
      m.payload += ",\"samples\":[";
    } else {
      out[i].payload += ',';
    }
    json::append_sample_body(out[i].payload, s, meta);
    message_of[j] = static_cast<std::uint32_t>(i);
  }
  message_of.resize(n);
  out.resize(used);
  for (auto& m : out) m.payload += "]}";
  return n;
}

std::optional<mqttc::Error> MqttSink::check_files() {
  if (session_.connected() || (cfg_.cert_file.empty() && cfg_.ca_file.empty())) return std::nullopt;
  // Files first: "key_file does not match cert_file" beats a vague TLS failure.
  if (auto f = mqttc::check_cert_files({cfg_.cert_file, cfg_.key_file, cfg_.key_password, cfg_.ca_file}))
    return f->error;
  return std::nullopt;
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
  build(todo, todo.size(), out_, message_of_);
  if (auto f = check_files()) {
    retry_.failed({});
    return failed(*f);
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

StreamProgress MqttSink::stream(std::span<const Sample> pending, std::size_t sent) {
  StreamProgress p{sent, 0, std::nullopt};
  // 1. PUBACKs, oldest chunk first: a chunk is confirmed once all its messages are.
  while (!chunks_.empty()) {
    Chunk& c = chunks_.front();
    for (std::size_t k = 0; k < c.out.size(); ++k) {
      if (c.acked[k]) continue;
      bool done = false;
      if (auto e = session_.check(c.pending[k], c.out[k], done)) return stream_broke(pending, p, *e);
      if (!done) break;
      c.acked[k] = 1;
      ++c.acked_count;
    }
    if (c.acked_count < c.out.size()) break;
    p.confirmed += c.samples;
    published_ += c.out.size();
    in_flight_ -= c.out.size();
    recycle(std::move(c));
    chunks_.pop_front();
  }
  if (p.confirmed > 0) condition_.clear();
  // 2. Publish what is new, as far as the window allows.
  const std::size_t window = static_cast<std::size_t>(std::max<std::int64_t>(cfg_.max_inflight, 1));
  if (pending.size() <= sent || in_flight_ >= window) return p;
  if (auto f = check_files()) return stream_broke(pending, p, *f);
  Chunk c;
  if (!spare_.empty()) {
    c = std::move(spare_.back());
    spare_.pop_back();
  }
  c.samples = build(pending.subspan(sent), window - in_flight_, c.out, c.message_of);
  c.pending.resize(c.out.size());
  c.acked.assign(c.out.size(), 0);
  c.acked_count = 0;
  for (std::size_t k = 0; k < c.out.size(); ++k) {
    if (auto e = session_.start(c.out[k], c.pending[k])) {
      for (std::size_t r = k; r < c.out.size(); ++r) c.pending[r].token.reset();  // never sent
      in_flight_ += c.out.size();
      chunks_.push_back(std::move(c));
      p.sent = sent + chunks_.back().samples;
      return stream_broke(pending, p, *e);
    }
  }
  in_flight_ += c.out.size();
  p.sent = sent + c.samples;
  chunks_.push_back(std::move(c));
  return p;
}

// The stream broke: what the broker acknowledged of the unconfirmed samples is remembered (the
// pipeline's retry skips it), the connection goes, and every unconfirmed sample is handed back.
StreamProgress MqttSink::stream_broke(std::span<const Sample> pending, StreamProgress p, const mqttc::Error& e) {
  if (cfg_.qos >= 1) {
    todo_acked_.clear();
    for (const Chunk& c : chunks_)
      for (std::size_t i = 0; i < c.samples; ++i) {
        const std::uint32_t m = c.message_of[i];
        todo_acked_.push_back(c.acked[m] || mqttc::Session::acknowledged(c.pending[m]) ? 1 : 0);
      }
    const std::size_t n = std::min(todo_acked_.size(), p.sent - std::min(p.confirmed, p.sent));
    retry_.stream_broke(pending.subspan(p.confirmed, n), std::span(todo_acked_).first(n));
  }
  while (!chunks_.empty()) {
    recycle(std::move(chunks_.front()));
    chunks_.pop_front();
  }
  in_flight_ = 0;
  session_.drop(e);
  p.failure = failed(e);
  return p;
}

void MqttSink::recycle(Chunk&& c) {
  for (auto& pd : c.pending) pd.token.reset();
  spare_.push_back(std::move(c));
}

DeliveryResult MqttSink::flush() { return DeliveryResult::ok(); }

}  // namespace pm500::sinks::mqtt
