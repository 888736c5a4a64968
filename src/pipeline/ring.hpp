// Ring: a bounded, lock-free broadcast ring of Samples. One producer (the scanner thread), any
// number of read cursors (one per sink); every cursor sees every sample.
//
//   pm500::Ring ring(65536);
//   pm500::Ring::Cursor c = ring.subscribe();      // before the producer starts
//   ring.push(sample);                              // producer: never blocks, never fails
//   pm500::Sample buf[256];
//   std::size_t n = c.try_read(buf);                // consumer: 0 when empty
//   if (c.missed() != 0) { /* overrun: exactly c.missed() samples were skipped */ }
//
// Why a broadcast ring and not one queue per sink: the producer does one copy per sample
// whatever the number of sinks, and never looks at the consumers, so a stuck sink cannot slow
// the scanner or the other sinks. The price is that a consumer more than `capacity` samples
// behind loses samples; the delivery threads avoid that by draining into their disk spools.
//
// Each slot carries a sequence stamp (a per-slot seqlock): odd while the producer writes sample
// number s into it (2s+1), even once complete (2s+2), 0 before the first lap. A reader that
// expects sample s knows from the stamp whether the slot is not written yet (empty), holds s
// (copy it, then check the stamp again to rule out a concurrent overwrite), or already holds a
// later lap (overrun: it missed samples, and the producer's head says exactly how many).
//
// The payload is copied as atomic 64-bit words rather than with memcpy: a seqlock reader races
// with the writer by design, and in C++ only atomic accesses may race (see H.-J. Boehm, "Can
// seqlocks get along with programming language memory models?", 2012). On x86-64 an acquire
// load and a release store are plain movs, so this costs nothing, and ThreadSanitizer sees no
// data race.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>

#include "pipeline/sample.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pm500 {

class Ring {
 public:
  // A fixed cache line size: std::hardware_destructive_interference_size varies with -mtune and
  // GCC warns about using it in a layout; 64 bytes is right for every x86-64 and most ARM cores.
  static constexpr std::size_t kCacheLine = 64;
  static constexpr std::size_t kWords = sizeof(Sample) / sizeof(std::uint64_t);

  // capacity: number of slots, a power of two (so the slot index is a mask, not a division).
  explicit Ring(std::size_t capacity)
      : capacity_(checked(capacity)), mask_(capacity - 1), slots_(std::make_unique<Slot[]>(capacity)) {}
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  std::size_t capacity() const noexcept { return capacity_; }

  // Number of samples ever pushed; the next sample gets this sequence number.
  std::uint64_t head() const noexcept {
    return head_.load(std::memory_order_acquire);  // pairs with the release store in push()
  }

  // Producer only. Overwrites the oldest slot when it is full: the producer never waits.
  void push(const Sample& sample) noexcept {
    const std::uint64_t seq = head_local_;
    Slot& slot = slots_[seq & mask_];
    slot.stamp.store(2 * seq + 1, std::memory_order_relaxed);
    // Each word straight from the sample (no copy of it first): a load and a store per word.
    const auto* bytes = reinterpret_cast<const unsigned char*>(&sample);
    // Release on each word keeps the odd stamp above before it: a reader whose acquire load
    // returns any new word also sees the odd (or a later) stamp on its second stamp load. Pairs
    // with the acquire word loads in Cursor::copy_out(). (Not a release fence: GCC does not
    // support fences under ThreadSanitizer; on x86-64 these are plain movs either way.)
    // Unrolled: without the loop's counting (the -O2 build keeps the loop otherwise).
#pragma GCC unroll 32
    for (std::size_t i = 0; i < kWords; ++i) {
      std::uint64_t w;
      std::memcpy(&w, bytes + i * sizeof w, sizeof w);
      slot.words[i].store(w, std::memory_order_release);
    }
    // Publishes the payload: pairs with the acquire load of the stamp in Cursor::copy_out().
    slot.stamp.store(2 * seq + 2, std::memory_order_release);
    head_local_ = seq + 1;
    // Publishes the count for head() (lag, drain on stop, overrun resync); pairs with head().
    head_.store(seq + 1, std::memory_order_release);
  }

