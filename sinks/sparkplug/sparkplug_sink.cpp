#include "sinks/sparkplug/sparkplug_sink.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sinks/common/mqtt/cert_check.hpp"
#include "sinks/mqtt/errors.hpp"

namespace pm500::sinks::sparkplug {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::string_view kNamespace = "spBv1.0";
constexpr std::string_view kRebirth = "Node Control/Rebirth";
// Node metric aliases (device metrics start at 100000, see device_alias()).
constexpr std::uint64_t kRebirthAlias = 1, kVersionAlias = 2, kFailureModesAlias = 3;
constexpr std::uint32_t kNoMessage = ~std::uint32_t{0};

std::uint64_t now_ms() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::uint64_t source_ms(const Sample& s) {
  return s.source_time_ns > 0 ? static_cast<std::uint64_t>(s.source_time_ns / 1'000'000) : 0;
}

// Whether the host must hear of v, given it last heard `last` (Sparkplug report by exception).
bool differs(double v, double last, double deadband) {
  if (std::isnan(v) || std::isnan(last)) return std::isnan(v) != std::isnan(last);
  return deadband > 0 ? std::fabs(v - last) > deadband : v != last;
}

// The next bdSeq (0..255): one more than the last one used, kept in `path` across restarts.
int next_bd_seq(const std::string& path) {
  int last = -1;
  if (std::ifstream in(path); in) in >> last;
  const int next = last < 0 ? 0 : (last + 1) % 256;
  const std::string tmp = path + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fprintf(f, "%d\n", next);
    std::fflush(f);
    (void)::fdatasync(fileno(f));
    std::fclose(f);
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) spdlog::warn("sparkplug: cannot keep bdSeq in {}: {}", path, ec.message());
  } else {
    spdlog::warn("sparkplug: cannot keep bdSeq in {}: {}", path, std::strerror(errno));
  }
  return next;
}

// A STATE payload: Sparkplug 3.0 JSON {"online": true, "timestamp": ms}, or the older plain
// ONLINE / OFFLINE. nullopt when it is neither.
struct HostState {
  bool online = false;
  std::uint64_t timestamp = 0;
};
std::optional<HostState> parse_state(std::string_view p) {
  if (p == "ONLINE") return HostState{true, 0};
  if (p == "OFFLINE") return HostState{false, 0};
  auto value_after = [&](std::string_view key) -> std::string_view {
    const auto k = p.find(key);
    if (k == std::string_view::npos) return {};
    auto i = p.find(':', k + key.size());
    if (i == std::string_view::npos) return {};
    ++i;
    while (i < p.size() && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) ++i;
    return p.substr(i);
  };
  const std::string_view online = value_after("\"online\"");
  HostState s;
  if (online.starts_with("true")) s.online = true;
  else if (!online.starts_with("false")) return std::nullopt;
  const std::string_view ts = value_after("\"timestamp\"");
  for (char c : ts) {
    if (c < '0' || c > '9') break;
    s.timestamp = s.timestamp * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return s;
}

}  // namespace

Identity identity(const SparkplugConfig& cfg, const Catalog& catalog) {
  std::string site = catalog.devices.empty() || catalog.devices[0].site.empty() ? "pm500" : catalog.devices[0].site;
  return {cfg.group_id.empty() ? site : cfg.group_id, cfg.edge_node_id.empty() ? site : cfg.edge_node_id};
}

