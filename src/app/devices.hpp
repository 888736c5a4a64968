// The gateway's per-device data path, on the scanner thread: raw assembly bytes -> Sample
// (decode by the device's profile) -> CT/PT scaling -> plausibility -> ring. Nothing here
// allocates or logs per datagram; problems are counted and reported as conditions.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/trend.hpp"
#include "config/config.hpp"
#include "device/decode.hpp"
#include "device/plausibility.hpp"
#include "device/profile.hpp"
#include "device/scaling.hpp"
#include "device/settings.hpp"
#include "pipeline/catalog.hpp"
#include "pipeline/conditions.hpp"
#include "pipeline/journal.hpp"
#include "pipeline/ring.hpp"
#include "pm500/chunked_table.hpp"

namespace pm500::app {

// Live values and counters of one device, readable from any thread (status page, metrics).
struct DeviceCounters {
  std::atomic<std::uint64_t> samples{0};         // pushed into the ring
  std::atomic<std::uint64_t> decode_errors{0};   // payloads that did not match the profile
  std::atomic<std::int64_t> last_sample_ns{0};   // source time of the newest sample
  // T->O connection id of each assembly's Class 1 connection (100..108), stamped on its samples.
  std::array<std::atomic<std::uint32_t>, 9> connection{};
};

class Devices {
 public:
  // Loads each device's profile and settings; an error names the device, the cause and the fix.
  static pm500::expected<std::unique_ptr<Devices>, std::string> create(const config::GatewayConfig& cfg, Ring& ring,
                                                                       ConditionSink& conditions);
  ~Devices();

  // Reloading (main thread; the scanner keeps calling on_data meanwhile). Each device sits at a
  // fixed index (slot) for the life of the process: the scanner and the status page name it by
  // index. Its samples name a catalog entry (entry()): the slot's index at first. The catalog
  // only grows, and an entry never changes what it says, so a sample taken before a reload is
  // named as it was taken, in the ring, the spools and the journal.
  //
  // A device of `dc` at the next index, with a new catalog entry. A changed profile is a device
  // removed and one added: the old slot and entry stay for the samples taken before. Extending
  // the catalog moves it, so the caller stops every sink reading it first (and starts them again
  // after); the journal, if any, writes under the new layout from then on. An error names the
  // device and the cause.
  pm500::expected<std::uint32_t, std::string> add(const config::GatewayConfig& cfg, const config::DeviceSection& dc);
  // New settings (ratios, nominal voltage, wiring, asset) for the device at `index`, same profile
  // and name: the next datagram is scaled and checked with them; its findings start afresh. A new
  // asset is a new catalog entry (as add(): the caller stops the sinks first).
  pm500::expected<void, std::string> update(std::uint32_t index, const config::DeviceSection& dc);
  // Taken out: nothing more is decoded for it; a later add() of the same name at the same index
  // is revive(). Its catalog entry stays (samples in the ring and spools still name it).
  void remove(std::uint32_t index);
  pm500::expected<void, std::string> revive(std::uint32_t index, const config::DeviceSection& dc);
  bool removed(std::uint32_t index) const;
  // The index of the device named `name`: the running one, else the newest removed one, if any.
  std::optional<std::uint32_t> index_of(std::string_view name) const;
  // The catalog entry the next samples of the device at `index` name.
  std::uint32_t entry(std::uint32_t index) const;

  // The scanner's data callback, for one payload. Scanner thread only; never allocates.
  void on_data(std::uint32_t device, std::uint16_t assembly, std::span<const std::uint8_t> data,
               std::int64_t recv_time_ns, std::uint16_t sequence, bool explicit_read) noexcept;
  // End of a batch of on_data() calls (scanner thread): the journal, if any, writes it.
  void on_batch_end() noexcept {
    if (journal_) journal_->commit();
    ring_.notify();  // a system call only when a sink is asleep
  }
  // Durable mode: every sample is staged in the journal as it enters the ring, and the journal
  // follows the catalog's growth (Journal::set_layout). Before the scanner starts.
  void set_journal(Journal* journal) { journal_ = journal; }
  // A Class 1 connection of an assembly opened (scanner thread): its samples carry the id.
  void on_connection(std::uint32_t device, std::uint16_t assembly, std::uint32_t t_o_id) noexcept;
  // The meter's attribute-4 size of an assembly, read at connect: checked against the profile.
  void on_assembly_size(std::uint32_t device, std::uint16_t assembly, std::uint16_t bytes);

