#include "app/gateway.hpp"

#include <signal.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/devices.hpp"
#include "app/exit_codes.hpp"
#include "app/fd_limit.hpp"
#include "app/overload.hpp"
#include "app/reload.hpp"
#include "app/scanning.hpp"
#include "app/simulation.hpp"
#include "app/status_view.hpp"
#include "health/alerts.hpp"
#include "health/registry.hpp"
#include "health/restart_history.hpp"
#include "log/log.hpp"
#include "pipeline/conditions.hpp"
#include "pipeline/delivery.hpp"
#include "pipeline/ring.hpp"
#include "pipeline/sink_plugin.hpp"
#include "sinks/common/json_sample.hpp"
#include "status/server.hpp"
#include "tools/pm500-sim/simulator.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <set>
#include <optional>
#include <thread>

#include "app/version.hpp"

namespace pm500::app {

namespace {

// Sets [section] key in `root` to `value` (a copy; absent: the key is removed).
void set_table_key(toml::table& root, std::string_view section, std::string_view key,
                   toml::node_view<toml::node> value) {
  auto* t = root.get_as<toml::table>(section);
  if (!value) {
    if (t) t->erase(key);
    return;
  }
  if (!t) t = root.insert_or_assign(section, toml::table{}).first->second.as_table();
  t->insert_or_assign(key, *value.node());
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return std::nullopt;
  return text.str();
}

}  // namespace

struct Gateway::Impl {
  // The running configuration: a reload replaces the parts it applies (the sinks), under view_mu.
  config::GatewayConfig cfg;
  // The file as it was read at start (then with the reloads' applied parts): what a reload
  // compares against. nullopt when it could not be read back.
  std::optional<toml::table> running_table;
  ReloadOutcome last_reload;  // guarded by view_mu
  // Meters a reload may add that the open-files limit is raised for at start (raise_fd_limit).
  // Only that limit: the device tables themselves grow without one.
  static constexpr std::size_t kSpareDevices = 256;
  // The scanner and data-path index of each cfg.devices entry, and the section of each index
  // (removed ones included: their indexes are not reused). Guarded by view_mu.
  std::vector<std::uint32_t> device_index;
  std::vector<config::DeviceSection> section_by_index;
  std::shared_ptr<spdlog::logger> log = log::get("gateway");
  health::Registry health;
  std::unique_ptr<health::Acknowledgements> acks;  // operators' acknowledgements and shelves (state_dir)
  std::unique_ptr<health::AlertSender> alerts;  // after `health`: destroyed first
  std::unique_ptr<Ring> ring;
  std::unique_ptr<Devices> devices;
  std::vector<std::unique_ptr<SinkDelivery>> deliveries;
  std::unique_ptr<DiskSpace> disk;  // the reserve on state_dir's filesystem, shared by the spools
  std::unique_ptr<Journal> journal;  // durability = "journal" only
  std::unique_ptr<sim::Simulator> simulator;
  std::unique_ptr<ScanEvents> scan_events;
  std::unique_ptr<cip::Scanner> scanner;
  mutable std::mutex scanner_mu;  // guards the scanner pointer for readers on other threads
  std::unique_ptr<status::Server> status_server;
  mutable std::mutex view_mu;
  StatusViewBuilder view_builder;
  std::int64_t started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  std::uint64_t restarts = 0;
  std::optional<health::RestartHistory> history;
  bool restart_loop_raised = false, memory_raised = false;
  OverloadWatch overload;  // gateway.overload, judged every tick
  std::uint64_t rmem_max = 0;

  // ops.restart_loop: this many starts after unclean exits within the window raise it; it clears
  // once this run has stayed up for the whole window.
  static constexpr std::size_t kRestartLoopUnclean = 3;
  static constexpr std::chrono::minutes kRestartLoopWindow{10};

  void record_start() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    history = health::RestartHistory::open(std::filesystem::path(cfg.gateway.state_dir) / "restart-history", now);
    restarts = history->total_starts() - 1;
    if (history->unclean_within(kRestartLoopWindow) + history->failed_within(kRestartLoopWindow) >=
        kRestartLoopUnclean) {
      health.raise("ops.restart_loop", "", history->summary(kRestartLoopWindow));
      restart_loop_raised = true;
    }
  }

  // Called once a second: clears the restart loop after a full window of uptime, and watches
  // memory against the container's limit (an OOM kill is the usual cause of a silent loop).
  void check_resources() {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    if (restart_loop_raised && now - started_ms >= std::chrono::milliseconds(kRestartLoopWindow).count()) {
      health.clear("ops.restart_loop", "");
      restart_loop_raised = false;
    }
    std::uint64_t limit = cgroup_memory_limit();
    if (limit == 0) return;
    std::uint64_t rss = resident_bytes();
    if (!memory_raised && rss * 10 > limit * 9) {
      health.raise("ops.restart_loop", "memory",
                   "resident memory " + std::to_string(rss >> 20) + " MiB is above 90% of the container limit " +
                       std::to_string(limit >> 20) + " MiB: the kernel will kill the gateway; raise the limit");
      memory_raised = true;
    } else if (memory_raised && rss * 10 < limit * 8) {
      health.clear("ops.restart_loop", "memory");
      memory_raised = false;
    }
  }

