// Spool: one sink's store-and-forward log on disk (state_dir/sinks/<name>/spool/).
//
//   auto sp = pm500::Spool::open({.dir = state / "sinks/influxdb/spool", .max_bytes = 512 << 20});
//   sp->append(batch);                       // destination down: keep the samples
//   auto r = sp->read(buf);                  // replay, oldest first, r->count samples
//   if (deliver(...)) sp->ack(r->end);       // only after the destination confirmed
//   sp->sync_if_due(now);                    // batched fdatasync + persisted acknowledged offset
//
// Layout: segment files named by the index of their first record ("00000000000000001234.seg"),
// each a 64-byte header (format 2: magic, version, record size, first index, the id of the
// layout the segment was written under -- see layout.hpp -- and a CRC) then fixed-size records:
//   u32 magic 'P5R1' | u32 crc32c(index, sample) | u64 index | Sample (168 bytes)  = 184 bytes
// Every record carries its global index, so the acknowledged position is one number, kept in the
// file "acked" (replaced atomically by rename), and a record found at the wrong place is caught.
// Fixed-size records make a corrupt record skippable without resynchronising: the next one
// starts exactly 184 bytes later. Older segments are never rewritten; a new process appends to a
// new segment, and a torn tail left by a crash is cut off (and counted) when the spool opens.
//
// Durability: append() is one write(2) per batch, so a killed process (kill -9) loses nothing
// that append() returned for; fdatasync runs at most every fsync_interval, so a power loss loses
// at most that interval. The acknowledged offset is persisted at the same interval, so a restart
// re-sends at most one interval of already-delivered samples (InfluxDB points are idempotent),
// never the whole spool.
//
// Which device a record belongs to is stable across configuration changes: each segment names
// its layout by id, and the layout's text is kept once per spool in layouts/<id>. The reader
// gets the layout id with every read (a read never spans two layouts), and translates.
//
// Disk space: besides max_bytes, an optional shared DiskSpace keeps a reserve free on the
// filesystem. When an append would cut into it (or the write fails with ENOSPC/EDQUOT), the
// oldest segments go first, then the incoming batch itself -- counted in dropped_disk -- and
// append() still succeeds: a full disk costs the oldest samples, never a stalled sink.
//
// Not thread-safe: one delivery thread owns a spool. stats() is safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pipeline/disk_space.hpp"
#include "pipeline/sample.hpp"
#include "pm500/expected.hpp"

namespace pm500 {

struct SpoolOptions {
  std::filesystem::path dir;
  std::uint64_t max_bytes = 512ull << 20;  // all segments together; oldest segment dropped beyond
  std::uint64_t segment_bytes = 0;         // 0: max_bytes / 8, clamped to 64 KiB .. 64 MiB
  std::chrono::milliseconds fsync_interval{1000};
  // The layout new segments are written under (layout::encode of the catalog); empty: none
  // recorded (id 0, as in format 1 segments: read back as the current configuration).
  std::string layout{};
  DiskSpace* disk = nullptr;  // shared reserve on the filesystem; null: only max_bytes bounds it
};

struct SpoolStats {
  std::uint64_t appended = 0;         // records written by this process
  std::uint64_t acked = 0;            // records acknowledged by this process
  std::uint64_t dropped_full = 0;     // unread records lost to drop-oldest (spool_max_mb)
  std::uint64_t dropped_disk = 0;     // unread or incoming records dropped for disk space
  std::uint64_t corrupt_skipped = 0;  // torn or corrupt records skipped (on open or on read)
  std::uint64_t backlog = 0;          // records not acknowledged yet (may include corrupt ones)
  std::uint64_t bytes = 0;            // on disk, all segments
  std::uint64_t read_buffer_bytes = 0;  // memory held for reading back (bounded by batch size)
  std::uint64_t segments = 0;
};

class Spool {
 public:
  static constexpr std::size_t kHeaderSize = 64;
  static constexpr std::size_t kRecordSize = 16 + sizeof(Sample);
  static constexpr std::uint32_t kRecordMagic = 0x31523550;  // "P5R1" little-endian

  // Opens (creating the folder) and scans existing segments; never fails because of their
  // contents -- damage is counted -- only because of the file system.
  static pm500::expected<std::unique_ptr<Spool>, std::string> open(SpoolOptions options);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Appends in order with one write(2). When the bound would be exceeded, whole oldest segments
  // are deleted first and their unread records counted in dropped_full (see last_dropped()).
  // On error nothing was appended (a partial write is truncated away).
  pm500::expected<void, std::string> append(std::span<const Sample> samples);
  // The same for records written under another layout (a journal's, recovered after a crash):
  // they go to a segment of their own that names that layout, so replay translates them.
  pm500::expected<void, std::string> append_as(std::span<const Sample> samples, std::uint64_t layout_id,
                                               const std::string& layout_text);

