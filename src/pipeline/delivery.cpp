#include "pipeline/delivery.hpp"
#include "pm500/thread_name.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <thread>

#include <spdlog/spdlog.h>

namespace pm500 {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string_view to_string(SinkState s) noexcept {
  switch (s) {
    case SinkState::delivering: return "delivering";
    case SinkState::retrying: return "retrying";
    case SinkState::spooling: return "spooling";
    case SinkState::replaying: return "replaying";
    case SinkState::stopped: return "stopped";
  }
  return "unknown";
}

// Raised conditions of one sink. Logs each transition once and forwards it to the hook; repeated
// raises while active only refresh the hold timer (the counters say how often).
class SinkDelivery::Conditions {
 public:
  Conditions(std::string subject, ConditionSink* hook, milliseconds hold)
      : subject_(std::move(subject)), hook_(hook), hold_(hold) {}

  // held: an event (overrun, drop, corrupt record) -- cleared after `hold` without a new one.
  // Otherwise a state, cleared explicitly.
  void raise(std::string_view id, const std::string& evidence, Clock::time_point now, bool held) {
    for (auto& a : active_)
      if (a.id == id) {
        a.last = now;
        // A repeated raise refreshes the evidence (not logged again): a count it shows is the
        // counter's, while it grows.
        if (a.evidence != evidence) {
          a.evidence = evidence;
          if (hook_) hook_->raise(id, subject_, evidence);
        }
        return;
      }
    active_.push_back({std::string(id), held, now, evidence});
    spdlog::warn("condition {} raised for sink {}: {}", id, subject_, evidence);
    if (hook_) hook_->raise(id, subject_, evidence);
  }
  void clear(std::string_view id) {
    for (auto it = active_.begin(); it != active_.end(); ++it)
      if (it->id == id) {
        spdlog::info("condition {} cleared for sink {}", id, subject_);
        if (hook_) hook_->clear(id, subject_);
        active_.erase(it);
        return;
      }
  }
  void expire(Clock::time_point now) {
    for (std::size_t i = 0; i < active_.size();)
      if (active_[i].held && now - active_[i].last >= hold_) clear(std::string(active_[i].id));
      else ++i;
  }

 private:
  struct Active {
    std::string id;
    bool held;
    Clock::time_point last;
    std::string evidence;
  };
  std::string subject_;
  ConditionSink* hook_;
  milliseconds hold_;
  std::vector<Active> active_;
};

SinkDelivery::SinkDelivery(const Ring& ring, std::unique_ptr<Sink> sink, Options options)
    : ring_(ring),
      cursor_(options.start_position ? ring.subscribe_at(*options.start_position) : ring.subscribe()),
      sink_(std::move(sink)),
      opt_(std::move(options)),
      batch_size_(static_cast<std::size_t>(std::clamp<std::int64_t>(opt_.delivery.batch_size, 1, 1'000'000))),
      dead_letter_(opt_.state_dir / "sinks" / opt_.name / "dead-letter.jsonl", opt_.name, opt_.dead_letter_encoder,
                   opt_.catalog),
      watermarks_(opt_.state_dir / "sinks" / opt_.name / "watermarks", opt_.catalog),
      conditions_(std::make_unique<Conditions>(opt_.name, opt_.conditions, opt_.condition_hold)),
      rng_(opt_.jitter_seed ? opt_.jitter_seed : std::random_device{}()),
      live_(batch_size_),
      pending_(batch_size_),
      replay_(batch_size_),
      replay_batch_(opt_.delivery.replay_rate > 0
                        ? std::clamp<std::size_t>(static_cast<std::size_t>(opt_.delivery.replay_rate), 1, batch_size_)
                        : batch_size_) {}

pm500::expected<std::unique_ptr<SinkDelivery>, std::string> SinkDelivery::create(const Ring& ring,
                                                                                 std::unique_ptr<Sink> sink,
                                                                                 Options options) {
  if (!sink) return pm500::unexpected("sink " + options.name + ": no sink object");
  if (options.name.empty() || options.name.find('/') != std::string::npos || options.name.starts_with('.'))
    return pm500::unexpected("sink name \"" + options.name + "\" cannot name a folder");
  SpoolOptions so;
  so.dir = options.state_dir / "sinks" / options.name / "spool";
  so.max_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(options.delivery.spool_max_mb, 1)) << 20;
  so.segment_bytes = options.spool_segment_bytes;
  so.fsync_interval = milliseconds(std::max<std::int64_t>(options.delivery.spool_fsync_interval_ms, 0));
  if (options.catalog) so.layout = layout::encode(*options.catalog);
  so.disk = options.disk;
  auto spool = Spool::open(so);
  if (!spool) return pm500::unexpected("sink " + options.name + ": " + spool.error());
  if (options.journal)
    if (auto r = options.journal->recover_into(options.name, **spool); !r)
      return pm500::unexpected("sink " + options.name + ": " + r.error());
  std::unique_ptr<SinkDelivery> d(new SinkDelivery(ring, std::move(sink), std::move(options)));
  d->spool_ = std::move(*spool);
  d->publish_cursor();
  d->custody_pos_.store(d->cursor_.position(), std::memory_order_relaxed);
  d->watermarks_.load();
  d->streaming_ = d->sink_->streams();
  if (d->streaming_) {
    SinkDelivery* self = d.get();
    d->sink_->set_waker([self] {
      // seq_cst: ordered before notify()'s look at the sleepers, so a thread going to sleep
      // either sees the flag or is woken (see Ring::wait). Only the first confirmation since
      // the delivery thread last took the flag wakes anyone: the ones behind it find the flag
      // set and cost no system call (a broker acknowledges every message, and the ring's
      // wake-up reaches every sink's thread, not only this one).
      if (!self->stream_wake_.exchange(true, std::memory_order_seq_cst)) self->ring_.notify();
    });
  }
  d->tokens_ = static_cast<double>(d->replay_batch_);
  d->last_tokens_ = Clock::now();
  // A backlog left by the previous run is replayed before anything new.
  if (!d->spool_->empty()) d->state_.store(SinkState::replaying, std::memory_order_relaxed);
  return d;
}

