#include "app/devices.hpp"

#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "pipeline/layout.hpp"

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
  // Every finding of a device at once: its settings were replaced (a reload), or it was removed.
  void clear_device(std::string_view dev) {
    std::lock_guard lock(mu_);
    auto it = active_.find(std::string(dev));
    if (it == active_.end() || it->second.empty()) return;
    active_.erase(it);
    conditions_.clear("meter.erratic_readings", dev);
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
  // The catalog entry its samples name (Sample::device): the slot's own index at first; a reload
  // that changes the asset gives the device a new entry, the old one naming the samples before.
  std::uint32_t entry = 0;
  std::shared_ptr<const device::Profile> profile;
  std::unique_ptr<device::Scaler> scaler;
  std::unique_ptr<device::Plausibility> plausibility;
  // Shared with the state that replaces this one on a reload: the counts go on.
  std::shared_ptr<DeviceCounters> counters = std::make_shared<DeviceCounters>();
  std::atomic<bool> removed{false};
  // Newest sample per assembly 100..108 and part (Sample::part; sized from the profile once, a
  // count of 0 = none yet), guarded by a tiny lock taken once per datagram on the scanner thread
  // and rarely by the status page; uncontended in practice.
  mutable std::mutex latest_mu;
  std::array<std::vector<Sample>, 9> latest{};
  std::array<bool, 9> size_reported{};
  std::unique_ptr<Trend> trend;  // the headline values' history, guarded by latest_mu
};

namespace {

// How often each assembly of the device arrives: the RPI, or the poll interval of explicit reads.
std::int64_t rpi_of(const config::DeviceSection& dc) {
  return dc.connection == "explicit" && dc.poll_interval_ms > 0 ? dc.poll_interval_ms : dc.rpi_ms;
}

}  // namespace

Devices::Devices(Ring& ring, ConditionSink& conditions)
    : ring_(ring),
      conditions_(conditions),
      bridge_(std::make_unique<FindingBridge>(conditions)) {}
Devices::~Devices() = default;