  // One sink's read position. Owned and used by one thread; the producer never reads it.
  class Cursor {
   public:
    Cursor() = default;

    // Copies up to out.size() consecutive samples; returns how many (0: nothing new). Samples
    // lost to an overrun are skipped, counted in missed(), and never returned torn.
    [[nodiscard]] std::size_t try_read(std::span<Sample> out) noexcept { return try_read_until(out, ~0ull); }
    // The same, but only samples numbered below `end` (a durable pipeline's journal gate: what
    // is not on disk yet is not read).
    [[nodiscard]] std::size_t try_read_until(std::span<Sample> out, std::uint64_t end) noexcept {
      std::size_t n = 0;
      while (n < out.size() && next_ < end) {
        switch (copy_out(out[n])) {
          case Read::ok: ++n; ++next_; break;
          case Read::empty: return n;
          case Read::overrun: resync(); break;
        }
      }
      return n;
    }
    [[nodiscard]] bool try_read(Sample& out) noexcept { return try_read(std::span<Sample>(&out, 1)) == 1; }

    // Sequence number of the next sample this cursor will return.
    std::uint64_t position() const noexcept { return next_; }
    // Samples published but not read yet (may exceed capacity when an overrun is pending).
    std::uint64_t lag() const noexcept { return ring_ ? ring_->head() - next_ : 0; }
    // Total samples this cursor skipped because the producer overwrote them first.
    std::uint64_t missed() const noexcept { return missed_; }
    bool valid() const noexcept { return ring_ != nullptr; }

   private:
    friend class Ring;
    enum class Read { ok, empty, overrun };
    Cursor(const Ring* ring, std::uint64_t start) : ring_(ring), next_(start) {}

    Read copy_out(Sample& out) const noexcept {
      const Slot& slot = ring_->slots_[next_ & ring_->mask_];
      const std::uint64_t want = 2 * next_ + 2;
      // Pairs with the release store of the even stamp in push(): the payload is visible.
      const std::uint64_t s1 = slot.stamp.load(std::memory_order_acquire);
      if (s1 < want) return Read::empty;  // not written yet (odd: being written right now)
      if (s1 > want) return Read::overrun;
      std::array<std::uint64_t, kWords> words;
      // Acquire keeps the second stamp load after every word load, and pairs with the release
      // word stores in push(): if any word came from a newer lap, s2 shows that lap's stamp.
      for (std::size_t i = 0; i < kWords; ++i) words[i] = slot.words[i].load(std::memory_order_acquire);
      const std::uint64_t s2 = slot.stamp.load(std::memory_order_relaxed);
      if (s2 != s1) return Read::overrun;
      out = std::bit_cast<Sample>(words);
      return Read::ok;
    }

    // The slot for next_ holds a later lap: jump to the oldest sample that is still intact and
    // count everything in between as missed. The producer may be rewriting the slot of
    // head - capacity right now, so the oldest safe one is head - capacity + 1; if the producer
    // overtakes us again before we copy it, the next copy_out() reports another overrun and we
    // come back here, so every skipped sequence number is counted exactly once.
    void resync() noexcept {
      const std::uint64_t head = ring_->head();
      const std::uint64_t oldest = head >= ring_->capacity_ ? head - ring_->capacity_ + 1 : 0;
      const std::uint64_t to = oldest > next_ ? oldest : next_ + 1;
      missed_ += to - next_;
      next_ = to;
    }

    const Ring* ring_ = nullptr;
    std::uint64_t next_ = 0;
    std::uint64_t missed_ = 0;
  };