SinkDelivery::~SinkDelivery() { stop(); }

void SinkDelivery::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] {
    name_this_thread("sink-" + opt_.name);
    run();
  });
}

void SinkDelivery::stop() {
  if (stopped_) return;
  stopped_ = true;
  stop_requested_.store(true, std::memory_order_relaxed);
  ring_.wake_all();
  if (thread_.joinable()) {
    thread_.join();
  } else {
    // Never started: still hand over what the ring holds for this sink.
    drain_on_stop();
    set_state(SinkState::stopped);
  }
}

// Sleeps until there is something to do: new samples in the ring (the producer's notify()
// wakes this thread at once), the end of the current batch's linger, the next retry, or at
// most poll_interval (housekeeping). Never polls the ring on a timer while data flows.
void SinkDelivery::sleep(Clock::time_point now) {
  auto until = now + opt_.poll_interval;
  const SinkState st = state_.load(std::memory_order_relaxed);
  bool wants_data = false;
  switch (st) {
    case SinkState::delivering:
      wants_data = !live_.full();
      if (live_.size > sent_ && !window_full_)
        until = std::min(until, live_since_ + milliseconds(opt_.delivery.flush_interval_ms));
      break;
    case SinkState::retrying: until = std::min(until, next_attempt_); break;
    case SinkState::spooling:
    case SinkState::replaying:
      wants_data = now >= next_spool_retry_;
      if (!replay_.empty()) {
        auto at = next_attempt_;
        if (opt_.delivery.replay_rate > 0 && tokens_ < static_cast<double>(replay_.size))
          at = std::max(at, now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                      (static_cast<double>(replay_.size) - tokens_) /
                                      static_cast<double>(opt_.delivery.replay_rate))));
        until = std::min(until, at);
      }
      break;
    case SinkState::stopped: return;
  }
  if (until <= now || stop_requested_.load(std::memory_order_relaxed)) return;
  const auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(until - now);
  if (st == SinkState::delivering && sent_ > 0) {
    // Samples wait for their confirmation: the sink's waker ends the sleep as well.
    constexpr std::uint64_t kWake = ~std::uint64_t{0};
    ring_.wait(cursor_.position(),
               [this, wants_data] {
                 if (stream_wake_.load(std::memory_order_seq_cst)) return kWake;
                 return wants_data ? ring_.head() : std::uint64_t{0};
               },
               timeout);
  } else if (wants_data) {
    const std::atomic<std::uint64_t>* gate = opt_.journal ? &opt_.journal->committed() : nullptr;
    ring_.wait(cursor_.position(),
               [this, gate] { return gate ? std::min(ring_.head(), gate->load(std::memory_order_acquire)) : ring_.head(); },
               timeout);
  } else {
    // Data would not be read now: sleep on the clock (a notify() may still wake it early).
    ring_.wait(0, [] { return std::uint64_t{0}; }, timeout);
  }
}