  // Called once a second: kernel drops on the Class 1 socket or a saturated scanner thread raise
  // gateway.overload with the evidence; it clears (after clear_hold_ms) once neither is seen.
  void check_overload() {
    cip::ReceiveStats rx;
    {
      std::lock_guard lock(scanner_mu);
      if (!scanner) return;
      rx = scanner->receive_stats();
    }
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    if (auto evidence = overload.evaluate(rx, now, rmem_max))
      health.raise(condition::kOverload, "", *evidence);
    else
      health.clear(condition::kOverload, "");
  }

  // The status server's source: called on its worker threads.
  status::GatewayView view() {
    std::vector<cip::DeviceStatus> scan;
    cip::RejectedDatagrams rejected;
    cip::ReceiveStats receive;
    cip::SetupStats setups;
    bool running = false;
    {
      std::lock_guard lock(scanner_mu);
      if (scanner) {
        scan = scanner->snapshot();
        rejected = scanner->rejected_datagrams();
        receive = scanner->receive_stats();
        setups = scanner->setup_stats();
        running = true;
      }
    }
    if (acks) acks->tick(health.active());  // nothing shown as acknowledged that has changed since
    std::lock_guard lock(view_mu);
    ViewSources src{cfg,        started_ms, restarts, devices.get(), std::move(scan), running, deliveries, health,
                    ring ? ring->capacity() : 0, ring ? ring->head() : 0, alerts.get(), disk.get(), rejected,
                    receive,    acks.get(), &device_index};
    src.setups = setups;
    status::GatewayView v = view_builder.build(src);
    v.reload = {last_reload.at_ms,     last_reload.at_ms == 0 ? "" : last_reload.refused ? "refused" : "applied",
                last_reload.summary(), last_reload.errors,
                last_reload.applied,   last_reload.restart_needed};
    return v;
  }

  pm500::expected<void, std::string> start_status() {
    if (!cfg.status.enabled) return {};
    status_server = std::make_unique<status::Server>(cfg.status, [this] { return view(); });
    if (devices)
      status_server->set_history([this](std::string_view name) { return history_view(*devices, name); });
    if (acks)
      status_server->set_acknowledge(
          [this](const status::AckRequest& r) { return acknowledge(*acks, health, r); });
    if (auto r = status_server->start(); !r) return pm500::unexpected("status page: " + r.error());
    log->info("status page on {} (API /api/status, metrics /metrics, health /health/ready)", status_server->url());
    return {};
  }

  // The gateway's state for cloud sinks (Device Shadow): device connection states and the
  // active failure modes. Called from delivery threads.
  GatewayReport report() const {
    GatewayReport r;
    r.version = kVersion;
    {
      std::lock_guard lock(scanner_mu);
      if (scanner) {
        const auto scan = scanner->snapshot();
        std::lock_guard view_lock(view_mu);
        for (std::size_t i = 0; i < cfg.devices.size() && i < device_index.size(); ++i)
          if (const std::uint32_t at = device_index[i]; at < scan.size()) {
            r.devices.emplace_back(cfg.devices[i].name, std::string(cip::to_string(scan[at].state)) + " (" +
                                                            cip::to_string(scan[at].path_in_use) + ")");
            r.running.push_back(scan[at].state == cip::DeviceState::running ? 1 : 0);
          }
      }
    }
    for (const auto& c : health.active())
      if (std::find(r.failure_modes.begin(), r.failure_modes.end(), c.id) == r.failure_modes.end())
        r.failure_modes.push_back(c.id);
    return r;
  }

  explicit Impl(const config::GatewayConfig& c)
      : cfg(c), health(std::chrono::milliseconds(c.gateway.clear_hold_ms)) {}

  // The sink of one [sinks.NAME] table, not started yet: its settings are checked here.
  pm500::expected<std::unique_ptr<Sink>, std::string> make_sink(const config::SinkSection& section) {
    const SinkPlugin* plugin = find_sink_plugin(section.type);
    if (!plugin) return pm500::unexpected("no sink named " + section.type + " is built in");
    SinkEnv env{devices->catalog(), cfg.gateway.state_dir, &health, [this] { return report(); }};
    auto sink = plugin->create(section, env);
    if (!sink) return pm500::unexpected("sink " + section.type + ": " + sink.error());
    return std::move(*sink);
  }

  // Its delivery: opens the sink's spool and reads the ring from `start` (a restarted sink: where
  // its previous instance stopped), or from the head now.
  pm500::expected<std::unique_ptr<SinkDelivery>, std::string> make_delivery(
      const config::SinkSection& section, std::unique_ptr<Sink> sink, std::optional<std::uint64_t> start = {}) {
    SinkDelivery::Options o;
    o.name = section.type;
    o.state_dir = cfg.gateway.state_dir;
    o.delivery = section.delivery;
    o.conditions = &health;
    o.catalog = &devices->catalog();
    o.disk = disk.get();
    // A sink with its own failure mode for an unreachable destination (mqtt.publish_failure,
    // influxdb.write_error, ...) raises that, with the cause; pipeline.sink_unavailable is for
    // the others, so an outage is one condition, not two.
    o.raise_unavailable = !health::sink_has_own_failure_mode(section.type);
    o.journal = journal.get();
    o.start_position = start;
    o.dead_letter_encoder = [](std::string& out, const Sample& sample, const DeviceMeta* device) {
      json::append_sample(out, sample, device);
    };
    auto d = SinkDelivery::create(*ring, std::move(sink), std::move(o));
    if (!d) return pm500::unexpected("sink " + section.type + ": " + d.error());
    return std::move(*d);
  }

