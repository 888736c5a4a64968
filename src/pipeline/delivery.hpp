// Delivery: one thread per sink between its ring cursor and Sink::deliver(). Owns batching,
// retries with exponential backoff and full jitter, the sink's disk spool, replay, the
// dead-letter file, and the sink's counters. A sink only says ok / retry / reject.
//
//   pm500::SinkDelivery::Options o{.name = "file", .state_dir = "/var/lib/pm500-gateway",
//                                  .delivery = section.delivery, .conditions = &health};
//   auto d = pm500::SinkDelivery::create(ring, std::move(sink), o);   // subscribes now
//   (*d)->start();
//   ...  scanner: ring.push(sample) ...
//   (*d)->stop();   // after the scanner stopped: delivers or spools everything left in the ring
//
// States (SinkState):
//   delivering  live samples go from the ring to the destination in batches. A streaming sink
//               (Sink::streams(), e.g. MQTT) gets new samples while earlier ones still wait
//               for their acknowledgement; a break in the stream hands every unconfirmed
//               sample to the retrying state below, in order.
//   retrying    a batch failed; it is retried from memory after a backoff while the ring holds
//               newer samples -- a short blip costs no disk I/O. After `spool_after`, or once
//               the ring lag passes a quarter of its capacity, it becomes:
//   spooling    the destination is down: every sample read from the ring is appended to the
//               spool, so the ring never overruns; attempts continue from the spool's head.
//   replaying   the destination answers again: the spool is delivered oldest first at
//               replay_rate samples/s while new samples keep being appended behind it, so the
//               sink's order stays source order; when the spool is empty it is delivering again.
//   stopped     the thread has finished.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "pipeline/conditions.hpp"
#include "pipeline/dead_letter.hpp"
#include "pipeline/disk_space.hpp"
#include "pipeline/journal.hpp"
#include "pipeline/layout.hpp"
#include "pipeline/ring.hpp"
#include "pipeline/sink.hpp"
#include "pipeline/spool.hpp"
#include "pipeline/watermarks.hpp"

namespace pm500 {

enum class SinkState : std::uint8_t { delivering, retrying, spooling, replaying, stopped };
std::string_view to_string(SinkState s) noexcept;

// A consistent-enough copy of one sink's counters (each counter is exact; they are read one by
// one, not under a lock). Invariant once stopped, for samples pushed after create():
//   pushed == delivered + rejected + unattributable + dropped_overrun + dropped_spool_full
//             + dropped_disk + corrupt_skipped + spool_backlog (kept for the next run)
struct SinkStats {
  std::string name;
  SinkState state = SinkState::delivering;
  std::uint64_t delivered = 0;           // confirmed by the destination (live and replayed)
  std::uint64_t spooled = 0;             // appended to the spool
  std::uint64_t replayed = 0;            // confirmed by the destination after coming from the spool
  std::uint64_t dropped_overrun = 0;     // overwritten in the ring before this sink read them
  std::uint64_t dropped_spool_full = 0;  // unread spool records deleted to stay under spool_max_mb
  std::uint64_t dropped_disk = 0;        // spool records deleted (or not written) for disk space
  std::uint64_t unattributable = 0;      // spooled samples whose device/layout is gone: dead-lettered
  std::uint64_t rejected = 0;            // refused by the destination, written to the dead-letter file
  std::uint64_t corrupt_skipped = 0;     // spool records that failed their CRC (or were torn)
  std::uint64_t retries = 0;             // deliveries answered "retry"
  std::uint64_t ring_lag = 0;            // samples in the ring this sink has not read yet
  std::uint64_t spool_backlog = 0;       // spool records not acknowledged (sent by the next run)
  std::uint64_t spool_bytes = 0;
  std::uint64_t replay_bytes_held = 0;      // memory held for replay right now
  std::uint64_t replay_bytes_held_max = 0;  // its high-water mark
  std::uint64_t restart_gaps = 0;           // devices whose first sample after a restart left a gap
  std::string last_error;                   // the current retry/spool error; "" once delivering again
  // While a backlog drains: replayed samples per second, how fast the backlog shrinks (replay
  // less what is spooled behind it), and the time to catch up at that pace (< 0: not draining).
  double replay_per_s = 0, drain_per_s = 0, catch_up_s = -1;
};

class SinkDelivery {
 public:
  struct Options {
    std::string name;                    // [sinks.NAME]; files go to state_dir/sinks/NAME/
    std::filesystem::path state_dir;
    config::DeliverySection delivery;    // batch_size, flush_interval_ms, retry_*, spool_*, replay_rate
    ConditionSink* conditions = nullptr;  // may be null: conditions are still logged
    SampleJsonEncoder dead_letter_encoder;  // null: raw JSON record
    // The running configuration's devices: spool segments record its layout, and replay maps
    // older layouts onto it by device name (null: indices are taken as they are).
    const Catalog* catalog = nullptr;
    DiskSpace* disk = nullptr;  // shared reserve on state_dir's filesystem (null: none)
    // Raise pipeline.sink_unavailable during an outage. Off for sinks that raise their own
    // failure mode with the cause (mqtt.publish_failure, influxdb.write_error, ...).
    bool raise_unavailable = true;
    // Durable mode: the sink reads only what the journal has on disk, takes back at create()
    // what the previous run had not secured, and tells the journal what it now holds.
    Journal* journal = nullptr;
    // Longest sleep without a wake-up (the producer's Ring::notify() wakes the thread at once
    // when samples arrive; this bounds housekeeping and the producers that do not notify).
    std::chrono::milliseconds poll_interval{100};
    std::chrono::milliseconds spool_after{2000};  // retrying -> spooling after this long
    std::chrono::milliseconds stop_timeout{5000};  // on stop, deliver for this long, then spool
    std::chrono::milliseconds condition_hold{60000};  // event conditions clear after this quiet time
    // Where in the ring this sink starts reading; unset: the head at create(). A sink restarted
    // with new settings (a configuration reload) continues at the position where its previous
    // instance stopped (ring_position()), so it neither misses nor repeats a sample.
    std::optional<std::uint64_t> start_position;
    std::uint64_t spool_segment_bytes = 0;  // 0: automatic (see SpoolOptions)
    std::uint64_t jitter_seed = 0;          // 0: random
  };

