#include "sinks/aws_iot/aws_iot_sink.hpp"

#include <cstdio>
#include <thread>

#include "sinks/aws_iot/errors.hpp"
#include "sinks/aws_iot/transport.hpp"
#include "sinks/common/mqtt/cert_check.hpp"

namespace pm500::sinks::aws_iot {

namespace {
using Clock = std::chrono::steady_clock;
std::int64_t ticks(Clock::time_point t) { return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(); }

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}
}  // namespace

AwsIotSink::AwsIotSink(AwsIotConfig cfg, const Catalog& catalog, ConditionSink* conditions,
                       std::shared_ptr<ShadowState> shadow, std::string name)
    : cfg_(std::move(cfg)),
      catalog_(catalog),
      topic_(cfg_.topic),
      session_(session_settings(cfg_)),
      shadow_(shadow ? std::move(shadow) : std::make_shared<ShadowState>()),
      connect_condition_(conditions, std::string(kConnectFailure), name),
      rule_condition_(conditions, std::string(kRuleDeliveryFailure), name),
      lag_condition_(conditions, std::string(kConsumerLag), name),
      // A burst of one second's worth, then the steady rate: AWS IoT throttles per second.
      bucket_(static_cast<double>(cfg_.publishes_per_second), static_cast<double>(cfg_.publishes_per_second)),
      meter_(std::chrono::seconds(cfg_.kinesis_window_s)) {
  if (!cfg_.rule_error_topic.empty())
    session_.subscribe(cfg_.rule_error_topic, 1, [this](const std::string&, const std::string& payload) { on_rule_error(payload); });
}

AwsIotSink::~AwsIotSink() { session_.disconnect(); }

DeliveryResult AwsIotSink::failed(mqttc::Error e) {
  e = explain(std::move(e), cfg_.thing_name);
  connect_condition_.raise(evidence_line(e));
  return to_delivery_result(e);
}

std::optional<mqttc::Error> AwsIotSink::ensure_connected() {
  if (session_.connected()) return std::nullopt;
  // Before every connect: a TLS failure would only say "handshake failure", the files say which
  // one is wrong and why.
  if (auto f = mqttc::check_cert_files({cfg_.cert_file, cfg_.key_file, cfg_.key_password, cfg_.ca_file}))
    return f->error;
  return session_.connect();
}

void AwsIotSink::on_rule_error(const std::string& payload) {
  auto parsed = parse_rule_error(payload);
  const auto now = Clock::now();
  rule_errors_.fetch_add(1);
  last_rule_error_ns_.store(ticks(now));
  if (!parsed) {
    rule_condition_.raise("unparsable message on the rule error topic " + cfg_.rule_error_topic + ": " + parsed.error());
    return;
  }
  rule_condition_.raise(evidence(*parsed));
  for (const auto& f : parsed->failures) {
    const std::string_view marker = throughput_marker(f);
    if (marker.empty()) continue;
    last_throughput_error_ns_.store(ticks(now));
    // The marker first: AWS messages are long and may name the exception only near their end.
    lag_condition_.raise("rule " + parsed->rule_name + ": " + f.failed_action + " on " + f.failed_resource +
                         " is throttled (" + std::string(marker) + ": " + f.error_message.substr(0, 200) +
                         "): the stream has too few shards for the gateway's rate");
  }
}

void AwsIotSink::check_lag(Clock::time_point now) {
  const auto hold = std::chrono::seconds(cfg_.rule_error_hold_s);
  const std::int64_t last_rule = last_rule_error_ns_.load();
  if (last_rule != 0 && ticks(now) - last_rule > std::chrono::duration_cast<std::chrono::nanoseconds>(hold).count())
    rule_condition_.clear();
  const std::int64_t last_tp = last_throughput_error_ns_.load();
  const bool throttled_recently =
      last_tp != 0 && ticks(now) - last_tp <= std::chrono::duration_cast<std::chrono::nanoseconds>(hold).count();

  bool over = false;
  if (cfg_.kinesis_shards > 0) {
    // Kinesis Data Streams: 1000 records/s and 1 MiB/s of writes per shard.
    const double cap_records = 1000.0 * static_cast<double>(cfg_.kinesis_shards);
    const double cap_bytes = 1048576.0 * static_cast<double>(cfg_.kinesis_shards);
    const double r = meter_.records_per_s(now), b = meter_.bytes_per_s(now);
    if (r > cap_records || b > cap_bytes) {
      over = true;
      lag_condition_.raise("outgoing " + fixed(r) + " records/s and " + fixed(b) + " bytes/s exceed " +
                           std::to_string(cfg_.kinesis_shards) + " shard(s): " + fixed(cap_records) + " records/s, " +
                           fixed(cap_bytes) + " bytes/s");
    }
  }
  if (!over && !throttled_recently) lag_condition_.clear();
}