  pm500::expected<void, std::string> start_sinks() {
    for (const auto& section : cfg.sinks) {
      if (!section.delivery.enabled) {
        log->info("sink {} is disabled ([sinks.{}] enabled = false)", section.type, section.type);
        continue;
      }
      auto sink = make_sink(section);
      if (!sink) return pm500::unexpected(sink.error());
      auto d = make_delivery(section, std::move(*sink));
      if (!d) return pm500::unexpected(d.error());
      deliveries.push_back(std::move(*d));
    }
    if (journal) {
      // Every sink took back what the previous run had not secured: the journal starts afresh.
      if (auto r = journal->recovered(); !r) return pm500::unexpected(r.error());
      for (const auto& d : deliveries) journal->track(d->name(), &d->custody_position());
      journal->start();
      devices->set_journal(journal.get());
      log->info("durable mode: every sample is journaled in {} before the sinks read it",
                (std::filesystem::path(cfg.gateway.state_dir) / "journal").string());
    }
    for (const auto& d : deliveries) {
      d->start();
      log->info("sink {} started", d->name());
    }
    if (deliveries.empty()) log->warn("no sink is enabled: samples are read but not delivered anywhere");
    warn_disk_budget();
    // A replay cap below what the meters produce: after an outage the backlog never drains.
    const double produced = config::samples_per_second(cfg);
    for (const auto& section : cfg.sinks)
      if (section.delivery.enabled && section.delivery.replay_rate > 0 &&
          static_cast<double>(section.delivery.replay_rate) < produced * 1.5)
        log->warn("[sinks.{}] replay_rate = {} samples/s is below 1.5 x the {:.0f} samples/s the meters produce: after "
                  "an outage the spool drains slowly or never; remove replay_rate (no cap) or raise it",
                  section.type, section.delivery.replay_rate, produced);
    return {};
  }

  void log_stopped(const SinkDelivery& d) const {
    auto st = d.stats();
    log->info("sink {} stopped: delivered {}, spooled {} (backlog {}), dropped {}", st.name, st.delivered, st.spooled,
              st.spool_backlog, st.dropped_overrun + st.dropped_spool_full);
  }

  // Takes a sink out of the status view, then stops it: what it holds is delivered or spooled
  // (its spool is replayed when a sink of that name runs again). Returns the ring position it
  // stopped at. The journal, if any, keeps what a sink `restarting` has not secured until its
  // next instance runs (start_delivery), and no longer keeps anything for a sink removed.
  std::optional<std::uint64_t> remove_sink(const std::string& name, bool restarting = false) {
    std::unique_ptr<SinkDelivery> d;
    {
      std::lock_guard lock(view_mu);
      auto it = std::find_if(deliveries.begin(), deliveries.end(), [&](const auto& x) { return x->name() == name; });
      if (it == deliveries.end()) return std::nullopt;
      d = std::move(*it);
      deliveries.erase(it);
    }
    d->stop();
    log_stopped(*d);
    if (journal) {
      if (restarting) journal->park(name, d->custody_position().load(std::memory_order_acquire));
      else journal->untrack(name);
    }
    // Its conditions (an outage, a full spool) would stay raised with nothing left to clear them.
    for (const auto& c : health.active())
      if (c.subject == name && (c.id.starts_with("pipeline.") || c.id.starts_with(name + ".")))
        health.clear(c.id, c.subject);
    return d->ring_position();
  }

  // A sink made while the gateway runs (a reload) starts reading; the journal follows it.
  void start_delivery(std::unique_ptr<SinkDelivery> d) {
    if (journal) journal->track(d->name(), &d->custody_position());
    d->start();
    log->info("sink {} started", d->name());
    std::lock_guard lock(view_mu);
    deliveries.push_back(std::move(d));
  }

  // The sinks of a reloaded file: removed ones stop, changed ones restart with their new
  // settings (the new sink is made first, so settings it refuses leave the old one running),
  // added ones start. Unchanged sinks are not touched.
  // Afterwards cfg.sinks and running_table's [sinks] say what runs: a sink that could not start
  // counts as absent (the next reload tries it again), one that kept its old settings keeps its
  // old table.
  void apply_sinks(const ReloadPlan& plan, const config::GatewayConfig& next, const toml::table& next_table,
                   ReloadOutcome& out) {
    auto section_of = [&](const std::string& name) -> const config::SinkSection& {
      return *std::find_if(next.sinks.begin(), next.sinks.end(), [&](const auto& s) { return s.type == name; });
    };
    std::vector<config::SinkSection> sections = next.sinks;
    toml::table raw;
    if (const toml::table* t = next_table.get_as<toml::table>("sinks")) raw = *t;
    const toml::table* old_raw = running_table->get_as<toml::table>("sinks");
    auto keep_old = [&](const std::string& name) {
      std::erase_if(sections, [&](const auto& x) { return x.type == name; });
      raw.erase(name);
      for (const auto& x : cfg.sinks)
        if (x.type == name) sections.push_back(x);
      if (const toml::node* n = old_raw ? old_raw->get(name) : nullptr) raw.insert_or_assign(name, *n);
    };
    auto absent = [&](const std::string& name) {
      std::erase_if(sections, [&](const auto& x) { return x.type == name; });
      raw.erase(name);
    };
    for (const auto& name : plan.sinks_removed) {
      remove_sink(name);
      out.applied.push_back("sink " + name + " removed");
    }
    auto start_one = [&](const std::string& name, bool replaces) {
      const auto& section = section_of(name);
      auto sink = make_sink(section);
      if (!sink) {
        out.errors.push_back(sink.error() + (replaces ? " (the sink keeps its old settings)" : ""));
        if (replaces)
          keep_old(name);
        else
          absent(name);
        return;
      }
      // A changed sink continues where the old one stopped: nothing missed, nothing repeated.
      const auto start = replaces ? remove_sink(name, true) : std::nullopt;
      auto d = make_delivery(section, std::move(*sink), start);
      if (!d) {
        out.errors.push_back(d.error() + "; the sink is not running (the next reload tries again)");
        if (journal) journal->untrack(name);
        absent(name);
        return;
      }
      start_delivery(std::move(*d));
      out.applied.push_back("sink " + name + (replaces ? " restarted with its new settings" : " added"));
    };
    for (const auto& name : plan.sinks_changed) start_one(name, true);
    for (const auto& name : plan.sinks_added) start_one(name, false);
    running_table->insert_or_assign("sinks", std::move(raw));
    std::lock_guard lock(view_mu);
    cfg.sinks = std::move(sections);
  }