void SinkDelivery::run() {
  while (!stop_requested_.load(std::memory_order_relaxed)) {
    loop_turns_.fetch_add(1, std::memory_order_relaxed);
    const auto now = Clock::now();
    const bool busy = step(now);
    housekeeping(now);
    tick_sink();
    if (!busy) sleep(now);
  }
  drain_on_stop();
  set_state(SinkState::stopped);
}

std::size_t SinkDelivery::read_ring(Buffer& into) {
  const std::size_t n = opt_.journal ? cursor_.try_read_until(into.space(), opt_.journal->committed().load(std::memory_order_acquire))
                                     : cursor_.try_read(into.space());
  into.size += n;
  if (n > 0) publish_cursor();
  return n;
}

// For stats() from other threads: where this sink's cursor is and what it skipped, so the loss
// count is exact at every moment, even while the delivery thread waits in a slow deliver().
void SinkDelivery::publish_cursor() noexcept {
  cursor_missed_.store(cursor_.missed(), std::memory_order_relaxed);
  cursor_pos_.store(cursor_.position(), std::memory_order_release);
}

std::uint64_t SinkDelivery::overrun_now() const noexcept {
  // Lost already: what the cursor skipped, plus what the producer has overwritten ahead of it
  // and the cursor has not reached yet. When the cursor reaches that point its resync counts
  // exactly those again (in missed), so the sum never goes back.
  const std::uint64_t pos = cursor_pos_.load(std::memory_order_acquire);
  const std::uint64_t missed = cursor_missed_.load(std::memory_order_relaxed);
  const std::uint64_t head = ring_.head();
  const std::uint64_t lag = head > pos ? head - pos : 0;
  return missed + (lag > ring_.capacity() ? lag - ring_.capacity() : 0);
}

DeliveryResult SinkDelivery::attempt(std::span<const Sample> batch, bool spooled) {
  try {
    return spooled ? sink_->deliver_spooled(batch) : sink_->deliver(batch);
  } catch (const std::exception& e) {
    // A sink must not throw; if it does, treat it as transient and keep the samples.
    return DeliveryResult::retry(std::string("sink threw: ") + e.what());
  } catch (...) {
    return DeliveryResult::retry("sink threw an unknown exception");
  }
}

double SinkDelivery::tokens(Clock::time_point now) {
  if (opt_.delivery.replay_rate <= 0) return static_cast<double>(replay_batch_);
  const double elapsed = std::chrono::duration<double>(now - last_tokens_).count();
  last_tokens_ = now;
  tokens_ = std::min(static_cast<double>(replay_batch_), tokens_ + elapsed * static_cast<double>(opt_.delivery.replay_rate));
  return tokens_;
}

void SinkDelivery::set_state(SinkState s) {
  const SinkState old = state_.exchange(s, std::memory_order_relaxed);
  if (old != s) spdlog::debug("sink {}: {} -> {}", opt_.name, to_string(old), to_string(s));
}

void SinkDelivery::set_error(std::string e) {
  std::lock_guard lk(error_mu_);
  last_error_ = std::move(e);
}

void SinkDelivery::clear_error() {
  std::lock_guard lk(error_mu_);
  last_error_.clear();
}

void SinkDelivery::take_custody(std::span<const Sample> batch) {
  for (const Sample& s : batch)
    if (auto gap = watermarks_.update(s)) {
      restart_gaps_.fetch_add(1, std::memory_order_relaxed);
      conditions_->raise(condition::kRestartGap, gap->describe(), Clock::now(), true);
    }
}

void SinkDelivery::on_delivered(std::span<const Sample> batch, bool replayed) {
  delivered_.fetch_add(batch.size(), std::memory_order_relaxed);
  if (replayed) replayed_.fetch_add(batch.size(), std::memory_order_relaxed);
  else take_custody(batch);  // replayed samples were taken into custody when spooled
  if (attempt_no_ != 0) clear_error();  // the destination answers again: the outage text goes
  attempt_no_ = 0;
}