  const Catalog& catalog() const { return catalog_; }
  const DeviceCounters& counters(std::uint32_t device) const;
  // The newest decoded (and scaled) sample of an assembly (of one part of it: Sample::part), for
  // the status page.
  bool latest(std::uint32_t device, std::uint16_t assembly, Sample& out, std::uint8_t part = 0) const;
  std::vector<device::ActiveFinding> findings(std::uint32_t device) const;
  // The newest value of every element of every assembly received, with its unit, and whether
  // an active plausibility finding makes it suspect (device::affects): `finding` names the first
  // such finding ("current_vs_ct"), empty when the value is not suspect.
  struct NamedValue {
    std::string name, unit;
    double value;
    std::string_view finding;
  };
  std::vector<NamedValue> values(std::uint32_t device) const;
  // The trend of the device named `name` up to now_ns (src/app/trend.hpp); nullopt: no such device.
  std::optional<std::vector<Trend::Series>> trend(std::string_view name, std::int64_t now_ns) const;
  // The profile a device is decoded by, and its plausibility check (with the device's ratios,
  // who applies them, and the thresholds).
  const device::Profile& profile(std::uint32_t device) const;
  const device::Plausibility& plausibility(std::uint32_t device) const;
  // Devices so far, removed ones included (their indexes are not reused); the catalog may have
  // more entries (an asset changed by a reload).
  std::size_t size() const { return count_.load(std::memory_order_acquire); }

 private:
  struct State;
  class FindingBridge;
  Devices(Ring& ring, ConditionSink& conditions);
  // A device's state from its section (profile loaded or shared, settings checked).
  pm500::expected<std::unique_ptr<State>, std::string> make_state(const config::GatewayConfig& cfg,
                                                                  const config::DeviceSection& dc,
                                                                  const std::shared_ptr<const device::Profile>* profile);
  DeviceMeta make_meta(const config::GatewayConfig& cfg, const config::DeviceSection& dc, const State& st) const;
  // The state at an index, or nullptr (any thread: the slots never move).
  State* at(std::uint32_t device) const {
    return device < size() ? slots_[device].load(std::memory_order_acquire) : nullptr;  // size() acquires
  }
  // The journal, if any, writes under the grown catalog's layout from now on.
  void journal_layout();
  // Publishes `st` at `index` (replacing: the old state is kept alive, the scanner may hold it).
  void put(std::uint32_t index, std::unique_ptr<State> st);

  Ring& ring_;
  Journal* journal_ = nullptr;
  ConditionSink& conditions_;
  Catalog catalog_;
  // Slots that never move, so readers on any thread index without a lock while a reload adds
  // devices (ChunkedTable: a million of them); a state is replaced by publishing another pointer
  // (release), read with acquire. Every state ever made is owned by owned_ until destruction:
  // the scanner thread may still be decoding with a replaced one.
  ChunkedTable<std::atomic<State*>> slots_;
  std::atomic<std::size_t> count_{0};
  std::vector<std::unique_ptr<State>> owned_;  // main thread only
  // The field names of each profile in use, built once and shared by its devices' DeviceMeta
  // (main thread only). Keyed by address: every profile stays alive in owned_'s states.
  mutable std::map<const device::Profile*, decltype(DeviceMeta::fields)> field_names_;
  std::unique_ptr<FindingBridge> bridge_;
};

}  // namespace pm500::app