  struct ReadResult {
    std::size_t count = 0;  // samples stored in out
    std::uint64_t end = 0;  // pass to ack() once they are delivered
    std::uint64_t layout = 0;  // layout id the records were written under (0: not recorded)
  };
  // Reads the next records after the read position into out, skipping corrupt ones. Memory held
  // is out.size() records, whatever the backlog. Stops early where the layout changes.
  pm500::expected<ReadResult, std::string> read(std::span<Sample> out);

  // Everything before `end` is delivered: it never needs to be read again. Deletes segments that
  // are wholly acknowledged. Persisted at the next sync.
  void ack(std::uint64_t end);
  // Everything before `index` is no longer needed, read or not (a journal whose records every
  // sink holds): the read position moves past it and it is acknowledged.
  void discard_before(std::uint64_t index);

  // True when nothing is waiting to be read back.
  bool empty() const noexcept { return read_ == write_; }
  // Index the next appended record gets (indices never repeat within a spool's folder).
  std::uint64_t next_index() const noexcept { return write_; }
  // Reads records [from, ...) into out without moving the read position (a journal's
  // recovery; each sink starts from its own index). Stops where the layout changes.
  pm500::expected<ReadResult, std::string> read_at(std::uint64_t from, std::span<Sample> out);

  std::uint64_t backlog() const noexcept { return write_ - read_; }
  // Unread records dropped by the most recent append() (0 when it dropped nothing).
  std::uint64_t last_dropped() const noexcept { return last_dropped_; }

  // fdatasync and persist the acknowledged offset when fsync_interval has passed since the last
  // sync (or always with force). Returns the first error.
  pm500::expected<void, std::string> sync_if_due(std::chrono::steady_clock::time_point now, bool force = false);
  pm500::expected<void, std::string> sync() { return sync_if_due(std::chrono::steady_clock::now(), true); }

  // New records from now on are written under `text` (a reload extended the catalog): in a new
  // segment that names it. Records already written keep theirs.
  pm500::expected<void, std::string> set_layout(const std::string& text);
  // The layout id new records get, and the text of a layout id found in a ReadResult.
  std::uint64_t layout_id() const noexcept { return layout_id_; }
  pm500::expected<std::string, std::string> layout_text(std::uint64_t id) const;

  SpoolStats stats() const noexcept;
  const std::filesystem::path& dir() const noexcept { return opt_.dir; }
  // A duplicate of the segment being appended to (-1: none), for a caller that fdatasyncs it
  // on another thread without holding up the writer. The caller closes it.
  int dup_active_fd() const noexcept;

 private:
  struct Segment {
    std::uint64_t first = 0;
    std::uint64_t end = 0;  // one past the last record
    std::uint64_t bytes = 0;
    std::uint64_t layout = 0;
    std::filesystem::path path;
  };

  explicit Spool(SpoolOptions options);
  pm500::expected<void, std::string> scan();
  pm500::expected<void, std::string> start_segment();
  void close_active();
  // Deletes the oldest segment; its unread records are counted in dropped_full, or in
  // dropped_disk when `for_disk`.
  void drop_oldest(bool for_disk = false);
  pm500::expected<void, std::string> write_layout();
  pm500::expected<void, std::string> write_layout_file(std::uint64_t id, const std::string& text);
  void remove_unused_layouts();
  pm500::expected<void, std::string> write_batch(std::span<const Sample> samples);
  void remove_segment_front();
  pm500::expected<void, std::string> persist_ack();
  std::filesystem::path segment_path(std::uint64_t first) const;

  SpoolOptions opt_;
  std::deque<Segment> segments_;  // oldest first; the last one is active when active_fd_ >= 0
  int active_fd_ = -1;
  int read_fd_ = -1;
  std::uint64_t read_fd_first_ = ~0ull;  // segment first index read_fd_ belongs to
  std::uint64_t write_ = 0;              // next index to append
  std::uint64_t read_ = 0;               // next index to read back
  std::uint64_t ack_ = 0;                // everything before is delivered or dropped
  std::uint64_t persisted_ack_ = ~0ull;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t last_dropped_ = 0;
  std::uint64_t layout_id_ = 0;
  bool data_dirty_ = false;
  bool dir_dirty_ = false;
  std::chrono::steady_clock::time_point last_sync_{};
  std::vector<std::byte> write_buf_;  // reused: no allocation per append once warm
  std::vector<std::byte> read_buf_;   // reused and bounded by the largest read() request

  // Counters read by stats() from other threads.
  std::atomic<std::uint64_t> appended_{0}, acked_{0}, dropped_full_{0}, dropped_disk_{0}, corrupt_{0};
  std::atomic<std::uint64_t> backlog_{0}, bytes_{0}, read_buf_bytes_{0}, segment_count_{0};
  void publish_gauges() noexcept;
};

}  // namespace pm500