  // Stops every running sink, applies `change` (which extends the catalog the sinks name samples
  // by: nothing reads it meanwhile), and starts each sink again where it stopped, so nothing is
  // missed or repeated; samples wait in the ring meanwhile.
  void with_sinks_stopped(const std::function<void()>& change, ReloadOutcome& out) {
    std::vector<std::string> names;
    {
      std::lock_guard lock(view_mu);
      for (const auto& d : deliveries) names.push_back(d->name());
    }
    std::vector<std::pair<std::string, std::optional<std::uint64_t>>> stopped;
    for (const auto& name : names) stopped.emplace_back(name, remove_sink(name, true));
    change();
    for (const auto& [name, position] : stopped) {
      const auto section = std::find_if(cfg.sinks.begin(), cfg.sinks.end(), [&](const auto& s) { return s.type == name; });
      auto sink = section != cfg.sinks.end()
                      ? make_sink(*section)
                      : pm500::expected<std::unique_ptr<Sink>, std::string>(pm500::unexpected("sink " + name + " is not configured"));
      auto d = sink ? make_delivery(*section, std::move(*sink), position)
                    : pm500::expected<std::unique_ptr<SinkDelivery>, std::string>(pm500::unexpected(sink.error()));
      if (!d) {
        out.errors.push_back(d.error() + "; the sink is not running (the next reload tries again)");
        if (journal) journal->untrack(name);
        continue;
      }
      start_delivery(std::move(*d));
    }
  }

  // A device's conditions, which would stay raised with nothing left to clear them (it was
  // removed, or reopened with another profile).
  void clear_conditions(const std::string& name) {
    for (const auto& c : health.active())
      if (c.subject == name || c.subject.starts_with(name + "/")) health.clear(c.id, c.subject);
  }