SparkplugSink::SparkplugSink(SparkplugConfig cfg, const Catalog& catalog, ConditionSink* conditions,
                             std::string state_dir, std::function<GatewayReport()> report, std::string name)
    : cfg_(std::move(cfg)),
      catalog_(catalog),
      ids_(identity(cfg_, catalog)),
      name_(name),
      report_(std::move(report)),
      session_(mqtt::session_settings(cfg_)),
      condition_(conditions, std::string(mqtt::kPublishFailure), name),
      host_condition_(conditions, std::string(mqtt::kPublishFailure), name + "/primary-host") {
  std::filesystem::path dir = std::filesystem::path(state_dir) / "sinks" / name_;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  bdseq_path_ = (dir / "bdseq").string();
  report_all_ = cfg_.report == "all";
  const std::string g = std::string(kNamespace) + "/" + ids_.group_id + "/";
  const std::string& e = ids_.edge_node_id;
  nbirth_topic_ = g + "NBIRTH/" + e;
  ndeath_topic_ = g + "NDEATH/" + e;
  ndata_topic_ = g + "NDATA/" + e;
  ncmd_topic_ = g + "NCMD/" + e;
  dcmd_filter_ = g + "DCMD/" + e + "/+";
  auto deadbands = parse_deadbands(cfg_.deadband);
  for (std::uint32_t d = 0; d < catalog.devices.size(); ++d) {
    devices_.push_back(device_table(catalog.devices[d], d, deadbands ? *deadbands : std::map<std::string, double>{}));
    dbirth_topic_.push_back(g + "DBIRTH/" + e + "/" + devices_.back().id);
    ddata_topic_.push_back(g + "DDATA/" + e + "/" + devices_.back().id);
    ddeath_topic_.push_back(g + "DDEATH/" + e + "/" + devices_.back().id);
  }
  device_born_.assign(devices_.size(), 0);
  last_seen_.assign(devices_.size(), Clock::time_point{});
  connection_.assign(devices_.size(), 1);
  for (std::uint32_t d = 0; d < devices_.size(); ++d) device_of_.emplace(devices_[d].id, d);
  for (const auto& t : devices_) {
    slot_base_.push_back(slots_.size());
    slots_.resize(slots_.size() + t.slots);
  }
  metrics_.reserve(kMaxSampleValues);
  session_.set_before_connect([this](mqttc::SessionSettings& s) { before_connect(s); });
  session_.subscribe(ncmd_topic_, 1, [this](const std::string& t, const std::string& p) { on_command(t, p); });
  session_.subscribe(dcmd_filter_, 1, [this](const std::string& t, const std::string& p) { on_command(t, p); });
  if (!cfg_.primary_host_id.empty()) {
    state_topic_ = std::string(kNamespace) + "/STATE/" + cfg_.primary_host_id;
    session_.subscribe(state_topic_, 1, [this](const std::string&, const std::string& p) { on_state(p); });
  }
}

SparkplugSink::~SparkplugSink() {
  // A clean shutdown says NDEATH itself: the broker sends the will only when the connection dies.
  if (node_born_ && session_.connected()) session_.disconnect(session_.settings().will);
}

void SparkplugSink::before_connect(mqttc::SessionSettings& s) {
  // Sparkplug 3.0: bdSeq moves on with every CONNECT, and the will (NDEATH) carries it, so a
  // host can tell which birth a death belongs to.
  bd_seq_ = next_bd_seq(bdseq_path_);
  Metric bd;
  bd.name = "bdSeq";
  bd.value = Value::whole(DataType::UInt64, static_cast<std::uint64_t>(bd_seq_));
  Payload p;
  p.metrics = {&bd, 1};
  mqttc::Outgoing will{ndeath_topic_, {}, 1, false};
  (void)encode(p, will.payload);
  s.will = std::move(will);
}

void SparkplugSink::on_command(const std::string& topic, const std::string& payload) {
  const bool node = topic == ncmd_topic_;
  auto metrics = decode_metrics({reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()});
  if (!metrics) {
    spdlog::warn("sink {}: a command on {} was ignored: {}", name_, topic, metrics.error());
    return;
  }
  for (const ReceivedMetric& m : *metrics) {
    if (node && (m.name == kRebirth || (m.name.empty() && m.alias == kRebirthAlias))) {
      if (m.boolean.value_or(false)) {
        spdlog::info("sink {}: {} asks for a rebirth: NBIRTH and every DBIRTH follow", name_, topic);
        rebirth_requested_.store(true);
      }
      continue;
    }
    const std::string what = m.name.empty() ? "alias " + (m.alias ? std::to_string(*m.alias) : std::string("?")) : m.name;
    spdlog::warn("sink {}: write to \"{}\" = {} on {} ignored: the gateway only reads the meters", name_, what,
                 m.value_text, topic);
  }
}