pm500::expected<std::unique_ptr<Devices::State>, std::string> Devices::make_state(
    const config::GatewayConfig& cfg, const config::DeviceSection& dc,
    const std::shared_ptr<const device::Profile>* shared) {
  std::shared_ptr<const device::Profile> prof = shared ? *shared : nullptr;
  if (!prof) {
    std::string path = dc.profile;
    auto base = std::filesystem::path(cfg.source_file).parent_path();
    if (!path.empty() && std::filesystem::path(path).is_relative()) path = (base / path).string();
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
  for (std::size_t a = 0; a < st->latest.size(); ++a)
    if (const device::Assembly* asmb = prof->assembly(static_cast<std::uint16_t>(device::kFirstAssembly + a)))
      st->latest[a].resize(asmb->part_count());
  st->trend = std::make_unique<Trend>(Trend::channels(*prof, Trend::names_of(*prof)));
  device::Thresholds th;
  // Values of another assembly (101 vs 102) are compared only when recent: allow for the poll.
  th.max_skew_ns = std::max<std::int64_t>(th.max_skew_ns, 3 * dc.poll_interval_ms * 1'000'000);
  st->plausibility = std::make_unique<device::Plausibility>(*prof, *settings, th, bridge_.get());
  return st;
}

DeviceMeta Devices::make_meta(const config::GatewayConfig& cfg, const config::DeviceSection& dc,
                              const State& st) const {
  DeviceMeta meta;
  meta.name = dc.name;
  meta.site = cfg.gateway.site;
  meta.asset = dc.asset;
  meta.rpi_ms = rpi_of(dc);
  auto [names, added] = field_names_.try_emplace(st.profile.get());
  if (added) names->second = device::field_names(*st.profile);
  device::fill_field_names(*st.profile, meta, &names->second);
  meta.ct = dc.ct;
  meta.pt = dc.pt;
  meta.ratios_applied_by = dc.ratios_applied_by;
  return meta;
}

void Devices::journal_layout() {
  if (!journal_) return;
  if (auto r = journal_->set_layout(layout::encode(catalog_)); !r)
    spdlog::error("{}; the new device's samples are journaled under the older layout, and a restart after a crash "
                  "dead-letters them instead of delivering them", r.error());
}

void Devices::put(std::uint32_t index, std::unique_ptr<State> st) {
  State* p = st.get();
  owned_.push_back(std::move(st));
  slots_.grow(index + 1);  // checked by add()
  slots_[index].store(p, std::memory_order_release);  // pairs with the acquire in at()
  if (index >= count_.load(std::memory_order_relaxed)) count_.store(index + 1, std::memory_order_release);
}

pm500::expected<std::unique_ptr<Devices>, std::string> Devices::create(const config::GatewayConfig& cfg, Ring& ring,
                                                                       ConditionSink& conditions) {
  if (cfg.devices.size() > decltype(slots_)::capacity())
    return pm500::unexpected(std::to_string(cfg.devices.size()) + " devices configured, more than the " +
                             std::to_string(decltype(slots_)::capacity()) + " one gateway process can hold: split them "
                             "across gateways");
  std::unique_ptr<Devices> d(new Devices(ring, conditions));
  std::map<std::string, std::shared_ptr<const device::Profile>> profiles;  // shared by devices using one file
  for (const auto& dc : cfg.devices) {
    auto& prof = profiles[dc.profile];
    auto st = d->make_state(cfg, dc, prof ? &prof : nullptr);
    if (!st) return pm500::unexpected(st.error());
    prof = (*st)->profile;
    d->catalog_.devices.push_back(d->make_meta(cfg, dc, **st));
    (*st)->entry = static_cast<std::uint32_t>(d->catalog_.devices.size() - 1);
    d->put(static_cast<std::uint32_t>(d->catalog_.devices.size() - 1), std::move(*st));
  }
  return d;
}

pm500::expected<std::uint32_t, std::string> Devices::add(const config::GatewayConfig& cfg,
                                                         const config::DeviceSection& dc) {
  const std::size_t index = size();
  if (index >= decltype(slots_)::capacity())
    return pm500::unexpected("device " + dc.name + ": the running gateway has had " + std::to_string(index) +
                             " devices (removed ones included), the most one process can hold: restart it (a new "
                             "process numbers only the devices of its file)");
  auto st = make_state(cfg, dc, nullptr);
  if (!st) return pm500::unexpected(st.error());
  catalog_.devices.push_back(make_meta(cfg, dc, **st));
  (*st)->entry = static_cast<std::uint32_t>(catalog_.devices.size() - 1);
  journal_layout();  // before its first sample
  put(static_cast<std::uint32_t>(index), std::move(*st));
  return static_cast<std::uint32_t>(index);
}

pm500::expected<void, std::string> Devices::update(std::uint32_t index, const config::DeviceSection& dc) {
  State* old = at(index);
  if (!old) return pm500::unexpected("device " + dc.name + ": no such device");
  config::GatewayConfig none;
  auto st = make_state(none, dc, &old->profile);
  if (!st) return pm500::unexpected(st.error());
  DeviceMeta& meta = catalog_.devices[old->entry];
  if (meta.asset != dc.asset) {
    // Samples from now on name a new entry; the old one keeps naming those taken before.
    DeviceMeta next = meta;
    next.asset = dc.asset;
    next.ct = dc.ct;
    next.pt = dc.pt;
    next.ratios_applied_by = dc.ratios_applied_by;
    next.rpi_ms = rpi_of(dc);
    catalog_.devices.push_back(std::move(next));
    (*st)->entry = static_cast<std::uint32_t>(catalog_.devices.size() - 1);
    journal_layout();  // before its first sample
  } else {
    (*st)->entry = old->entry;
    meta.rpi_ms = rpi_of(dc);
  }
  (*st)->counters = old->counters;
  {
    std::lock_guard lock(old->latest_mu);
    (*st)->latest = old->latest;
  }
  bridge_->clear_device(dc.name);  // the old settings' findings: the new ones judge afresh
  put(index, std::move(*st));
  return {};
}

void Devices::remove(std::uint32_t index) {
  State* st = at(index);
  if (!st) return;
  st->removed.store(true, std::memory_order_relaxed);
  bridge_->clear_device(st->name);
}

pm500::expected<void, std::string> Devices::revive(std::uint32_t index, const config::DeviceSection& dc) {
  if (auto r = update(index, dc); !r) return r;
  return {};
}

bool Devices::removed(std::uint32_t index) const {
  const State* st = at(index);
  return !st || st->removed.load(std::memory_order_relaxed);
}

std::optional<std::uint32_t> Devices::index_of(std::string_view name) const {
  std::optional<std::uint32_t> found;  // the running one, else the newest removed one
  for (std::uint32_t i = 0; i < size(); ++i)
    if (const State* st = at(i); st && st->name == name) {
      found = i;
      if (!st->removed.load(std::memory_order_relaxed)) return i;
    }
  return found;
}

std::uint32_t Devices::entry(std::uint32_t index) const {
  const State* st = at(index);
  return st ? st->entry : index;
}

void Devices::on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data,
                      std::int64_t recv_time_ns, std::uint16_t sequence, bool explicit_read) noexcept {
  State* p = assembly < 100 || assembly > 108 ? nullptr : at(device);
  if (!p || p->removed.load(std::memory_order_relaxed)) return;
  State& st = *p;
  const device::Assembly* a = st.profile->assembly(assembly);
  if (!a || data.size() != a->size_bytes) {
    // The size check at connect (attribute 4) reports the cause; here only count.
    st.counters->decode_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // One Sample per part (an assembly of more than 18 elements has several), all with the
  // datagram's time, sequence and connection.
  const std::size_t parts = a->part_count();
  for (std::size_t part = 0; part < parts; ++part) {
    Sample s;
    s.source_time_ns = recv_time_ns;
    s.device = st.entry;
    s.sequence = sequence;
    s.flags = explicit_read ? kSampleExplicit : 0;
    s.connection = explicit_read ? 0 : st.counters->connection[assembly - 100].load(std::memory_order_relaxed);
    (void)device::decode(*a, data, s, part);  // cannot fail: size checked, part exists
    st.scaler->apply(s);
    st.plausibility->check(s);
    ring_.push(s);
    if (journal_) journal_->stage(s);
    std::lock_guard lock(st.latest_mu);
    st.latest[assembly - 100][part] = s;
    st.trend->add(s);
  }
  st.counters->samples.fetch_add(parts, std::memory_order_relaxed);
  st.counters->last_sample_ns.store(recv_time_ns, std::memory_order_relaxed);
}

void Devices::on_connection(std::uint32_t device, std::uint16_t assembly, std::uint32_t t_o_id) noexcept {
  if (State* st = at(device); st && assembly >= 100 && assembly <= 108)
    st->counters->connection[assembly - 100].store(t_o_id, std::memory_order_relaxed);
}

void Devices::on_assembly_size(std::uint32_t device, std::uint16_t assembly, std::uint16_t bytes) {
  State* p = at(device);
  if (!p) return;
  State& st = *p;
  auto r = device::check_assembly_size(*st.profile, assembly, bytes, st.name);
  std::string subject = st.name + "/" + std::to_string(assembly);
  if (!r) conditions_.raise("meter.profile_mismatch", subject, r.error());
  else conditions_.clear("meter.profile_mismatch", subject);
}

const DeviceCounters& Devices::counters(std::uint32_t device) const {
  State* st = at(device);
  if (!st) throw std::out_of_range("no device " + std::to_string(device));
  return *st->counters;
}

bool Devices::latest(std::uint32_t device, std::uint16_t assembly, Sample& out, std::uint8_t part) const {
  const State* p = assembly < 100 || assembly > 108 ? nullptr : at(device);
  if (!p) return false;
  const State& st = *p;
  std::lock_guard lock(st.latest_mu);
  const auto& latest = st.latest[assembly - 100];
  if (part >= latest.size() || latest[part].count == 0) return false;
  out = latest[part];
  return true;
}

std::vector<Devices::NamedValue> Devices::values(std::uint32_t device) const {
  std::vector<NamedValue> out;
  const State* p = at(device);
  if (!p) return out;
  const State& st = *p;
  std::array<device::FindingKind, device::kFindingKinds> active{};
  std::size_t n_active = 0;
  for (std::size_t k = 0; k < device::kFindingKinds; ++k)
    if (st.plausibility->active(static_cast<device::FindingKind>(k))) active[n_active++] = static_cast<device::FindingKind>(k);
  auto suspect = [&](device::Quantity q) -> std::string_view {
    for (std::size_t i = 0; i < n_active; ++i)
      if (device::affects(active[i], q)) return device::to_string(active[i]);
    return {};
  };
  for (std::uint16_t a = device::kFirstAssembly; a <= device::kLastAssembly; ++a)
    for (std::size_t part = 0; part < st.latest[a - 100].size(); ++part) {
      Sample s;
      {
        std::lock_guard lock(st.latest_mu);
        s = st.latest[a - 100][part];
      }
      const device::Assembly* asmb = st.profile->part(a, part);
      if (!asmb) continue;
      for (std::size_t i = 0; i < asmb->elements.size() && i < s.count; ++i)
        out.push_back({asmb->elements[i].name, asmb->elements[i].unit, s.values[i], suspect(asmb->elements[i].kind)});
    }
  return out;
}

std::optional<std::vector<Trend::Series>> Devices::trend(std::string_view name, std::int64_t now_ns) const {
  for (std::uint32_t i = 0; i < size(); ++i)
    if (const State* st = at(i); st && st->name == name && !st->removed.load(std::memory_order_relaxed)) {
      std::lock_guard lock(st->latest_mu);
      return st->trend->read(now_ns);
    }
  return std::nullopt;
}

const device::Profile& Devices::profile(std::uint32_t device) const {
  State* st = at(device);
  if (!st) throw std::out_of_range("no device " + std::to_string(device));
  return *st->profile;
}

const device::Plausibility& Devices::plausibility(std::uint32_t device) const {
  State* st = at(device);
  if (!st) throw std::out_of_range("no device " + std::to_string(device));
  return *st->plausibility;
}

std::vector<device::ActiveFinding> Devices::findings(std::uint32_t device) const {
  const State* st = at(device);
  return st ? st->plausibility->snapshot() : std::vector<device::ActiveFinding>{};
}

}  // namespace pm500::app