  // Waking the consumers. push() never makes a system call: the producer calls notify() once
  // per batch of pushes (the scanner: once per event-loop turn), and it costs a system call
  // only when a consumer is asleep. A consumer sleeps in wait() until notify() or the timeout.
  //
  // No lost wake-up: the consumer registers as a sleeper (seq_cst) before it looks at head()
  // a last time; the producer publishes head (in push) and then, with a seq_cst RMW, looks
  // at the sleepers. One of the two sees the other. The futex word changes on every wake, so a
  // consumer that registered before a wake does not sleep through it either.
  void notify() const noexcept {
    // A seq_cst read-modify-write instead of a fence (ThreadSanitizer does not model fences):
    // ordered after the head store of push() and before any sleeper's registration it misses.
    if (sleepers_.fetch_add(0, std::memory_order_seq_cst) == 0) return;
    wake_all();
  }
  // Wakes every waiting consumer unconditionally (stop, tests).
  void wake_all() const noexcept {
    wake_ups_.fetch_add(1, std::memory_order_relaxed);
    wake_word_.fetch_add(1, std::memory_order_release);
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&wake_word_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
              nullptr, 0);
  }
  // Consumer: sleeps while `available()` (e.g. head(), or a journal's committed count) is at
  // most `position`, until notify(), wake_all() or the timeout. Returns at once when data is
  // there already.
  template <class Available>
  void wait(std::uint64_t position, Available available, std::chrono::nanoseconds timeout) const noexcept {
    const std::uint32_t word = wake_word_.load(std::memory_order_acquire);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (available() <= position && timeout.count() > 0) {
      timespec ts{static_cast<time_t>(timeout.count() / 1'000'000'000), static_cast<long>(timeout.count() % 1'000'000'000)};
      ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&wake_word_), FUTEX_WAIT_PRIVATE, word, &ts, nullptr, 0);
    }
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Wake-ups that made a system call, and consumers asleep now (tests, diagnostics).
  [[nodiscard]] std::uint64_t wake_ups() const noexcept { return wake_ups_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint32_t sleeping() const noexcept { return sleepers_.load(std::memory_order_relaxed); }

  // A cursor starting at the next sample to be pushed. Thread-safe with respect to push().
  [[nodiscard]] Cursor subscribe() const noexcept { return Cursor(this, head()); }
  // A cursor starting at a given sequence (tests; resuming within the same process).
  [[nodiscard]] Cursor subscribe_at(std::uint64_t position) const noexcept { return Cursor(this, position); }

 private:
  struct alignas(kCacheLine) Slot {
    std::atomic<std::uint64_t> stamp{0};
    std::atomic<std::uint64_t> words[kWords]{};
  };
  static_assert(sizeof(Sample) % sizeof(std::uint64_t) == 0, "Sample is copied as 64-bit words");
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
  static_assert(alignof(Slot) == kCacheLine && sizeof(Slot) % kCacheLine == 0,
                "a slot owns whole cache lines: writing one never invalidates its neighbours");
  static_assert(sizeof(Slot) == 192, "stamp + 168-byte Sample, padded to three cache lines");

  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  // The producer's private copy of head_, on its own line: push() never loads the shared atomic.
  alignas(kCacheLine) std::uint64_t head_local_ = 0;
  // Read by consumers only on resync and for lag; kept off the producer's private line.
  // (The class is padded to a whole line after it, so nothing else shares it either.)
  alignas(kCacheLine) std::atomic<std::uint64_t> head_{0};
  // Consumers asleep in wait(), and the futex word they sleep on (their own line: the producer
  // reads sleepers_ once per notify(), never per push).
  alignas(kCacheLine) mutable std::atomic<std::uint32_t> sleepers_{0};
  mutable std::atomic<std::uint32_t> wake_word_{0};
  mutable std::atomic<std::uint64_t> wake_ups_{0};

  static std::size_t checked(std::size_t capacity) {
    if (capacity < 2 || !std::has_single_bit(capacity))
      throw std::invalid_argument("ring capacity must be a power of two >= 2");
    return capacity;
  }
};

}  // namespace pm500