void SparkplugSink::on_state(const std::string& payload) {
  auto s = parse_state(payload);
  if (!s) {
    spdlog::warn("sink {}: {} is not a Sparkplug STATE message (\"{}\"), ignored", name_, state_topic_,
                 payload.substr(0, 80));
    return;
  }
  // An older STATE than the last one (a retained message after a newer live one) is stale.
  if (s->timestamp != 0 && s->timestamp < host_state_ms_.load()) return;
  host_state_ms_.store(s->timestamp);
  host_online_.store(s->online);
  host_known_.store(true);
  if (s->online) {
    host_offline_since_ns_.store(0);
  } else {
    std::int64_t zero = 0;
    host_offline_since_ns_.compare_exchange_strong(zero, Clock::now().time_since_epoch().count());
  }
}

bool SparkplugSink::host_ready() {
  if (cfg_.primary_host_id.empty()) return true;
  // The host's STATE is retained: it arrives right after the subscription of a new connection.
  const auto until = Clock::now() + std::min<std::chrono::milliseconds>(std::chrono::milliseconds(cfg_.ack_timeout_ms), 2s);
  while (!host_known_.load() && Clock::now() < until) std::this_thread::sleep_for(10ms);
  if (!host_known_.load()) {
    std::int64_t zero = 0;
    host_offline_since_ns_.compare_exchange_strong(zero, Clock::now().time_since_epoch().count());
  }
  return host_known_.load() && host_online_.load();
}

DeliveryResult SparkplugSink::host_offline_result() {
  return DeliveryResult::retry(
      "the primary host application \"" + cfg_.primary_host_id + "\" is offline: nothing is published until its STATE on " +
          state_topic_ + " says online; samples wait in the spool and are sent as historical",
      host_known_.load() ? "STATE online=false" : "no STATE message on " + state_topic_);
}

void SparkplugSink::lose_births() {
  node_born_ = false;
  std::fill(device_born_.begin(), device_born_.end(), 0);
}

std::optional<mqttc::Error> SparkplugSink::check_files() {
  if (session_.connected() || (cfg_.cert_file.empty() && cfg_.ca_file.empty())) return std::nullopt;
  auto f = mqttc::check_cert_files({cfg_.cert_file, cfg_.key_file, cfg_.key_password, cfg_.ca_file});
  return f ? std::optional<mqttc::Error>(f->error) : std::nullopt;
}

DeliveryResult SparkplugSink::failed(const mqttc::Error& e) {
  condition_.raise(mqtt::evidence_line(e));
  return mqtt::to_delivery_result(e);
}

mqttc::Outgoing& SparkplugSink::next_message() {
  if (used_ == out_.size()) out_.emplace_back();
  mqttc::Outgoing& m = out_[used_++];
  m.topic.clear();
  m.payload.clear();
  m.qos = static_cast<int>(cfg_.qos);
  m.retained = false;
  return m;
}

SparkplugSink::Slot& SparkplugSink::working(std::uint32_t device, std::uint16_t assembly, std::uint8_t part) {
  const std::size_t idx = slot_base_[device] + devices_[device].first_slot[assembly - 100u] + part;
  Slot& s = slots_[idx];
  if (s.epoch != epoch_) {  // first use in this attempt: start from what the host was told
    s.work = s.value;
    s.work_ms = s.ms;
    s.work_have = s.have;
    s.work_live_gen = s.live_gen;
    s.epoch = epoch_;
    touched_.push_back(idx);
  }
  return s;
}

std::string SparkplugSink::failure_modes_text(const GatewayReport& r) {
  std::string out;
  for (const auto& id : r.failure_modes) out += (out.empty() ? "" : ",") + id;
  return out;
}

void SparkplugSink::read_report(Clock::time_point now) {
  if (!report_ || now - last_report_check_ < 1s) return;
  last_report_check_ = now;
  const GatewayReport r = report_();
  // The scanner's connection state of each meter: a DDEATH follows it (see device_lost()).
  for (std::size_t i = 0; i < r.devices.size() && i < r.running.size(); ++i)
    if (auto it = device_of_.find(r.devices[i].first); it != device_of_.end()) connection_[it->second] = r.running[i];
  if (std::string fm = failure_modes_text(r); fm != birth_failure_modes_) {
    add_node_data(fm);
    birth_failure_modes_ = std::move(fm);
  }
}