  // The devices of a reloaded file (ReloadPlan): changed ones take their new settings in the data
  // path and, when their connection changed, are reopened by the scanner; removed ones are closed
  // (Forward Close); added ones get the next free index and are opened. The scanner applies its
  // part in its own loop (Scanner::reconfigure), so unchanged meters keep their connections.
  // A device whose new settings are refused keeps its old ones; an added one that is refused is
  // absent (the next reload tries again). Afterwards cfg.devices and running_table's [[devices]]
  // say what runs.
  void apply_devices(const ReloadPlan& plan, const config::GatewayConfig& next, const toml::table& next_table,
                     ReloadOutcome& out) {
    auto name_list = [](const ReloadPlan& p) {
      std::vector<std::string> all = p.devices_added;
      all.insert(all.end(), p.devices_removed.begin(), p.devices_removed.end());
      all.insert(all.end(), p.devices_changed.begin(), p.devices_changed.end());
      return all;
    };
    if (!scanner || !devices || !scan_events) {
      for (const auto& n : name_list(plan)) out.restart_needed.push_back("device " + n + " (no scanner running)");
      return;
    }
    auto in = [](const config::GatewayConfig& c, const std::string& name) -> const config::DeviceSection* {
      for (const auto& d : c.devices)
        if (d.name == name) return &d;
      return nullptr;
    };
    std::set<std::string> keep_old, absent;  // refused: the old section stays, or none
    std::vector<std::string> reopened, settings_only;
    // What extends the catalog runs with the sinks stopped (see with_sinks_stopped): devices
    // added, a changed profile (the device removed and added again: a new index and catalog
    // entry, the old one naming the samples taken before), a changed asset (a new entry).
    std::vector<const config::DeviceSection*> added;
    std::vector<std::pair<std::uint32_t, const config::DeviceSection*>> new_profile, new_asset, revived;
    for (const auto& name : plan.devices_changed) {
      const config::DeviceSection& dc = *in(next, name);
      const config::DeviceSection& was = *in(cfg, name);
      const auto idx = devices->index_of(name);
      auto spec = device_spec(dc);
      auto old_spec = device_spec(was);
      if (!idx || !spec) {
        out.errors.push_back((spec ? "device " + name + ": not running" : spec.error()) +
                             " (the device keeps its old settings)");
        keep_old.insert(name);
        continue;
      }
      if (dc.profile != was.profile) {
        new_profile.emplace_back(*idx, &dc);
        continue;
      }
      (old_spec && *old_spec == *spec ? settings_only : reopened).push_back(name);
      if (dc.asset != was.asset) {
        new_asset.emplace_back(*idx, &dc);
        continue;
      }
      if (auto r = devices->update(*idx, dc); !r) {
        out.errors.push_back(r.error() + " (the device keeps its old settings)");
        keep_old.insert(name);
        std::erase(reopened, name);
        std::erase(settings_only, name);
      }
    }
    for (const auto& name : plan.devices_removed) {
      const auto idx = devices->index_of(name);
      if (!idx) continue;
      devices->remove(*idx);
      clear_conditions(name);
      out.applied.push_back("device " + name + " removed (Forward Close)");
    }
    for (const auto& name : plan.devices_added) {
      const config::DeviceSection& dc = *in(next, name);
      if (auto spec = device_spec(dc); !spec) {
        out.errors.push_back(spec.error() + " (the device is not added)");
        absent.insert(name);
      } else if (const auto idx = devices->index_of(name); idx && section_by_index[*idx].profile == dc.profile) {
        // Removed by an earlier reload and back with the same profile: its index again (a new
        // catalog entry when its asset changed meanwhile).
        if (section_by_index[*idx].asset != dc.asset) {
          revived.emplace_back(*idx, &dc);
        } else if (auto r = devices->revive(*idx, dc); !r) {
          out.errors.push_back(r.error() + " (the device is not added)");
          absent.insert(name);
        } else {
          out.applied.push_back("device " + name + " added");
        }
      } else {
        added.push_back(&dc);
      }
    }
    if (!added.empty() || !new_profile.empty() || !new_asset.empty() || !revived.empty())
      with_sinks_stopped(
          [&] {
            std::lock_guard lock(view_mu);
            for (const auto* dc : added) {
              auto idx = devices->add(next, *dc);
              if (!idx) {
                out.errors.push_back(idx.error() + " (the device is not added)");
                absent.insert(dc->name);
                continue;
              }
              scan_events->set_name(*idx, dc->name);
              out.applied.push_back("device " + dc->name + " added");
            }
            for (const auto& [old, dc] : new_profile) {
              auto idx = devices->add(next, *dc);
              if (!idx) {
                out.errors.push_back(idx.error() + " (the device keeps its old settings)");
                keep_old.insert(dc->name);
                continue;
              }
              devices->remove(old);  // closed by the scanner below; its samples so far keep its names
              clear_conditions(dc->name);
              scan_events->set_name(*idx, dc->name);
              out.applied.push_back("device " + dc->name + " reopened with its new profile");
            }
            for (const auto& [idx, dc] : new_asset)
              if (auto r = devices->update(idx, *dc); !r) {
                out.errors.push_back(r.error() + " (the device keeps its old settings)");
                keep_old.insert(dc->name);
                std::erase(reopened, dc->name);
                std::erase(settings_only, dc->name);
              }
            for (const auto& [idx, dc] : revived)
              if (auto r = devices->revive(idx, *dc); !r) {
                out.errors.push_back(r.error() + " (the device is not added)");
                absent.insert(dc->name);
              } else {
                out.applied.push_back("device " + dc->name + " added");
              }
          },
          out);
    for (const auto& n : reopened) out.applied.push_back("device " + n + " reopened with its new settings");
    for (const auto& n : settings_only)
      out.applied.push_back("device " + n + " takes its new settings (connection unchanged)");

    // What runs now: the file's devices in its order, but for the refused ones.
    std::vector<config::DeviceSection> sections;
    toml::array raw;
    const toml::array* next_raw = next_table.get_as<toml::array>("devices");
    const toml::array* old_raw = running_table->get_as<toml::array>("devices");
    auto raw_of = [](const toml::array* arr, const std::string& name) -> const toml::node* {
      if (arr)
        for (const auto& e : *arr)
          if (const toml::table* t = e.as_table(); t && (*t)["name"].value<std::string>() == name) return &e;
      return nullptr;
    };
    for (const auto& dc : next.devices) {
      if (absent.contains(dc.name)) continue;
      const bool old = keep_old.contains(dc.name);
      sections.push_back(old ? *in(cfg, dc.name) : dc);
      if (const toml::node* n = raw_of(old ? old_raw : next_raw, dc.name)) raw.push_back(*n);
    }
    std::vector<std::optional<cip::DeviceSpec>> specs(devices->size());
    std::vector<std::uint32_t> index;
    for (const auto& dc : sections) {
      const auto idx = devices->index_of(dc.name);
      if (!idx) continue;
      index.push_back(*idx);
      if (auto spec = device_spec(dc)) specs[*idx] = std::move(*spec);
    }
    if (auto r = scanner->reconfigure(std::move(specs)); !r)
      out.errors.push_back("scanner: " + r.error() + " (the scanner keeps its devices as they were)");
    running_table->insert_or_assign("devices", std::move(raw));
    std::lock_guard lock(view_mu);
    if (section_by_index.size() < devices->size()) section_by_index.resize(devices->size());
    for (std::size_t i = 0; i < sections.size(); ++i) section_by_index[index[i]] = sections[i];
    cfg.devices = std::move(sections);
    device_index = std::move(index);
  }