// Translates a batch read from the spool to the running configuration: each sample goes under
// the device of the same name; one whose device is gone, or whose assembly's fields changed,
// goes to the dead-letter file with the reason (counted in unattributable), never under
// another device. Segments without a recorded layout (format 1) are taken as they are.
void SinkDelivery::attribute_replay(std::uint64_t layout_id, Clock::time_point now) {
  if (layout_id == 0 || layout_id == spool_->layout_id() || !opt_.catalog || replay_.empty()) return;
  if (layout_id != layout_cached_) {
    layout_cached_ = layout_id;
    translation_.reset();
    translation_error_.clear();
    translation_logged_ = false;
    auto text = spool_->layout_text(layout_id);
    std::optional<Catalog> old = text ? layout::decode(*text) : std::nullopt;
    if (old) translation_ = std::make_unique<layout::Translation>(*old, *opt_.catalog);
    else translation_error_ = text ? "the layout the samples were spooled under cannot be read" : text.error();
  }
  unattributable_buf_.clear();
  std::size_t kept = 0;
  std::string first_reason, run_reason, what;
  const Catalog* names = translation_ ? &translation_->from() : nullptr;
  // Dead letters are written in runs of one reason, each line with its own.
  auto flush_run = [&] {
    if (unattributable_buf_.empty()) return;
    if (auto w = dead_letter_.write(unattributable_buf_, "unattributable after a configuration change", run_reason,
                                    names);
        !w && what.empty())
      what = "; and the dead-letter file failed: " + w.error();
    unattributable_.fetch_add(unattributable_buf_.size(), std::memory_order_relaxed);
    unattributable_buf_.clear();
  };
  for (std::size_t i = 0; i < replay_.size; ++i) {
    Sample& s = replay_.data[i];
    std::optional<std::string> why = translation_ ? translation_->map(s) : std::optional<std::string>(translation_error_);
    if (!why) {
      replay_.data[kept++] = s;
      continue;
    }
    if (first_reason.empty()) first_reason = *why;
    if (*why != run_reason) {
      flush_run();
      run_reason = std::move(*why);
    }
    unattributable_buf_.push_back(s);
  }
  const bool any = kept != replay_.size;
  replay_.size = kept;
  flush_run();
  if (!any) return;
  const std::uint64_t total = unattributable_.load(std::memory_order_relaxed);
  if (!translation_logged_) {  // once per older layout; the condition's evidence keeps the count
    translation_logged_ = true;
    spdlog::warn("sink {}: spooled samples cannot be attributed to a configured device ({}); written to {}{}",
                 opt_.name, first_reason, dead_letter_.path().string(), what);
  }
  conditions_->raise(condition::kUnattributable,
                     std::to_string(total) + " spooled samples written to " + dead_letter_.path().string() +
                         " instead of being delivered: " + first_reason +
                         "; restore the device in the configuration to deliver later ones, or feed the dead-letter "
                         "lines back once fixed",
                     now, true);
}

void SinkDelivery::on_retry(const DeliveryResult& r, Clock::time_point now) {
  retries_.fetch_add(1, std::memory_order_relaxed);
  // Exponential backoff with full jitter: a uniform delay in [0, min(max, initial * 2^n)], so
  // many gateways recovering from the same outage do not retry in lockstep.
  const std::int64_t initial = std::max<std::int64_t>(opt_.delivery.retry_initial_ms, 1);
  const std::int64_t max = std::max<std::int64_t>(opt_.delivery.retry_max_ms, initial);
  const std::int64_t cap = std::min<std::int64_t>(max, initial << std::min<std::uint32_t>(attempt_no_, 30));
  ++attempt_no_;
  milliseconds delay{std::uniform_int_distribution<std::int64_t>(0, cap)(rng_)};
  if (r.retry_after > delay) delay = r.retry_after;  // the server asked for it (Retry-After)
  next_attempt_ = now + delay;
  set_error(r.evidence.empty() ? r.reason : r.reason + " (" + r.evidence + ")");
}

void SinkDelivery::on_reject(std::span<const Sample> batch, const DeliveryResult& r) {
  rejected_.fetch_add(batch.size(), std::memory_order_relaxed);
  std::string what = r.evidence.empty() ? r.reason : r.reason + " (" + r.evidence + ")";
  if (auto w = dead_letter_.write(batch, r.reason, r.evidence); !w) what += "; and the dead-letter file failed: " + w.error();
  conditions_->raise(condition::kDeadLetter,
                     std::to_string(batch.size()) + " samples refused: " + what + "; written to " +
                         dead_letter_.path().string(),
                     Clock::now(), true);
  set_error(std::move(what));
}

// Moves samples from the ring to the spool (bounded rounds, so replay gets its turn). Returns
// whether anything was appended.
bool SinkDelivery::spool_pending(Clock::time_point now) {
  bool did = false;
  for (int round = 0; round < 16; ++round) {
    if (pending_.empty() && read_ring(pending_) == 0) break;
    // The spool kept nothing (full disk): this batch probes the destination from memory.
    if (probe_from_memory_ && spool_->empty()) break;
    if (now < next_spool_retry_) break;
    if (auto r = spool_->append(pending_.view()); !r) {
      // The samples stay in pending_ and the ring; retried every second.
      set_error(r.error());
      conditions_->raise(condition::kSpoolError, r.error(), now, false);
      next_spool_retry_ = now + std::chrono::seconds(1);
      spool_failing_ = true;
      break;
    }
    if (spool_failing_) {
      spool_failing_ = false;
      conditions_->clear(condition::kSpoolError);
      clear_error();
    }
    // Counted as spooled even when a full disk made the spool drop them: dropped_disk says so.
    spooled_.fetch_add(pending_.size, std::memory_order_relaxed);
    take_custody(pending_.view());
    pending_.size = 0;
    did = true;
  }
  if (did) report_spool_losses(now);
  return did;
}