bool SparkplugSink::device_lost(std::uint32_t d, Clock::time_point now) const {
  // Sparkplug 3.0: the edge node publishes DDEATH when a device becomes unavailable. The
  // scanner knows first (its connection timed out, was closed or refused); a meter silent for
  // its timeout counts as lost too (no scanner report, or a connection that opens but sends
  // nothing).
  return connection_[d] == 0 || now - last_seen_[d] > device_timeout(d);
}

void SparkplugSink::add_node_birth() {
  seq_ = 0;
  const GatewayReport report = report_ ? report_() : GatewayReport{};
  birth_failure_modes_ = failure_modes_text(report);
  const std::string& version = report.version;
  Metric m[4];
  m[0].name = "bdSeq";
  m[0].value = Value::whole(DataType::UInt64, static_cast<std::uint64_t>(bd_seq_));
  m[1].name = kRebirth;
  m[1].alias = kRebirthAlias;
  m[1].value = Value::whole(DataType::Boolean, 0);
  m[2].name = "Gateway/Version";
  m[2].alias = kVersionAlias;
  m[2].value = Value::string(version);
  m[3].name = "Gateway/Failure modes";
  m[3].alias = kFailureModesAlias;
  m[3].value = Value::string(birth_failure_modes_);
  mqttc::Outgoing& o = next_message();
  o.topic = nbirth_topic_;
  Payload p;
  p.timestamp_ms = now_ms();
  p.seq = seq_++;
  p.metrics = m;
  (void)encode(p, o.payload);
  node_born_ = true;
  connected_at_ = session_.connects();
  ++node_births_;
}

void SparkplugSink::add_device_birth(std::uint32_t device) {
  const DeviceTable& t = devices_[device];
  const std::uint64_t now = now_ms();
  metrics_.clear();
  properties_.resize(t.metrics.size());
  for (std::size_t a = 0; a < t.count.size(); ++a) {
    for (std::size_t k = t.first[a]; k < t.first[a] + t.count[a]; ++k) {
      const std::size_t part = (k - t.first[a]) / kMaxSampleValues, i = (k - t.first[a]) % kMaxSampleValues;
      Slot& slot = working(device, static_cast<std::uint16_t>(100 + a), static_cast<std::uint8_t>(part));
      slot.work_live_gen = live_gen_;  // the birth tells the host every current value
      const DeviceMetric& dm = t.metrics[k];
      Metric m;
      m.name = dm.name;
      m.alias = dm.alias;
      m.value = value_of(dm.type, slot.work[i]);
      if (slot.work_have >> i & 1u) {
        m.timestamp_ms = slot.work_ms[i];
      } else {
        m.is_null = true;  // not received yet: the type is known, the value is not
        m.timestamp_ms = now;
      }
      birth_properties(t, dm, properties_[k]);
      m.properties = properties_[k];
      metrics_.push_back(m);
    }
  }
  mqttc::Outgoing& o = next_message();
  o.topic = dbirth_topic_[device];
  Payload p;
  p.timestamp_ms = now;
  p.seq = seq_++;
  p.metrics = metrics_;
  (void)encode(p, o.payload);
  device_born_[device] = 1;
}

void SparkplugSink::absorb(const Sample& s) {
  if (s.assembly < 100 || s.assembly > 108) return;
  const std::size_t first = std::size_t{s.part} * kMaxSampleValues, count = devices_[s.device].count[s.assembly - 100u];
  const std::size_t n = first < count ? std::min<std::size_t>(s.count, count - first) : 0;
  if (n == 0) return;
  Slot& slot = working(s.device, s.assembly, s.part);
  for (std::size_t i = 0; i < n; ++i) {
    slot.work[i] = s.values[i];
    slot.work_ms[i] = source_ms(s);
    slot.work_have |= 1u << i;
  }
}

