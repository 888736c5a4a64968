// Journal: the durable mode's write-ahead log (state_dir/journal/). Every sample the scanner
// receives is appended here before any sink may read it, so kill -9 loses nothing received and a
// power loss at most the last fsync interval.
//
//   producer (scanner thread):  ring.push(s); journal.stage(s);      // per sample: a copy
//                               journal.commit();                      // per batch: one write(2)
//   each sink's delivery:       reads the ring only below journal.committed()
//   sync thread (every fsync_interval): fdatasync; persist each sink's custody position; delete
//                               the records every sink holds durably (delivered, or in its spool)
//   start-up after a crash:     journal.recover_into(sink, spool) for each sink, then recovered()
//   a reload:                   set_layout() when the catalog grew (a device added, or its profile
//                               or asset changed); track()/park()/untrack() as sinks start and stop
//
// The journal is a Spool (segments, CRC-32C per record, layouts, torn tails cut) written by one
// thread. A sample's journal index is base + its ring sequence number, base being the journal's
// next index when this process opened it. Each sink publishes the ring position below which it
// holds everything durably (custody); the custody file maps sink names to journal indices, so
// a restarted process re-feeds each sink exactly what it had not secured (at most one fsync
// interval of what it had, which the destinations see again: at-least-once).
//
// A reload changes both while the producer runs. The catalog only grows (an entry, once made,
// never changes), so records written before set_layout() keep their layout and those after get
// the new one (a new segment); recovery re-feeds each under its own. A sink restarted by a reload
// is parked at the position its old instance secured until the new one is tracked, so a crash
// in between re-feeds it from there; a sink added by a reload starts at the ring position it
// starts reading at; a removed one is no longer waited for.
//
// A write that fails (disk full beyond what dropping old journal records frees) does not hold
// the sinks back: the samples go on through the ring, only not journaled; pipeline.spool_error
// is raised for subject "journal" with the error.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/conditions.hpp"
#include "pipeline/disk_space.hpp"
#include "pipeline/spool.hpp"
#include "pm500/expected.hpp"

namespace pm500 {

class Journal {
 public:
  struct Options {
    std::filesystem::path dir;                   // state_dir/journal
    std::uint64_t max_bytes = 256ull << 20;      // oldest records dropped beyond (counted)
    std::chrono::milliseconds fsync_interval{1000};
    std::string layout;                          // layout::encode(catalog)
    DiskSpace* disk = nullptr;
    ConditionSink* conditions = nullptr;
  };
  struct Stats {
    std::uint64_t journaled = 0;      // samples written
    std::uint64_t write_batches = 0;  // write(2) calls (commits with samples)
    std::uint64_t not_journaled = 0;  // samples a failed write could not keep (passed on anyway)
    std::uint64_t syncs = 0;          // fdatasync rounds
    std::uint64_t backlog = 0;        // records not yet held durably by every sink
    std::uint64_t bytes = 0;
    std::uint64_t recovered = 0;      // records re-fed to sinks at start-up, all sinks together
  };

  static pm500::expected<std::unique_ptr<Journal>, std::string> open(Options options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Start-up, before the producer runs: appends to `spool` the records of the previous run that
  // `sink` had not secured, in order, under their own layout. Returns how many.
  pm500::expected<std::uint64_t, std::string> recover_into(const std::string& sink, Spool& spool);
  // Every sink has recovered (and synced its spool): the previous run's records can go. A sink
  // created after this (a reload) recovers nothing.
  pm500::expected<void, std::string> recovered();
  // Records committed from now on are written under this layout (layout::encode of the grown
  // catalog). Any thread; a record staged before it was taken under the older layout, which the
  // new one extends, so either names it rightly.
  pm500::expected<void, std::string> set_layout(const std::string& layout);

  // Producer thread only. stage() never allocates once warm; commit() writes what was staged
  // with one write(2) and only then lets the sinks read it.
  void stage(const Sample& s) noexcept;
  void commit() noexcept;
  // Ring sequence numbers below this are on disk (or were given up after a failed write).
  const std::atomic<std::uint64_t>& committed() const noexcept { return committed_; }

  // A sink whose custody position (ring sequence below which it holds everything durably) the
  // journal follows; it replaces a parked or tracked sink of that name. Any thread.
  void track(const std::string& sink, const std::atomic<std::uint64_t>* custody);
  // The sink stopped and is restarted (a reload): its custody stays at `position` until a sink of
  // that name is tracked again. Before the stopped one's custody object is destroyed.
  void park(const std::string& sink, std::uint64_t position);
  // The sink is gone: the journal no longer keeps records for it. Before its custody object is
  // destroyed.
  void untrack(const std::string& sink);
  void start();  // the sync thread
  // After the producer and the sinks stopped: a last sync, custody persisted, held records gone.
  void stop();

  Stats stats() const;

 private:
  explicit Journal(Options options) : opt_(std::move(options)) {}
  void sync_round();
  pm500::expected<void, std::string> persist_custody(const std::map<std::string, std::uint64_t>& positions);
  void load_custody();

  Options opt_;
  mutable std::mutex mu_;  // the spool: commit() (producer) vs sync_round() (sync thread)
  std::unique_ptr<Spool> spool_;
  std::uint64_t base_ = 0;  // journal index of ring sequence 0
  std::map<std::string, std::uint64_t> previous_custody_;  // from the last run's custody file
  struct Tracked {
    std::string name;
    const std::atomic<std::uint64_t>* custody = nullptr;  // null: parked at `parked`
    std::uint64_t parked = 0;
  };
  mutable std::mutex sinks_mu_;  // sinks_: a reload (main thread) vs sync_round (sync thread)
  std::vector<Tracked> sinks_;
  bool recovered_done_ = false;  // under mu_

  // Producer side.
  std::vector<Sample> staged_;
  std::uint64_t staged_total_ = 0;
  alignas(64) std::atomic<std::uint64_t> committed_{0};
  bool failing_ = false;  // last write failed (producer side; raise/clear once)

  std::thread thread_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ = false, started_ = false, stopped_ = false;

  std::atomic<std::uint64_t> journaled_{0}, batches_{0}, not_journaled_{0}, syncs_{0}, recovered_{0};
};

}  // namespace pm500