  ReloadOutcome reload() {
    ReloadOutcome out;
    out.at_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const auto text = read_text(cfg.source_file);
    if (!text) {
      out.refused = true;
      out.errors.push_back("cannot read " + cfg.source_file + ": " + std::strerror(errno) +
                           "; the file must stay readable by the gateway's user");
      return out;
    }
    auto next = config::load_string(*text, cfg.source_file, sink_schemas());
    if (!next) {
      out.refused = true;
      for (const auto& d : next.error()) out.errors.push_back(d.str());
      return out;
    }
    auto next_table = parse_toml(*text, cfg.source_file);
    if (!running_table || !next_table) {
      out.restart_needed.push_back("everything (the file read at start could not be read back to compare)");
      return out;
    }
    const ReloadPlan plan = plan_reload(cfg, *running_table, *next, *next_table);
    out.restart_needed = plan.restart_needed;
    if (!plan.log_level.empty()) {
      spdlog::set_level(spdlog::level::from_str(plan.log_level));
      out.applied.push_back("log level " + plan.log_level);
      set_table_key(*running_table, "logging", "level", next_table->at_path("logging.level"));
      std::lock_guard lock(view_mu);
      cfg.logging.level = plan.log_level;
    }
    if (plan.sinks_change()) {
      apply_sinks(plan, *next, *next_table, out);
    }
    if (plan.devices_change()) apply_devices(plan, *next, *next_table, out);
    return out;
  }

  // The bounds of everything written under state_dir, against the size of its filesystem: said
  // once at start, so a volume too small for the configured spools is known before an outage.
  void warn_disk_budget() const {
    struct statvfs v{};
    if (::statvfs(cfg.gateway.state_dir.c_str(), &v) != 0) return;
    const std::uint64_t size = static_cast<std::uint64_t>(v.f_blocks) * v.f_frsize;
    std::uint64_t sum = disk ? disk->snapshot().reserve_bytes : 0;
    std::string parts;
    for (const auto& section : cfg.sinks) {
      if (!section.delivery.enabled) continue;
      sum += static_cast<std::uint64_t>(section.delivery.spool_max_mb) << 20;
      parts += " spool of " + section.type + " " + std::to_string(section.delivery.spool_max_mb) + " MiB;";
      if (const SinkPlugin* p = find_sink_plugin(section.type); p && p->disk_bound) {
        const std::uint64_t b = p->disk_bound(section);
        sum += b;
        parts += " " + section.type + " output " + std::to_string(b >> 20) + " MiB;";
      }
    }
    if (journal) {
      sum += static_cast<std::uint64_t>(cfg.pipeline.journal_max_mb) << 20;
      parts += " journal " + std::to_string(cfg.pipeline.journal_max_mb) + " MiB;";
    }
    if (sum > size)
      log->warn("the configured disk bounds ({} MiB:{} reserve {} MiB) exceed the filesystem under {} ({} MiB): "
                "during a long outage the disk fills first, and the spools then drop their oldest samples "
                "(pipeline.disk_full); lower spool_max_mb (or the file sink's max_mb x max_files) to fit",
                sum >> 20, parts, disk ? disk->snapshot().reserve_bytes >> 20 : 0, cfg.gateway.state_dir, size >> 20);
  }

  pm500::expected<void, std::string> start_simulator() {
    const auto& sc = cfg.simulator;
    if (!sc.enabled) return {};
    auto opts = simulator_options(sc);
    if (!opts) return pm500::unexpected(opts.error());
    auto s = sim::Simulator::start(std::move(*opts));
    if (!s) return pm500::unexpected("[simulator] cannot start: " + s.error());
    simulator = std::move(*s);
    log->warn("simulated meters running: {} at {} (demo mode, not for production){}", sc.meters, sc.address,
              sc.control_port ? " control 127.0.0.1:" + std::to_string(sc.control_port) : std::string());
    return {};
  }

  pm500::expected<void, std::string> start_scanner() {
    if (cfg.devices.empty()) {
      log->warn("no [[devices]] configured: nothing to scan");
      return {};
    }
    auto opts = scanner_options(cfg.scanner);
    if (!opts) return pm500::unexpected(opts.error());
    std::vector<cip::DeviceSpec> specs;
    std::vector<std::string> names;
    for (const auto& d : cfg.devices) {
      auto spec = device_spec(d);
      if (!spec) return pm500::unexpected(spec.error());
      specs.push_back(std::move(*spec));
      names.push_back(d.name);
    }
    scan_events = std::make_unique<ScanEvents>(*devices, health, std::move(names));
    {
      std::lock_guard lock(scanner_mu);
      scanner = std::make_unique<cip::Scanner>(*opts, std::move(specs), *scan_events);
    }
    if (auto r = scanner->start(); !r)
      return pm500::unexpected("scanner: " + r.error() +
                               "; check [scanner] local_address and udp_port (another EtherNet/IP scanner on this "
                               "host may own UDP 2222)");
    log->info("scanner started: {} device(s), Class 1 I/O on {}:{}", cfg.devices.size(), cfg.scanner.local_address,
              scanner->udp_port());
    rmem_max = read_rmem_max();
    if (auto w = receive_buffer_warning(scanner->receive_stats(), rmem_max); !w.empty()) log->warn("{}", w);
    return {};
  }
};

Gateway::Gateway(const config::GatewayConfig& cfg) : impl_(std::make_unique<Impl>(cfg)) {}
Gateway::~Gateway() { stop(); }

