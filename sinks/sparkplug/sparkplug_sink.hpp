// The Sparkplug B sink: the gateway as an edge node, each meter a device.
//
// Session (Sparkplug 3.0): every connection gets a new bdSeq (0..255, persisted in
// state_dir/sinks/<name>/bdseq, so it also moves on across restarts) and registers NDEATH with it
// as the MQTT will. Before any data: NBIRTH (seq 0, bdSeq, Node Control/Rebirth, the gateway's
// version and active failure modes), then a DBIRTH per meter at its first sample, with every
// metric of its profile (the values of that sample and the last ones told, the rest null). Then DDATA by alias, one message per sample, with the values that
// changed beyond their unit's deadband (or all of them), timestamped with the sample's source
// time; seq counts every message but NDEATH, 0..255 wrapping. A meter whose connection the
// scanner reports lost (or that is silent for its timeout) gets a DDEATH, and a new DBIRTH with
// its first sample after it. NCMD Node Control/Rebirth is answered with a
// new birth sequence; writes are refused with a log line (the gateway is read-only). With a
// primary host, nothing is born before its STATE says online; while it is offline deliveries
// fail (the pipeline spools) and the backlog goes out with is_historical = true.
//
// Delivery is the MQTT sink's: a batch is confirmed once every message is acknowledged (QoS 1
// by default), a retry skips what the broker acknowledged, and any failure ends the session:
// the next attempt connects with a new bdSeq and is born again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/sink.hpp"
#include "sinks/common/condition_latch.hpp"
#include "sinks/common/mqtt/acked_samples.hpp"
#include "sinks/common/mqtt/session.hpp"
#include "sinks/sparkplug/config.hpp"
#include "sinks/sparkplug/metrics.hpp"

namespace pm500::sinks::sparkplug {

struct Identity {
  std::string group_id, edge_node_id;
};
// The group and edge node id: as configured, else the site of the catalog's devices ("pm500"
// without devices).
Identity identity(const SparkplugConfig& cfg, const Catalog& catalog);

class SparkplugSink final : public Sink {
 public:
  // state_dir: where bdseq is kept (created); report: the gateway's version and failure modes
  // for NBIRTH and NDATA (may be null).
  SparkplugSink(SparkplugConfig cfg, const Catalog& catalog, ConditionSink* conditions, std::string state_dir,
                std::function<GatewayReport()> report = nullptr, std::string name = "sparkplug");
  ~SparkplugSink() override;
  DeliveryResult deliver(std::span<const Sample> batch) override { return send(batch, false); }
  DeliveryResult deliver_spooled(std::span<const Sample> batch) override { return send(batch, true); }
  void tick(bool live) override;

  const Identity& ids() const { return ids_; }
  // The bdSeq of the current (or last) connection; -1 before the first.
  int bd_seq() const { return bd_seq_; }
  std::uint64_t node_births() const { return node_births_; }
  std::uint64_t messages() const { return messages_; }
  bool host_online() const { return host_online_.load(); }
  // Whether device d has a birth in the current session (its DBIRTH went out, no DDEATH since).
  bool device_born(std::uint32_t d) const { return d < device_born_.size() && device_born_[d] != 0; }
  mqttc::Session& session() { return session_; }

 private:
  struct Slot {  // what the host was told of one device's assembly part: per value, value and time
    std::array<double, kMaxSampleValues> value{}, work{};
    std::array<std::uint64_t, kMaxSampleValues> ms{}, work_ms{};
    std::uint32_t have = 0, work_have = 0;     // bit i: value i was reported
    std::uint64_t live_gen = 0, work_live_gen = 0;
    std::uint64_t epoch = 0;
  };

  DeliveryResult send(std::span<const Sample> batch, bool historical);
  DeliveryResult failed(const mqttc::Error& e);
  std::optional<mqttc::Error> check_files();
  bool host_ready();
  DeliveryResult host_offline_result();
  void lose_births();
  void before_connect(mqttc::SessionSettings& s);
  void on_command(const std::string& topic, const std::string& payload);
  void on_state(const std::string& payload);

  mqttc::Outgoing& next_message();
  void add_node_birth();
  void add_device_birth(std::uint32_t device);
  bool add_data(const Sample& s, bool historical);
  void absorb(const Sample& s);  // takes a sample's values as told (it is in the birth)
  void add_device_death(std::uint32_t device);
  void add_node_data(const std::string& failure_modes);
  std::optional<mqttc::Error> publish_now();
  Slot& working(std::uint32_t device, std::uint16_t assembly, std::uint8_t part);
  static std::string failure_modes_text(const GatewayReport& r);
  void read_report(std::chrono::steady_clock::time_point now);
  bool device_lost(std::uint32_t device, std::chrono::steady_clock::time_point now) const;
  std::chrono::milliseconds device_timeout(std::uint32_t device) const;

  SparkplugConfig cfg_;
  const Catalog& catalog_;
  Identity ids_;
  std::string name_;
  std::string bdseq_path_;
  std::function<GatewayReport()> report_;
  std::string nbirth_topic_, ndeath_topic_, ndata_topic_, ncmd_topic_, dcmd_filter_, state_topic_;
  std::vector<DeviceTable> devices_;
  std::vector<std::string> dbirth_topic_, ddata_topic_, ddeath_topic_;
  mqttc::Session session_;
  ConditionLatch condition_, host_condition_;
  bool report_all_ = false;

  // Session state (the delivery thread's).
  int bd_seq_ = -1;
  std::uint8_t seq_ = 0;
  std::uint64_t connected_at_ = 0;  // session_.connects() when the node was born
  bool node_born_ = false;
  std::vector<std::uint8_t> device_born_;
  std::vector<std::chrono::steady_clock::time_point> last_seen_;
  // Per device: 0 = the gateway's report says its connection is lost (1 = running, or not
  // reported).
  std::vector<std::uint8_t> connection_;
  std::unordered_map<std::string, std::uint32_t> device_of_;  // device name -> index
  std::vector<Slot> slots_;  // slot_base_[device] + DeviceTable::first_slot[assembly - 100] + part
  std::vector<std::size_t> slot_base_;
  std::uint64_t epoch_ = 0, live_gen_ = 1;
  bool after_history_ = false;
  std::vector<std::size_t> touched_;
  std::string birth_failure_modes_;
  std::chrono::steady_clock::time_point last_report_check_{};
  std::uint64_t node_births_ = 0, messages_ = 0;

  // Messages of the attempt being built (reused), and which message carries each sample.
  std::vector<mqttc::Outgoing> out_;
  std::size_t used_ = 0;
  std::vector<Metric> metrics_;
  std::vector<std::vector<Property>> properties_;
  std::vector<std::uint32_t> message_of_;
  std::vector<std::uint8_t> message_acked_, todo_acked_;
  mqttc::RetryFilter retry_;

  // Written by paho's thread.
  std::atomic<bool> rebirth_requested_{false};
  std::atomic<bool> host_known_{false}, host_online_{false};
  std::atomic<std::uint64_t> host_state_ms_{0};
  std::atomic<std::int64_t> host_offline_since_ns_{0};  // steady clock; 0 = online or unknown
};

}  // namespace pm500::sinks::sparkplug