  // Opens the spool (scanning it) and subscribes to the ring at its current head.
  static pm500::expected<std::unique_ptr<SinkDelivery>, std::string> create(const Ring& ring, std::unique_ptr<Sink> sink,
                                                                            Options options);
  ~SinkDelivery();
  SinkDelivery(const SinkDelivery&) = delete;
  SinkDelivery& operator=(const SinkDelivery&) = delete;

  void start();
  // Asks the thread to finish and waits: what is still in the ring (up to its head now) is
  // delivered within stop_timeout or appended to the spool; the spool is synced. Call it after
  // the producer stopped, or samples pushed later stay in the ring. Idempotent.
  void stop();

  SinkStats stats() const;
  // Turns of the delivery thread's loop so far (relaxed; any thread). The loop turns at least
  // every poll_interval while it waits for samples, so an idle sink still counts; a count that
  // stops moving means the thread is stuck (in a sink's deliver(), say).
  std::uint64_t loop_turns() const noexcept { return loop_turns_.load(std::memory_order_relaxed); }
  // Ring position below which this sink holds every sample durably: delivered, refused, or in
  // its spool as of the last fdatasync (what a journal may forget).
  const std::atomic<std::uint64_t>& custody_position() const noexcept { return custody_pos_; }
  // The ring position this sink has read up to: after stop(), every sample below it was
  // delivered, refused or spooled.
  std::uint64_t ring_position() const noexcept { return cursor_pos_.load(std::memory_order_acquire); }
  const std::string& name() const noexcept { return opt_.name; }
  Sink& sink() noexcept { return *sink_; }

 private:
  // A fixed-capacity batch allocated once: reading the ring into it never constructs or
  // allocates (a std::vector resize would zero the whole batch on every poll). The storage is
  // left uninitialised (Sample is an implicit-lifetime aggregate; only [0, size) is ever read,
  // and every slot there was written by the ring or the spool first), so a sink whose batches
  // stay small touches a few pages of it, not batch_size x 168 bytes three times over.
  struct Buffer {
    struct Free {
      void operator()(Sample* p) const noexcept { ::operator delete(p); }
    };
    explicit Buffer(std::size_t capacity)
        : data(static_cast<Sample*>(::operator new(capacity * sizeof(Sample)))), cap(capacity) {}
    std::unique_ptr<Sample[], Free> data;
    std::size_t size = 0;
    std::size_t cap;
    std::span<Sample> space() noexcept { return {data.get() + size, cap - size}; }
    std::span<const Sample> view() const noexcept { return {data.get(), size}; }
    bool empty() const noexcept { return size == 0; }
    bool full() const noexcept { return size == cap; }
  };

  SinkDelivery(const Ring& ring, std::unique_ptr<Sink> sink, Options options);
  class Conditions;