pm500::expected<void, std::string> Gateway::start() {
  Impl& g = *impl_;
  const auto& cfg = g.cfg;
  std::error_code ec;
  std::filesystem::create_directories(cfg.gateway.state_dir, ec);
  if (ec)
    return pm500::unexpected("cannot create state directory \"" + cfg.gateway.state_dir + "\": " + ec.message() +
                             "; set [gateway] state_dir to a writable folder (a volume in a container)");
  // Before anything opens a connection: a meter past the limit would fail much later, alone.
  const auto fds = raise_fd_limit(cfg.devices.size(), Impl::kSpareDevices);
  if (!fds) return pm500::unexpected("not enough open files: " + fds.error());
  if (fds->now != fds->before)
    g.log->debug("limit on open files raised from {} to {} ({} needed)", fds->before, fds->now, fds->needed);
  if (!fds->room_for_reload)
    g.log->warn("the limit on open files ({}) leaves no room for the {} device(s) a reload may add: a reload that "
                "adds many meters may fail to connect some of them; raise it (LimitNOFILE={} in the systemd unit, "
                "--ulimit nofile for a container)",
                fds->now, Impl::kSpareDevices, fds_needed(cfg.devices.size() + Impl::kSpareDevices));
  g.acks = std::make_unique<health::Acknowledgements>(std::filesystem::path(cfg.gateway.state_dir) /
                                                      "acknowledgements");
  if (cfg.alerts.enabled) {
    // Before anything can raise, so the restart loop found below is alerted too.
    g.alerts = std::make_unique<health::AlertSender>(cfg.alerts, cfg.gateway.site, g.health);
    g.alerts->start();
    g.log->info("alerts go to {}", health::redacted_url(cfg.alerts.url));
  }
  // A condition still acknowledged or shelved from before a restart is not alerted again.
  g.health.on_event([acks = g.acks.get(), alerts = g.alerts.get()](const health::Event& e) {
    if (acks->on_event(e) && alerts) alerts->enqueue(e);
  });
  g.record_start();
  if (auto text = read_text(cfg.source_file)) g.running_table = parse_toml(*text, cfg.source_file);
  g.log->info("pm500-gateway starting: site {}, {} device(s), state directory {}, start {} here", cfg.gateway.site,
              cfg.devices.size(), cfg.gateway.state_dir, g.restarts + 1);
  g.ring = std::make_unique<Ring>(config::ring_capacity_for(cfg));
  {
    std::uint64_t reserve = static_cast<std::uint64_t>(cfg.pipeline.disk_reserve_mb) << 20;
    struct statvfs v{};
    if (::statvfs(cfg.gateway.state_dir.c_str(), &v) == 0)
      reserve = std::min<std::uint64_t>(reserve, static_cast<std::uint64_t>(v.f_blocks) * v.f_frsize / 10);
    g.disk = std::make_unique<DiskSpace>(cfg.gateway.state_dir, reserve, &g.health);
  }
  auto devices = Devices::create(cfg, *g.ring, g.health);
  if (!devices) return pm500::unexpected(devices.error());
  g.devices = std::move(*devices);
  g.section_by_index = cfg.devices;
  for (std::uint32_t i = 0; i < cfg.devices.size(); ++i) g.device_index.push_back(i);
  if (cfg.pipeline.durability == "journal") {
    Journal::Options jo;
    jo.dir = std::filesystem::path(cfg.gateway.state_dir) / "journal";
    jo.max_bytes = static_cast<std::uint64_t>(cfg.pipeline.journal_max_mb) << 20;
    jo.fsync_interval = std::chrono::milliseconds(cfg.pipeline.journal_fsync_interval_ms);
    jo.layout = layout::encode(g.devices->catalog());
    jo.disk = g.disk.get();
    jo.conditions = &g.health;
    auto j = Journal::open(std::move(jo));
    if (!j) return pm500::unexpected(j.error() + "; check [gateway] state_dir (writable, space free)");
    g.journal = std::move(*j);
  }
  if (auto r = g.start_sinks(); !r) return r;
  if (auto r = g.start_simulator(); !r) return r;
  if (auto r = g.start_scanner(); !r) return r;
  if (auto r = g.start_status(); !r) return r;
  return {};
}

std::vector<ThreadProgress> Gateway::progress() const {
  const Impl& g = *impl_;
  std::vector<ThreadProgress> out;
  {
    std::lock_guard lock(g.scanner_mu);
    if (g.scanner) out.push_back({"scanner", g.scanner->loop_turns()});
  }
  // The deliveries are made in start() and cleared in stop(), both on the main thread, which
  // is also the only caller of this.
  for (const auto& d : g.deliveries) out.push_back({"sink " + d->name(), d->loop_turns()});
  return out;
}

ReloadOutcome Gateway::reload() {
  Impl& g = *impl_;
  if (!g.ring) return {};
  ReloadOutcome out = g.reload();
  auto& log = g.log;
  // At the level the reload just set: a level raised to debug shows here first.
  log->debug("reload compared {} with the running configuration", g.cfg.source_file);
  if (out.refused) {
    for (const auto& e : out.errors) log->error("reload: {}", e);
    log->error(
        "reload refused: {} error(s) in {}; the running configuration is kept (fix the file and reload "
        "again)",
        out.errors.size(), g.cfg.source_file);
  } else {
    for (const auto& a : out.applied) log->info("reload: {}", a);
    for (const auto& e : out.errors) log->error("reload: {}", e);
    if (!out.restart_needed.empty())
      log->warn("reload: restart needed for: {} (these changes apply at the next start; the running values are kept)",
                [&] {
                  std::string s;
                  for (const auto& k : out.restart_needed) s += (s.empty() ? "" : ", ") + k;
                  return s;
                }());
    log->info("reload done: {}", out.summary());
  }
  std::lock_guard lock(g.view_mu);
  g.last_reload = out;
  return out;
}

std::string Gateway::summary() const {
  const Impl& g = *impl_;
  return std::to_string(g.cfg.devices.size()) + " device(s), " + std::to_string(g.deliveries.size()) +
         " sink(s) delivering";
}