void AwsIotSink::publish_shadow_if_changed() {
  if (!cfg_.shadow) return;
  if (report_) {
    GatewayReport r = report_();
    shadow_->set_gateway_version(std::move(r.version));
    for (auto& [device, state] : r.devices) shadow_->set_device(device, std::move(state));
    shadow_->set_failure_modes(std::move(r.failure_modes));
  }
  const std::uint64_t v = shadow_->version();
  if (v == shadow_published_version_) return;
  std::set<std::string> now_reported;
  mqttc::Outgoing m{shadow_update_topic(cfg_.thing_name), shadow_->update_document(shadow_devices_, &now_reported), 1, false};
  // A shadow update that fails is retried with the next batch; it must not hold the samples back.
  if (!session_.publish(std::span<const mqttc::Outgoing>(&m, 1), nullptr,
                        [this](const mqttc::Outgoing&) { std::this_thread::sleep_for(bucket_.take(Clock::now())); })) {
    shadow_published_version_ = v;
    shadow_devices_ = std::move(now_reported);
    ++shadow_updates_;
  }
}

namespace {

// Marks acknowledged[i] for every sample of `batch` whose document is acknowledged. Documents
// come per device in order of first appearance, each device's samples in batch order, split by
// size (documents.hpp), so each document holds the next `samples` samples of its device.
void mark_acknowledged(std::span<const Sample> batch, const std::vector<Document>& docs,
                       const std::vector<std::uint8_t>& doc_acked, std::span<std::uint8_t> acknowledged) {
  // Documents that do not account for the batch exactly: mark nothing (the retry sends all).
  std::size_t total = 0;
  for (const auto& d : docs) total += d.samples;
  if (total != batch.size() || doc_acked.size() != docs.size()) return;
  std::vector<std::pair<std::uint32_t, std::size_t>> next;  // device -> where its next sample is searched
  for (std::size_t k = 0; k < docs.size(); ++k) {
    std::size_t* from = nullptr;
    for (auto& [device, pos] : next)
      if (device == docs[k].device) from = &pos;
    if (!from) {
      next.emplace_back(docs[k].device, 0);
      from = &next.back().second;
    }
    std::size_t i = *from;
    for (std::size_t taken = 0; taken < docs[k].samples && i < batch.size(); ++i) {
      if (batch[i].device != docs[k].device) continue;
      if (doc_acked[k]) acknowledged[i] = 1;
      ++taken;
    }
    *from = i;
  }
}

}  // namespace

DeliveryResult AwsIotSink::deliver(std::span<const Sample> batch) {
  // Holds expire on every attempt, also while the broker is away: a rule error from before an
  // outage must not stay raised for the whole outage.
  check_lag(Clock::now());

  // QoS 1: a retry of a failed batch publishes only the samples whose documents were not
  // acknowledged (matched by content: a batch that comes back different is safe).
  const bool track = cfg_.qos >= 1;
  const std::span<const Sample> todo = retry_.start(batch, track);
  if (todo.empty()) {
    // Every sample's document was acknowledged by earlier attempts.
    retry_.finished();
    skipped_ += retry_.skipped();
    connect_condition_.clear();
    if (session_.connected()) publish_shadow_if_changed();
    return DeliveryResult::ok();
  }
  if (auto e = ensure_connected()) {
    retry_.failed({});
    return failed(std::move(*e));
  }

  pack_documents(todo, catalog_, cfg_.thing_name, static_cast<std::size_t>(cfg_.max_payload_kb) * 1024, docs_,
                 encoder_);
  out_.resize(docs_.size());
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < docs_.size(); ++i) {
    out_[i].topic.clear();
    topic_.render(out_[i].topic, catalog_.device(docs_[i].device), docs_[i].device, 0);
    out_[i].topic = publish_topic(cfg_, out_[i].topic);
    out_[i].payload = std::move(docs_[i].payload);
    out_[i].qos = static_cast<int>(cfg_.qos);
    out_[i].retained = false;
    bytes += out_[i].payload.size();
  }
  // The token bucket paces each publish: AWS IoT allows 100 publishes/s per connection and
  // throttles (or disconnects) beyond it.
  std::size_t acked = 0;
  auto e = session_.publish(
      out_, &acked, [this](const mqttc::Outgoing&) { std::this_thread::sleep_for(bucket_.take(Clock::now())); },
      track ? &document_acked_ : nullptr);
  if (e) {
    // The attempt failed: remember what is acknowledged by now (skipped, or confirmed this time).
    todo_acked_.assign(todo.size(), 0);
    if (track) mark_acknowledged(todo, docs_, document_acked_, todo_acked_);
    retry_.failed(todo_acked_);
    return failed(std::move(*e));
  }
  documents_ += out_.size();
  skipped_ += retry_.skipped();
  retry_.finished();
  connect_condition_.clear();
  const auto now = Clock::now();
  meter_.add(now, out_.size(), bytes);
  check_lag(now);
  publish_shadow_if_changed();
  return DeliveryResult::ok();
}

}  // namespace pm500::sinks::aws_iot