bool SinkDelivery::step(Clock::time_point now) {
  bool busy = false;
  switch (state_.load(std::memory_order_relaxed)) {
    case SinkState::delivering: {
      if (streaming_) {
        busy = step_stream(now);
        break;
      }
      if (!live_.full()) {
        const bool was_empty = live_.empty();
        if (read_ring(live_) > 0) {
          busy = true;
          if (was_empty) live_since_ = now;
        }
      }
      if (!live_.empty() &&
          (live_.full() || now - live_since_ >= milliseconds(opt_.delivery.flush_interval_ms))) {
        busy = true;
        const DeliveryResult r = attempt(live_.view());
        if (r.kind == DeliveryResult::Kind::ok) {
          on_delivered(live_.view(), false);
          live_.size = 0;
        } else if (r.kind == DeliveryResult::Kind::reject) {
          take_custody(live_.view());
          on_reject(live_.view(), r);
          live_.size = 0;
        } else {
          failing_since_ = now;
          on_retry(r, now);
          set_state(SinkState::retrying);
        }
      } else if (cursor_.lag() > ring_.capacity() / 2) {
        // The destination accepts, but slower than samples arrive: let the spool absorb the
        // difference rather than let the ring overrun.
        std::swap(live_, pending_);
        set_state(SinkState::replaying);
        busy = true;
      }
      break;
    }
    case SinkState::retrying: {
      if (now >= next_attempt_) {
        busy = true;
        const DeliveryResult r = attempt(live_.view());
        if (r.kind != DeliveryResult::Kind::retry) {
          if (r.kind == DeliveryResult::Kind::ok) {
            on_delivered(live_.view(), false);
          } else {
            take_custody(live_.view());
            on_reject(live_.view(), r);
          }
          live_.size = 0;
          set_state(SinkState::delivering);
          break;
        }
        on_retry(r, now);
      }
      if (now - failing_since_ >= opt_.spool_after || cursor_.lag() > ring_.capacity() / 4) {
        // A sustained outage: from now on the ring is drained to disk.
        std::swap(live_, pending_);  // pending_ is empty outside spooling/replaying
        set_state(SinkState::spooling);
        std::string evidence;
        {
          std::lock_guard lk(error_mu_);
          evidence = last_error_;
        }
        if (opt_.raise_unavailable) conditions_->raise(condition::kSinkUnavailable, evidence, now, false);
        busy = true;
      }
      break;
    }
    case SinkState::spooling:
    case SinkState::replaying: {
      if (spool_pending(now)) busy = true;
      if (replay_.empty() && !spool_->empty()) {
        auto r = spool_->read(replay_.space().first(replay_batch_));
        if (!r) {
          set_error(r.error());
          conditions_->raise(condition::kSpoolError, r.error(), now, false);
        } else {
          replay_.size = r->count;
          replay_end_ = r->end;
          attribute_replay(r->layout, now);
          // All of it corrupt or unattributable: nothing to deliver, but the position moved past it.
          if (replay_.empty()) spool_->ack(r->end);
        }
        note_replay_memory();
      }
      if (replay_.empty() && spool_->empty()) {
        // Nothing on disk (replayed, or given up to a full disk): what waits in memory is the
        // oldest the sink holds, and goes straight to the destination, never through the disk.
        std::swap(live_, pending_);  // live_ is empty outside delivering/retrying
        live_since_ = now;
        if (state_.load(std::memory_order_relaxed) == SinkState::replaying) {
          set_state(SinkState::delivering);
          conditions_->clear(condition::kSinkUnavailable);
        } else {
          // The spool could keep nothing (a full disk) and the destination has not answered:
          // retry from memory, so its return is noticed; spooling resumes after spool_after or
          // when the ring fills, and the disk decides again what it can keep.
          if (live_.empty()) {
            probe_from_memory_ = true;  // the next batch read from the ring is the probe
            break;
          }
          probe_from_memory_ = false;
          failing_since_ = now;
          set_state(SinkState::retrying);
        }
        busy = true;
        break;
      }
      if (!replay_.empty() && now >= next_attempt_ && tokens(now) >= static_cast<double>(replay_.size)) {
        busy = true;
        if (opt_.delivery.replay_rate > 0) tokens_ -= static_cast<double>(replay_.size);
        const DeliveryResult r = attempt(replay_.view(), true);
        if (r.kind == DeliveryResult::Kind::retry) {
          on_retry(r, now);
          if (state_.load(std::memory_order_relaxed) == SinkState::replaying) {
            set_state(SinkState::spooling);
            if (opt_.raise_unavailable) conditions_->raise(condition::kSinkUnavailable, r.reason, now, false);
          }
        } else {
          if (r.kind == DeliveryResult::Kind::ok) on_delivered(replay_.view(), true);
          else on_reject(replay_.view(), r);
          spool_->ack(replay_end_);
          replay_.size = 0;
          note_replay_memory();
          if (state_.load(std::memory_order_relaxed) == SinkState::spooling) {
            set_state(SinkState::replaying);
            conditions_->clear(condition::kSinkUnavailable);
          }
        }
      }
      break;
    }
    case SinkState::stopped:
      break;
  }
  check_overrun();
  return busy;
}

