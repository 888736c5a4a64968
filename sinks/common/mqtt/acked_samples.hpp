// What the broker already acknowledged of a batch that failed, so that the pipeline's retry of
// that batch publishes only the rest.
//
// After a failed deliver() the pipeline retries the same samples in the same order (from memory,
// or read back from the spool), and a QoS 1 sink used to publish all of them again: one PUBACK
// timeout in a 500-sample batch cost up to 500 duplicates. The sink now records, per sample,
// whether the message that carried it was acknowledged; the next attempt skips those samples and
// answers ok once every sample of the batch has been acknowledged at least once.
//
//   std::vector<std::uint8_t> skip;
//   memory.match(batch, skip);               // skip[i] = 1: acknowledged by an earlier attempt
//   ... publish the samples with skip[i] == 0, note which ones are acknowledged now ...
//   failed:    memory.remember(batch, acknowledged);   // acknowledged[i]: skip[i] or acked now
//   ok/reject: memory.forget_matched();
//
// Samples are matched by content, never by position: a remembered sample is skipped only when
// the batch holds a byte-identical one (device, assembly, CIP sequence, flags, source time and
// every value), so a retry that differs from the failed batch -- longer, shorter, re-read from
// the spool in other chunks -- skips exactly the samples the broker confirmed and sends all the
// others. Equal samples are counted (one acknowledgement skips one of two identical samples).
// Nothing acknowledged can be lost by skipping: a sample is only skipped when the broker has
// confirmed a sample identical to it.
//
// Memory: at most one batch. remember() keeps only samples of the batch it is given; a batch
// that got ok drops what it matched, and a batch that matched nothing drops everything (the
// failed batch is behind the pipeline). The memory lives in the process: after a restart the
// spool's persisted offset decides what is sent again (see sinks/mqtt/README.md).
//
// Not thread-safe: the sink's delivery thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "pipeline/sample.hpp"

namespace pm500::mqttc {

class AckedSamples {
 public:
  // Marks in `skip` (resized to batch.size()) each sample that an earlier attempt got
  // acknowledged; returns how many. Each remembered acknowledgement matches one sample.
  std::size_t match(std::span<const Sample> batch, std::vector<std::uint8_t>& skip);

  // After a failed attempt at `batch`: remembers exactly the samples with acknowledged[i] != 0
  // (those skipped by match() and those confirmed by this attempt); forgets everything else.
  // Every match() is followed by remember() or forget_matched().
  void remember(std::span<const Sample> batch, std::span<const std::uint8_t> acknowledged);

  // After the batch passed to the last match() was delivered (or refused for good): the
  // acknowledgements it used are spent. What it did not match is kept for the next batch (a
  // retry read back in smaller chunks), unless it matched nothing at all.
  void forget_matched();

  void clear();
  // Acknowledged samples remembered (bounded by the largest batch given to remember()).
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  struct Key {
    Sample s;
    bool operator==(const Key& o) const noexcept;
  };
  struct Hash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  // sample -> acknowledgements not used yet; match() uses them up as it skips.
  std::unordered_map<Key, std::uint32_t, Hash> counts_;
  std::size_t size_ = 0;     // sum of the counts
  std::size_t matched_ = 0;  // samples the last match() skipped
};

// One sink's use of AckedSamples across deliver() calls: which samples of a batch still need
// publishing, and what to remember when the attempt fails. Both QoS 1 sinks (MQTT, AWS IoT)
// go through it:
//
//   std::span<const Sample> todo = retry_.start(batch, qos >= 1);
//   if (todo.empty()) { retry_.finished(); return ok; }     // all acknowledged before
//   ... publish todo ...
//   failed:  retry_.failed(todo_acked);   // todo_acked[j]: todo[j] acknowledged now (or empty)
//   ok:      retry_.finished();
class RetryFilter {
 public:
  // Starts an attempt at `batch`. Returns the samples to publish: the batch itself, or the
  // samples an earlier attempt did not get acknowledged (valid until the next start()).
  std::span<const Sample> start(std::span<const Sample> batch, bool track);
  // Samples the current attempt skips because an earlier one got them acknowledged.
  std::size_t skipped() const noexcept { return skipped_; }
  // The attempt failed. todo_acked (empty, or one entry per sample start() returned) says
  // which of them this attempt got acknowledged.
  void failed(std::span<const std::uint8_t> todo_acked);
  // The attempt succeeded (or was refused for good): the acknowledgements it used are spent.
  void finished();
  // Acknowledged samples remembered.
  std::size_t remembered() const noexcept { return acked_.size(); }
  // A stream of publishes broke (Sink::stream()): `sent` are the samples out and unconfirmed,
  // acked[i] whether sent[i]'s message was acknowledged after all. The pipeline retries them
  // through deliver(), whose start() then skips the acknowledged ones.
  void stream_broke(std::span<const Sample> sent, std::span<const std::uint8_t> acked) { acked_.remember(sent, acked); }

 private:
  AckedSamples acked_;
  std::span<const Sample> batch_;
  std::vector<std::uint8_t> skip_;  // per sample of the batch: acknowledged before
  std::vector<Sample> todo_;        // the samples still to publish (when some are skipped)
  std::size_t skipped_ = 0;
  bool track_ = false;
};

}  // namespace pm500::mqttc