void Gateway::tick() {
  impl_->check_resources();
  impl_->check_overload();
  impl_->health.tick();
  if (impl_->acks) impl_->acks->tick(impl_->health.active());
}

void Gateway::stop(const std::string& reason) {
  Impl& g = *impl_;
  if (g.history) {
    g.history->record_stop(reason, std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    g.history.reset();
  }
  if (!g.ring) return;
  if (g.status_server) g.status_server->stop();
  g.status_server.reset();
  if (g.scanner) {
    g.scanner->stop();  // Forward Close every connection, UnRegisterSession
    g.log->info("scanner stopped");
  }
  // Producer first (nothing new enters the ring), then every sink delivers or spools the rest,
  // all at once: each may take up to its stop timeout.
  if (g.journal) g.journal->commit();  // what the stopped scanner staged last
  {
    std::vector<std::jthread> stoppers;
    for (auto& d : g.deliveries) stoppers.emplace_back([&d] { d->stop(); });
  }
  for (auto& d : g.deliveries) g.log_stopped(*d);
  if (g.journal) g.journal->stop();  // last sync; what every sink holds is deleted
  g.deliveries.clear();
  g.journal.reset();
  g.ring.reset();
  {
    std::lock_guard lock(g.scanner_mu);
    g.scanner.reset();
  }
  if (g.simulator) g.simulator->stop();
  g.simulator.reset();
  if (g.alerts) {
    g.alerts->stop();  // what is queued goes out, bounded by [alerts] timeout_ms
    auto st = g.alerts->stats();
    g.log->info("alerts stopped: sent {}, dropped {}", st.sent, st.dropped);
  }
  g.log->info("stopped");
}

int run_until_signalled(const config::GatewayConfig& cfg) {
  // Block the stop and reload signals in every thread (threads inherit the mask); only this
  // thread takes them, synchronously, so no handler runs in the middle of the scanner or a sink.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto log = log::get("gateway");
  ServiceNotifier notifier;
  ProgressWatch watch(ProgressWatch::stall_limit_for(notifier.watchdog_interval()));
  Gateway gw(cfg);
  if (auto r = gw.start(); !r) {
    log->critical("cannot start: {}", r.error());
    notifier.status("cannot start: " + r.error());
    gw.stop(std::string(health::RestartHistory::kStartFailed) + r.error().substr(0, 200));
    return kExitRuntime;
  }
  log->info("running; configuration {}; reload it with SIGHUP, stop with SIGTERM or Ctrl-C", cfg.source_file);
  notifier.ready("running: " + gw.summary());
  if (notifier.watchdog_interval().count() > 0)
    log->info("service watchdog every {} ms: pinged while the scanner and every sink's delivery thread make "
              "progress (a thread still for {} ms stops the pings)",
              notifier.watchdog_interval().count() / 1000, watch.stall_after().count());

  // The main loop wakes once a second (supervision), and more often when the watchdog wants a
  // ping sooner: at least three pings per interval.
  using Clock = std::chrono::steady_clock;
  auto wake_every = std::chrono::nanoseconds(std::chrono::seconds(1));
  if (const auto wd = notifier.watchdog_interval(); wd.count() > 0)
    wake_every = std::min<std::chrono::nanoseconds>(wake_every, wd / 3);
  auto next_tick = Clock::now() + std::chrono::seconds(1);
  bool stalled_before = false;
  std::string reason = "stopped";
  for (;;) {
    const timespec wait{static_cast<time_t>(wake_every.count() / 1'000'000'000),
                        static_cast<long>(wake_every.count() % 1'000'000'000)};
    int sig = sigtimedwait(&set, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      reason = sig == SIGTERM ? "SIGTERM" : "SIGINT";
      log->info("received {}, shutting down", reason);
      break;
    }
    if (sig == SIGHUP) {
      log->info("received SIGHUP, reloading {}", cfg.source_file);
      notifier.reloading("reloading " + cfg.source_file);
      const ReloadOutcome r = gw.reload();
      notifier.ready("running: " + gw.summary() + "; last reload " + r.summary());
      continue;
    }
    if (sig < 0 && errno != EAGAIN && errno != EINTR) {
      log->error("sigtimedwait failed: {}", std::strerror(errno));
      break;
    }
    const auto now = Clock::now();
    const auto stalled = watch.update(gw.progress(), now);
    if (stalled.empty()) {
      notifier.watchdog();
      if (stalled_before) {
        log->info("every worker thread makes progress again; service watchdog pings resumed");
        notifier.status("running: " + gw.summary());
      }
    } else if (!stalled_before) {
      const std::string which = describe(stalled);
      log->error("no progress for {} ms in: {}: a thread is stuck (a sink's client library or a system call "
                 "that does not return); {}",
                 watch.stall_after().count(), which,
                 notifier.watchdog_interval().count() > 0
                     ? "the service watchdog pings stop, and systemd restarts the gateway after WatchdogSec"
                     : "restart the gateway if it does not recover");
      notifier.status("stuck: no progress in " + which);
    }
    stalled_before = !stalled.empty();
    if (now >= next_tick) {
      gw.tick();
      next_tick = now + std::chrono::seconds(1);
    }
  }
  notifier.stopping("stopping (" + reason + "): closing connections, delivering or spooling what is left");
  gw.stop(reason);
  spdlog::default_logger()->flush();
  return kExitOk;
}

}  // namespace pm500::app