  void run();
  void sleep(std::chrono::steady_clock::time_point now);
  bool step(std::chrono::steady_clock::time_point now);
  bool step_stream(std::chrono::steady_clock::time_point now);
  void drain_stream(std::chrono::steady_clock::time_point deadline);
  void drain_on_stop();
  std::size_t read_ring(Buffer& into);
  // spooled: the batch was read back from the spool (Sink::deliver_spooled()).
  DeliveryResult attempt(std::span<const Sample> batch, bool spooled = false);
  double tokens(std::chrono::steady_clock::time_point now);
  void on_delivered(std::span<const Sample> batch, bool replayed);
  void on_retry(const DeliveryResult& r, std::chrono::steady_clock::time_point now);
  void on_reject(std::span<const Sample> batch, const DeliveryResult& r);
  bool spool_pending(std::chrono::steady_clock::time_point now);
  void take_custody(std::span<const Sample> batch);
  void check_overrun();
  void report_spool_losses(std::chrono::steady_clock::time_point now);
  void publish_cursor() noexcept;
  // Ring position below which every sample read is delivered, refused or appended to the spool.
  std::uint64_t taken_position() const noexcept {
    return cursor_.position() - live_.size - pending_.size;
  }
  std::uint64_t overrun_now() const noexcept;
  void housekeeping(std::chrono::steady_clock::time_point now);
  void tick_sink();  // Sink::tick()
  void set_state(SinkState s);
  void set_error(std::string e);
  void note_replay_memory();
  void attribute_replay(std::uint64_t layout_id, std::chrono::steady_clock::time_point now);
  void clear_error();

  const Ring& ring_;
  Ring::Cursor cursor_;
  std::unique_ptr<Sink> sink_;
  Options opt_;
  std::size_t batch_size_;
  std::unique_ptr<Spool> spool_;
  DeadLetterFile dead_letter_;
  Watermarks watermarks_;
  std::unique_ptr<Conditions> conditions_;
  std::mt19937_64 rng_;

  // Owned by the delivery thread.
  Buffer live_;     // read from the ring, not delivered yet (delivering / retrying)
  // Streaming sinks (Sink::streams()): live_[0, sent_) is with the destination, waiting for its
  // confirmation; live_[sent_, size) is not sent yet.
  bool streaming_ = false;
  std::size_t sent_ = 0;
  bool window_full_ = false;  // the sink took less than offered: wait for a confirmation
  std::atomic<bool> stream_wake_{false};  // set by the sink's waker: a confirmation arrived
  Buffer pending_;  // read from the ring, waiting to be appended to the spool
  Buffer replay_;   // read from the spool, not acknowledged yet
  std::size_t replay_batch_;
  std::uint64_t replay_end_ = 0;
  std::chrono::steady_clock::time_point live_since_{}, failing_since_{}, next_attempt_{};
  std::chrono::steady_clock::time_point last_tokens_{}, next_spool_retry_{}, last_watermark_persist_{};
  double tokens_ = 0;
  std::uint32_t attempt_no_ = 0;
  std::uint64_t reported_missed_ = 0;
  std::uint64_t spool_dropped_seen_ = 0, spool_corrupt_seen_ = 0;
  bool spool_failing_ = false;                           // pipeline.spool_error is raised
  bool probe_from_memory_ = false;                       // see step(): spool empty, destination down
  std::uint64_t layout_cached_ = 0;                      // id of translation_
  std::unique_ptr<layout::Translation> translation_;     // older layout -> current catalog
  std::string translation_error_;                        // why layout_cached_ cannot be read
  bool translation_logged_ = false;
  std::vector<Sample> unattributable_buf_;

  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::uint64_t> loop_turns_{0};
  bool started_ = false, stopped_ = false;

  // Counters (written by the delivery thread, read by stats()).
  std::atomic<SinkState> state_{SinkState::delivering};
  std::atomic<std::uint64_t> cursor_pos_{0}, cursor_missed_{0}, custody_pos_{0};
  std::chrono::steady_clock::time_point last_spool_sync_{};
  // Replay progress, measured once a second by the delivery thread.
  std::chrono::steady_clock::time_point progress_at_{};
  std::uint64_t progress_replayed_ = 0, progress_backlog_ = 0;
  std::atomic<double> replay_per_s_{0}, drain_per_s_{0}, catch_up_s_{-1};
  void measure_progress(std::chrono::steady_clock::time_point now);
  std::atomic<std::uint64_t> delivered_{0}, spooled_{0}, replayed_{0}, rejected_{0},
      retries_{0}, replay_bytes_{0}, replay_bytes_max_{0}, restart_gaps_{0}, ring_lag_{0}, unattributable_{0};
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace pm500