// The delivering state of a streaming sink: new samples go out as soon as their linger ends,
// while earlier ones still wait for the destination's confirmation; each confirmation retires
// the oldest samples. A break hands every unconfirmed sample to the retrying state.
bool SinkDelivery::step_stream(Clock::time_point now) {
  bool busy = false;
  if (!live_.full()) {
    const bool had_unsent = live_.size > sent_;
    if (read_ring(live_) > 0) {
      busy = true;
      if (!had_unsent) live_since_ = now;  // when the oldest unsent sample came
    }
  }
  // The destination accepts, but slower than samples arrive: stop sending, and once what is
  // out is confirmed, let the spool absorb the difference rather than let the ring overrun.
  const bool lagging = cursor_.lag() > ring_.capacity() / 2;
  const bool send = !lagging && live_.size > sent_ &&
                    (live_.full() || window_full_ || now - live_since_ >= milliseconds(opt_.delivery.flush_interval_ms));
  // A confirmation that arrives from here on sets the flag again and ends the next sleep.
  stream_wake_.store(false, std::memory_order_seq_cst);
  if (sent_ == 0 && !send) {
    if (lagging && !live_.empty()) {
      std::swap(live_, pending_);
      set_state(SinkState::replaying);
      busy = true;
    }
    return busy;
  }
  const std::size_t offered = send ? live_.size : sent_;
  StreamProgress p;
  try {
    p = sink_->stream(live_.view().first(offered), sent_);
  } catch (const std::exception& e) {
    p = {sent_, 0, DeliveryResult::retry(std::string("sink threw: ") + e.what())};
  } catch (...) {
    p = {sent_, 0, DeliveryResult::retry("sink threw an unknown exception")};
  }
  p.sent = std::clamp(p.sent, sent_, offered);
  p.confirmed = std::min(p.confirmed, p.sent);
  if (p.sent > sent_) busy = true;
  window_full_ = send && p.sent < offered;
  if (p.confirmed > 0) {
    busy = true;
    on_delivered(live_.view().first(p.confirmed), false);
    std::memmove(static_cast<void*>(live_.data.get()), live_.data.get() + p.confirmed,
                 (live_.size - p.confirmed) * sizeof(Sample));
    live_.size -= p.confirmed;
  }
  sent_ = p.sent - p.confirmed;
  if (p.failure) {
    // Every sample not confirmed (sent or not) is retried in order through deliver(); the sink
    // remembers what the destination did confirm of them.
    sent_ = 0;
    window_full_ = false;
    failing_since_ = now;
    on_retry(*p.failure, now);
    set_state(SinkState::retrying);
    busy = true;
  }
  return busy;
}