bool SparkplugSink::add_data(const Sample& s, bool historical) {
  const DeviceTable& t = devices_[s.device];
  if (s.assembly < 100 || s.assembly > 108) return false;
  const std::size_t a = s.assembly - 100u;
  const std::size_t first = std::size_t{s.part} * kMaxSampleValues;
  const std::size_t n = first < t.count[a] ? std::min<std::size_t>(s.count, t.count[a] - first) : 0;
  if (n == 0) return false;
  Slot& slot = working(s.device, s.assembly, s.part);
  // After a backlog went out as history, the first live sample of each assembly tells every
  // value: the host's current values are still those of the birth.
  const bool all = report_all_ || (!historical && slot.work_live_gen != live_gen_);
  if (!historical) slot.work_live_gen = live_gen_;
  const std::uint64_t ms = source_ms(s);
  metrics_.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const DeviceMetric& dm = t.metrics[t.first[a] + first + i];
    const double v = s.values[i];
    if (!all && (slot.work_have >> i & 1u) && !differs(v, slot.work[i], dm.deadband)) continue;
    slot.work[i] = v;
    slot.work_ms[i] = ms;
    slot.work_have |= 1u << i;
    Metric m;
    m.alias = dm.alias;
    m.timestamp_ms = ms;
    m.with_datatype = false;  // known from the birth (Sparkplug 3.0: not repeated in DDATA)
    m.historical = historical;
    m.value = value_of(dm.type, v);
    metrics_.push_back(m);
  }
  if (metrics_.empty()) return false;
  mqttc::Outgoing& o = next_message();
  o.topic = ddata_topic_[s.device];
  Payload p;
  p.timestamp_ms = ms;
  p.seq = seq_++;
  p.metrics = metrics_;
  (void)encode(p, o.payload);
  return true;
}

void SparkplugSink::add_device_death(std::uint32_t device) {
  mqttc::Outgoing& o = next_message();
  o.topic = ddeath_topic_[device];
  Payload p;
  p.timestamp_ms = now_ms();
  p.seq = seq_++;
  (void)encode(p, o.payload);
  device_born_[device] = 0;
}

void SparkplugSink::add_node_data(const std::string& failure_modes) {
  Metric m;
  m.alias = kFailureModesAlias;
  m.timestamp_ms = now_ms();
  m.with_datatype = false;
  m.value = Value::string(failure_modes);
  mqttc::Outgoing& o = next_message();
  o.topic = ndata_topic_;
  Payload p;
  p.timestamp_ms = m.timestamp_ms;
  p.seq = seq_++;
  p.metrics = {&m, 1};
  (void)encode(p, o.payload);
}

std::chrono::milliseconds SparkplugSink::device_timeout(std::uint32_t device) const {
  if (cfg_.device_timeout_ms > 0) return std::chrono::milliseconds(cfg_.device_timeout_ms);
  const std::int64_t rpi = device < catalog_.devices.size() ? catalog_.devices[device].rpi_ms.get() : 0;
  return std::chrono::milliseconds(rpi > 0 ? std::max<std::int64_t>(4 * rpi, 2000) : 10000);
}

