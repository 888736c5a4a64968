#include "app/devices.hpp"

#include <filesystem>
#include <map>
#include <mutex>

namespace pm500::app {

// Turns plausibility findings (several kinds per device) into one meter.erratic_readings
// condition per device: raised with the first finding, evidence kept current, cleared when the
// last one clears.
class Devices::FindingBridge final : public device::FindingListener {
 public:
  explicit FindingBridge(ConditionSink& c) : conditions_(c) {}
  void raise(device::FindingKind kind, std::string_view dev, std::string_view message,
             std::string_view evidence) override {
    std::lock_guard lock(mu_);
    auto& active = active_[std::string(dev)];
    active[kind] = std::string(message) + " [" + std::string(evidence) + "]";
    conditions_.raise("meter.erratic_readings", dev, join(active));
  }
  void clear(device::FindingKind kind, std::string_view dev) override {
    std::lock_guard lock(mu_);
    auto& active = active_[std::string(dev)];
    active.erase(kind);
    if (active.empty()) conditions_.clear("meter.erratic_readings", dev);
    else conditions_.raise("meter.erratic_readings", dev, join(active));
  }

 private:
  static std::string join(const std::map<device::FindingKind, std::string>& m) {
    std::string s;
    for (const auto& [k, v] : m) s += (s.empty() ? "" : "; ") + v;
    return s;
  }
  ConditionSink& conditions_;
  std::mutex mu_;
  std::map<std::string, std::map<device::FindingKind, std::string>> active_;
};

struct Devices::State {
  std::string name;
  std::shared_ptr<const device::Profile> profile;
  std::unique_ptr<device::Scaler> scaler;
  std::unique_ptr<device::Plausibility> plausibility;
  std::unique_ptr<DeviceCounters> counters = std::make_unique<DeviceCounters>();
  // Newest sample per assembly 100..108, guarded by a tiny lock taken once per datagram on the
  // scanner thread and rarely by the status page; uncontended in practice.
  mutable std::mutex latest_mu;
  std::array<Sample, 9> latest{};
  std::array<bool, 9> have{};
  std::array<bool, 9> size_reported{};
  std::array<std::uint32_t, 9> connection{};  // T->O id of the open Class 1 connection (scanner thread)
  std::unique_ptr<Trend> trend;  // the headline values' history, guarded by latest_mu
};

Devices::Devices(Ring& ring, ConditionSink& conditions)
    : ring_(ring), conditions_(conditions), bridge_(std::make_unique<FindingBridge>(conditions)) {}
Devices::~Devices() = default;

pm500::expected<std::unique_ptr<Devices>, std::string> Devices::create(const config::GatewayConfig& cfg, Ring& ring,
                                                                       ConditionSink& conditions) {
  std::unique_ptr<Devices> d(new Devices(ring, conditions));
  std::map<std::string, std::shared_ptr<const device::Profile>> profiles;  // shared by devices using one file
  auto base = std::filesystem::path(cfg.source_file).parent_path();
  for (const auto& dc : cfg.devices) {
    std::string path = dc.profile;
    if (!path.empty() && std::filesystem::path(path).is_relative()) path = (base / path).string();
    auto& prof = profiles[path];
    if (!prof) {
      auto p = device::load_profile_for(path);
      if (!p) {
        std::string msg = "device " + dc.name + ": profile " + (path.empty() ? "(built-in)" : path) + " is invalid:";
        for (const auto& e : p.error()) msg += "\n  " + e.str();
        return pm500::unexpected(msg);
      }
      prof = std::make_shared<const device::Profile>(std::move(*p));
    }
    auto settings = device::make_settings(dc.name, dc.ct, dc.pt, dc.ratios_applied_by, dc.nominal_voltage, dc.wiring);
    if (!settings) return pm500::unexpected("device " + dc.name + ": " + settings.error());
    for (auto a : dc.assemblies)
      if (!prof->assembly(static_cast<std::uint16_t>(a)))
        return pm500::unexpected("device " + dc.name + ": assembly " + std::to_string(a) +
                                 " is not described by its profile; remove it from `assemblies` or add it to the "
                                 "profile");
    auto st = std::make_unique<State>();
    st->name = dc.name;
    st->profile = prof;
    st->scaler = std::make_unique<device::Scaler>(*prof, *settings);
    st->trend = std::make_unique<Trend>(Trend::channels(*prof, Trend::names_of(*prof)));
    device::Thresholds th;
    // Values of another assembly (101 vs 102) are compared only when recent: allow for the poll.
    th.max_skew_ns = std::max<std::int64_t>(th.max_skew_ns, 3 * dc.poll_interval_ms * 1'000'000);
    st->plausibility = std::make_unique<device::Plausibility>(*prof, *settings, th, d->bridge_.get());
    DeviceMeta meta;
    meta.name = dc.name;
    meta.site = cfg.gateway.site;
    meta.asset = dc.asset;
    meta.rpi_ms = dc.connection == "explicit" && dc.poll_interval_ms > 0 ? dc.poll_interval_ms : dc.rpi_ms;
    device::fill_field_names(*prof, meta);
    d->catalog_.devices.push_back(std::move(meta));
    d->state_.push_back(std::move(st));
  }
  return d;
}

void Devices::on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data,
                      std::int64_t recv_time_ns, std::uint16_t sequence, bool explicit_read) noexcept {
  if (device >= state_.size() || assembly < 100 || assembly > 108) return;
  State& st = *state_[device];
  Sample s;
  s.source_time_ns = recv_time_ns;
  s.device = device;
  s.sequence = sequence;
  s.flags = explicit_read ? kSampleExplicit : 0;
  s.connection = explicit_read ? 0 : st.connection[assembly - 100];
  if (!device::decode(*st.profile, assembly, data, s)) {
    // The size check at connect (attribute 4) reports the cause; here only count.
    st.counters->decode_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  st.scaler->apply(s);
  st.plausibility->check(s);
  ring_.push(s);
  if (journal_) journal_->stage(s);
  st.counters->samples.fetch_add(1, std::memory_order_relaxed);
  st.counters->last_sample_ns.store(recv_time_ns, std::memory_order_relaxed);
  std::lock_guard lock(st.latest_mu);
  st.latest[assembly - 100] = s;
  st.have[assembly - 100] = true;
  st.trend->add(s);
}

void Devices::on_connection(std::uint32_t device, std::uint16_t assembly, std::uint32_t t_o_id) noexcept {
  if (device < state_.size() && assembly >= 100 && assembly <= 108) state_[device]->connection[assembly - 100] = t_o_id;
}

void Devices::on_assembly_size(std::uint32_t device, std::uint16_t assembly, std::uint16_t bytes) {
  if (device >= state_.size()) return;
  State& st = *state_[device];
  auto r = device::check_assembly_size(*st.profile, assembly, bytes, st.name);
  std::string subject = st.name + "/" + std::to_string(assembly);
  if (!r) conditions_.raise("meter.profile_mismatch", subject, r.error());
  else conditions_.clear("meter.profile_mismatch", subject);
}

const DeviceCounters& Devices::counters(std::uint32_t device) const { return *state_.at(device)->counters; }

bool Devices::latest(std::uint32_t device, std::uint16_t assembly, Sample& out) const {
  if (device >= state_.size() || assembly < 100 || assembly > 108) return false;
  const State& st = *state_[device];
  std::lock_guard lock(st.latest_mu);
  if (!st.have[assembly - 100]) return false;
  out = st.latest[assembly - 100];
  return true;
}

std::vector<Devices::NamedValue> Devices::values(std::uint32_t device) const {
  std::vector<NamedValue> out;
  if (device >= state_.size()) return out;
  const State& st = *state_[device];
  std::array<device::FindingKind, device::kFindingKinds> active{};
  std::size_t n_active = 0;
  for (std::size_t k = 0; k < device::kFindingKinds; ++k)
    if (st.plausibility->active(static_cast<device::FindingKind>(k))) active[n_active++] = static_cast<device::FindingKind>(k);
  auto suspect = [&](device::Quantity q) -> std::string_view {
    for (std::size_t i = 0; i < n_active; ++i)
      if (device::affects(active[i], q)) return device::to_string(active[i]);
    return {};
  };
  for (std::uint16_t a = device::kFirstAssembly; a <= device::kLastAssembly; ++a) {
    Sample s;
    {
      std::lock_guard lock(st.latest_mu);
      if (!st.have[a - 100]) continue;
      s = st.latest[a - 100];
    }
    const device::Assembly* asmb = st.profile->assembly(a);
    if (!asmb) continue;
    for (std::size_t i = 0; i < asmb->elements.size() && i < s.count; ++i)
      out.push_back({asmb->elements[i].name, asmb->elements[i].unit, s.values[i], suspect(asmb->elements[i].kind)});
  }
  return out;
}

std::optional<std::vector<Trend::Series>> Devices::trend(std::string_view name, std::int64_t now_ns) const {
  for (const auto& st : state_)
    if (st->name == name) {
      std::lock_guard lock(st->latest_mu);
      return st->trend->read(now_ns);
    }
  return std::nullopt;
}

const device::Profile& Devices::profile(std::uint32_t device) const { return *state_.at(device)->profile; }

const device::Plausibility& Devices::plausibility(std::uint32_t device) const {
  return *state_.at(device)->plausibility;
}

std::vector<device::ActiveFinding> Devices::findings(std::uint32_t device) const {
  return device < state_.size() ? state_[device]->plausibility->snapshot() : std::vector<device::ActiveFinding>{};
}

}  // namespace pm500::app
