// Conditions the pipeline raises and clears, and the hook that receives them.
//
// The health registry (src/health) implements ConditionSink later; until then the pipeline logs
// each transition itself (once when raised, once when cleared -- never per sample) and counts.
// `subject` is the sink name; `evidence` is what an operator needs to see (counts, reason).
#pragma once

#include <string_view>

namespace pm500 {

namespace condition {
// A sink fell more than the ring capacity behind and lost samples (count in evidence).
inline constexpr std::string_view kOverrun = "pipeline.overrun";
// The spool reached spool_max_mb and dropped its oldest segment (dropped samples in evidence).
inline constexpr std::string_view kSpoolFull = "pipeline.spool_full";
// The spool could not be written (disk full, permissions): samples wait in the ring meanwhile.
inline constexpr std::string_view kSpoolError = "pipeline.spool_error";
// Corrupt or torn spool records were skipped when reading the spool back.
inline constexpr std::string_view kSpoolCorrupt = "pipeline.spool_corrupt";
// The destination does not accept deliveries (retry); samples are held and spooled.
inline constexpr std::string_view kSinkUnavailable = "pipeline.sink_unavailable";
// The destination refused samples for good; they went to the dead-letter file.
inline constexpr std::string_view kDeadLetter = "pipeline.dead_letter";
// After a restart, a device's first new sample is not the successor of the last persisted one.
inline constexpr std::string_view kRestartGap = "pipeline.restart_gap";
// The filesystem under state_dir is short of space: spools drop their oldest samples (counted).
inline constexpr std::string_view kDiskFull = "pipeline.disk_full";
// Spooled samples whose device or field layout is no longer configured went to the dead-letter
// file instead of being written under another device's name.
inline constexpr std::string_view kUnattributable = "pipeline.unattributable";
// The scanner cannot keep up: the kernel drops Class 1 datagrams on its receive socket, or its
// thread is saturated (drops/s, CPU and the sysctl to raise in evidence). Raised by the gateway.
inline constexpr std::string_view kOverload = "gateway.overload";
}  // namespace condition

// Receives condition transitions. Called from delivery threads: implementations must be
// thread-safe and must not block for long.
class ConditionSink {
 public:
  virtual ~ConditionSink() = default;
  virtual void raise(std::string_view id, std::string_view subject, std::string_view evidence) = 0;
  virtual void clear(std::string_view id, std::string_view subject) = 0;
};

}  // namespace pm500