DeliveryResult SparkplugSink::send(std::span<const Sample> batch, bool historical) {
  if (auto f = check_files()) {
    lose_births();
    return failed(*f);
  }
  if (!session_.connected())
    if (auto e = session_.connect()) {
      lose_births();
      return failed(*e);
    }
  if (session_.connects() != connected_at_) lose_births();  // a new connection: nothing is born on it
  if (!host_ready()) {
    if (node_born_) {
      // Sparkplug 3.0: the host went offline; the edge node ends its session (NDEATH) and is
      // born again only after the host's STATE says online.
      spdlog::info("sink {}: primary host application \"{}\" went offline: NDEATH, publishing stops", name_,
                   cfg_.primary_host_id);
      session_.disconnect(session_.settings().will);
      lose_births();
    }
    return host_offline_result();
  }
  const bool track = cfg_.qos >= 1;
  const std::span<const Sample> todo = retry_.start(batch, track);
  if (todo.empty()) {
    retry_.finished();
    condition_.clear();
    return DeliveryResult::ok();
  }
  used_ = 0;
  ++epoch_;
  touched_.clear();
  if (!node_born_) add_node_birth();
  message_of_.assign(todo.size(), kNoMessage);
  const auto now = Clock::now();
  for (std::size_t i = 0; i < todo.size(); ++i) {
    const Sample& s = todo[i];
    if (s.device >= devices_.size()) continue;  // not in the catalog: nothing to name it by
    last_seen_[s.device] = now;
    connection_[s.device] = 1;  // a sample means data flows again, before the next report says so
    if (!device_born_[s.device]) {
      // The birth carries this sample's values: the host learns them with the metrics.
      absorb(s);
      add_device_birth(s.device);
    } else if (!add_data(s, historical)) {
      continue;
    }
    message_of_[i] = static_cast<std::uint32_t>(used_ - 1);
  }
  const std::uint64_t connection = connected_at_;
  std::optional<mqttc::Error> e =
      session_.publish(std::span<const mqttc::Outgoing>(out_.data(), used_), nullptr, nullptr, track ? &message_acked_ : nullptr);
  const bool renewed = !e && session_.connects() != connection;
  if (renewed)  // the connection dropped and came back before the publish: no birth on it
    e = mqttc::Error{mqttc::ErrorKind::disconnected, "the connection was renewed while publishing; sent again after a new birth", ""};
  if (e) {
    todo_acked_.assign(todo.size(), 0);
    if (track && !renewed)
      for (std::size_t j = 0; j < todo.size(); ++j)
        if (message_of_[j] != kNoMessage) todo_acked_[j] = message_acked_[message_of_[j]];
    retry_.failed(todo_acked_);
    lose_births();
    return failed(*e);
  }
  for (std::size_t idx : touched_) {
    Slot& s = slots_[idx];
    s.value = s.work;
    s.ms = s.work_ms;
    s.have = s.work_have;
    s.live_gen = s.work_live_gen;
  }
  if (historical) ++live_gen_;  // the next live sample of each assembly tells every value
  messages_ += used_;
  retry_.finished();
  condition_.clear();
  return DeliveryResult::ok();
}

void SparkplugSink::tick(bool live) {
  const auto now = Clock::now();
  if (!cfg_.primary_host_id.empty()) {
    const std::int64_t since = host_offline_since_ns_.load();
    const auto offline = since == 0 ? Clock::duration::zero() : now.time_since_epoch() - Clock::duration(since);
    if (since != 0 && offline >= std::chrono::seconds(cfg_.host_offline_alert_s))
      host_condition_.raise("the primary host application \"" + cfg_.primary_host_id + "\" has been offline for " +
                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(offline).count()) +
                            " s (" + (host_known_.load() ? "STATE online=false" : "no STATE message") + " on " +
                            state_topic_ + "): the gateway publishes nothing and spools; start the host, or correct " +
                            "primary_host_id");
    else if (since == 0)
      host_condition_.clear();
  }
  if (!node_born_ || !session_.connected() || session_.connects() != connected_at_) return;
  if (!cfg_.primary_host_id.empty() && host_known_.load() && !host_online_.load()) {
    spdlog::info("sink {}: primary host application \"{}\" went offline: NDEATH, publishing stops", name_,
                 cfg_.primary_host_id);
    session_.disconnect(session_.settings().will);
    lose_births();
    return;
  }
  used_ = 0;
  ++epoch_;
  touched_.clear();
  if (rebirth_requested_.exchange(false)) {
    std::vector<std::uint32_t> alive;
    for (std::uint32_t d = 0; d < devices_.size(); ++d)
      if (device_born_[d]) alive.push_back(d);
    lose_births();
    add_node_birth();
    for (std::uint32_t d : alive) add_device_birth(d);
  }
  read_report(now);
  if (live)
    for (std::uint32_t d = 0; d < devices_.size(); ++d)
      if (device_born_[d] && device_lost(d, now)) {
        if (connection_[d] == 0)
          spdlog::info("sink {}: the connection to {} is lost: DDEATH", name_, devices_[d].id);
        else
          spdlog::info("sink {}: no sample of {} for {} ms: DDEATH", name_, devices_[d].id, device_timeout(d).count());
        add_device_death(d);
      }
  if (used_ == 0) return;
  if (auto e = session_.publish(std::span<const mqttc::Outgoing>(out_.data(), used_))) {
    lose_births();
    (void)failed(*e);
    return;
  }
  for (std::size_t idx : touched_) {
    Slot& s = slots_[idx];
    s.live_gen = s.work_live_gen;
  }
  messages_ += used_;
}

}  // namespace pm500::sinks::sparkplug