// Shutdown of a streaming sink: waits (until the deadline) for what is out to be confirmed, so
// what follows delivers or spools only samples the destination has not confirmed.
void SinkDelivery::drain_stream(Clock::time_point deadline) {
  while (sent_ > 0) {
    StreamProgress p = sink_->stream(live_.view().first(sent_), sent_);
    p.confirmed = std::min(p.confirmed, sent_);
    if (p.confirmed > 0) {
      on_delivered(live_.view().first(p.confirmed), false);
      std::memmove(static_cast<void*>(live_.data.get()), live_.data.get() + p.confirmed,
                   (live_.size - p.confirmed) * sizeof(Sample));
      live_.size -= p.confirmed;
      sent_ -= p.confirmed;
    }
    if (p.failure) {
      on_retry(*p.failure, Clock::now());
      break;
    }
    if (sent_ == 0 || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  sent_ = 0;
}

void SinkDelivery::check_overrun() {
  publish_cursor();
  const std::uint64_t lag = cursor_.lag();
  const std::uint64_t lost = overrun_now();
  if (lost > reported_missed_) {
    reported_missed_ = lost;
    conditions_->raise(condition::kOverrun,
                       std::to_string(lost) + " samples overwritten in the ring before this sink read them (capacity " +
                           std::to_string(ring_.capacity()) + "); the sink's counter dropped{reason=\"overrun\"}",
                       Clock::now(), true);
  }
  ring_lag_.store(std::min<std::uint64_t>(lag, ring_.capacity()), std::memory_order_relaxed);
}

void SinkDelivery::note_replay_memory() {
  const std::uint64_t held = spool_->stats().read_buffer_bytes + replay_.size * sizeof(Sample);
  replay_bytes_.store(held, std::memory_order_relaxed);
  if (held > replay_bytes_max_.load(std::memory_order_relaxed)) replay_bytes_max_.store(held, std::memory_order_relaxed);
}

void SinkDelivery::tick_sink() {
  // Not while samples are out with a streaming sink: its stream() owns the connection then.
  const SinkState st = state_.load(std::memory_order_relaxed);
  if (st == SinkState::stopped || sent_ > 0) return;
  try {
    sink_->tick(st == SinkState::delivering);
  } catch (const std::exception& e) {
    spdlog::warn("sink {}: tick threw: {}", opt_.name, e.what());
  }
}

void SinkDelivery::housekeeping(Clock::time_point now) {
  // fdatasync at the spool's interval; what was taken before it is then held durably.
  if (now - last_spool_sync_ >= milliseconds(std::max<std::int64_t>(opt_.delivery.spool_fsync_interval_ms, 0))) {
    last_spool_sync_ = now;
    const std::uint64_t taken = taken_position();
    if (auto r = spool_->sync(); !r) {
      set_error(r.error());
      conditions_->raise(condition::kSpoolError, r.error(), now, false);
    } else {
      custody_pos_.store(taken, std::memory_order_release);
    }
  }
  report_spool_losses(now);
  if (opt_.disk) opt_.disk->check(now);
  measure_progress(now);
  // The watermarks follow the spool's fsync cadence: a crash loses at most that much of them,
  // which only makes a reported restart gap that much longer.
  if (now - last_watermark_persist_ >= milliseconds(std::max<std::int64_t>(opt_.delivery.spool_fsync_interval_ms, 100))) {
    last_watermark_persist_ = now;
    if (auto r = watermarks_.persist(); !r) set_error(r.error());
  }
  conditions_->expire(now);
}

// The spool's loss counters as conditions: raised, and their evidence refreshed, as soon as a
// count grows (called after every append and read, and once a second), so the number a warning
// shows is the counter's.
void SinkDelivery::report_spool_losses(Clock::time_point now) {
  const SpoolStats ss = spool_->stats();
  if (ss.dropped_full > spool_dropped_seen_) {
    spool_dropped_seen_ = ss.dropped_full;
    conditions_->raise(condition::kSpoolFull,
                       std::to_string(ss.dropped_full) + " unsent samples deleted (oldest first) to stay under spool_max_mb = " +
                           std::to_string(opt_.delivery.spool_max_mb) + "; the sink's counter dropped{reason=\"spool_full\"}",
                       now, true);
  }
  if (ss.corrupt_skipped > spool_corrupt_seen_) {
    spool_corrupt_seen_ = ss.corrupt_skipped;
    conditions_->raise(condition::kSpoolCorrupt,
                       std::to_string(ss.corrupt_skipped) + " torn or corrupt spool records skipped in " +
                           spool_->dir().string() + "; the sink's counter dropped{reason=\"corrupt\"}",
                       now, true);
  }
}

void SinkDelivery::measure_progress(Clock::time_point now) {
  if (progress_at_ == Clock::time_point{}) {
    progress_at_ = now;
    progress_replayed_ = replayed_.load(std::memory_order_relaxed);
    progress_backlog_ = spool_->backlog();
    return;
  }
  const double dt = std::chrono::duration<double>(now - progress_at_).count();
  if (dt < 1.0) return;
  const std::uint64_t replayed = replayed_.load(std::memory_order_relaxed);
  const std::uint64_t backlog = spool_->backlog();
  // A short moving average (half the weight on the last second) keeps the estimate steady.
  const double replay_now = static_cast<double>(replayed - progress_replayed_) / dt;
  const double drain_now = (static_cast<double>(progress_backlog_) - static_cast<double>(backlog)) / dt;
  const double replay = backlog == 0 ? 0 : 0.5 * replay_per_s_.load(std::memory_order_relaxed) + 0.5 * replay_now;
  const double drain = backlog == 0 ? 0 : 0.5 * drain_per_s_.load(std::memory_order_relaxed) + 0.5 * drain_now;
  replay_per_s_.store(replay, std::memory_order_relaxed);
  drain_per_s_.store(drain, std::memory_order_relaxed);
  catch_up_s_.store(backlog == 0 ? 0 : drain > 0 ? static_cast<double>(backlog) / drain : -1, std::memory_order_relaxed);
  progress_at_ = now;
  progress_replayed_ = replayed;
  progress_backlog_ = backlog;
}

void SinkDelivery::drain_on_stop() {
  const auto deadline = Clock::now() + opt_.stop_timeout;
  if (streaming_ && state_.load(std::memory_order_relaxed) == SinkState::delivering) drain_stream(deadline);
  // 1. A healthy sink delivers what is left, as long as the deadline allows.
  while (state_.load(std::memory_order_relaxed) == SinkState::delivering && Clock::now() < deadline) {
    read_ring(live_);
    if (live_.empty()) break;
    const DeliveryResult r = attempt(live_.view());
    if (r.kind == DeliveryResult::Kind::retry) {
      on_retry(r, Clock::now());
      break;
    }
    if (r.kind == DeliveryResult::Kind::ok) {
      on_delivered(live_.view(), false);
    } else {
      take_custody(live_.view());
      on_reject(live_.view(), r);
    }
    live_.size = 0;
  }
  // 2. Everything else goes to the spool, oldest first: the held live batch, then what was
  // read for the spool, then the rest of the ring.
  auto spool_buffer = [this](Buffer& b) {
    if (b.empty()) return;
    if (auto r = spool_->append(b.view()); !r) {
      spdlog::error("sink {}: {} samples lost at shutdown: {}", opt_.name, b.size, r.error());
      set_error(r.error());
    } else {
      spooled_.fetch_add(b.size, std::memory_order_relaxed);
      take_custody(b.view());
    }
    b.size = 0;
  };
  spool_buffer(live_);
  spool_buffer(pending_);
  while (read_ring(pending_) > 0) spool_buffer(pending_);
  check_overrun();
  // The replay batch in memory is still unacknowledged in the spool: the next run sends it.
  if (auto r = spool_->sync(); !r) spdlog::error("sink {}: {}", opt_.name, r.error());
  else custody_pos_.store(taken_position(), std::memory_order_release);
  if (auto r = watermarks_.persist(); !r) spdlog::error("sink {}: {}", opt_.name, r.error());
  const DeliveryResult f = sink_->flush();
  if (f.kind != DeliveryResult::Kind::ok) spdlog::warn("sink {}: flush at shutdown: {}", opt_.name, f.reason);
  housekeeping(Clock::now());
}

SinkStats SinkDelivery::stats() const {
  SinkStats s;
  s.name = opt_.name;
  s.state = state_.load(std::memory_order_relaxed);
  s.delivered = delivered_.load(std::memory_order_relaxed);
  s.spooled = spooled_.load(std::memory_order_relaxed);
  s.replayed = replayed_.load(std::memory_order_relaxed);
  s.dropped_overrun = overrun_now();
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  s.ring_lag = ring_lag_.load(std::memory_order_relaxed);
  s.replay_bytes_held = replay_bytes_.load(std::memory_order_relaxed);
  s.replay_bytes_held_max = replay_bytes_max_.load(std::memory_order_relaxed);
  s.restart_gaps = restart_gaps_.load(std::memory_order_relaxed);
  const SpoolStats ss = spool_->stats();
  s.dropped_spool_full = ss.dropped_full;
  s.dropped_disk = ss.dropped_disk;
  s.unattributable = unattributable_.load(std::memory_order_relaxed);
  s.replay_per_s = replay_per_s_.load(std::memory_order_relaxed);
  s.drain_per_s = drain_per_s_.load(std::memory_order_relaxed);
  s.catch_up_s = catch_up_s_.load(std::memory_order_relaxed);
  s.corrupt_skipped = ss.corrupt_skipped;
  s.spool_backlog = ss.backlog;
  s.spool_bytes = ss.bytes;
  std::lock_guard lk(error_mu_);
  s.last_error = last_error_;
  return s;
}

}  // namespace pm500
