// The scanner's decisions, as pure functions of what the device answered: is this the meter we
// expect, is a status a path error, what to do when a Forward Open is refused, which fault a
// connect errno is, and when a Class 1 connection has timed out. Kept apart from the sockets
// so that each rule is pinned by a unit test without a network (tests/scanner/policy_test.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "cip/forward_open.hpp"
#include "cip/identity.hpp"
#include "cip/scanner.hpp"

namespace cip::detail {

Identity to_identity(const IdentityInfo& info);

// nullopt when `id` is the device `want` describes, with product code `expected_product_code`
// when that is not 0 (else any of want.product_codes); otherwise the sentence for the
// wrong_identity fault: what answered, what `profile` (where `want` comes from, "" = not said)
// expects, and the fix: the address, another profile, or the overrides that accept it.
std::optional<std::string> identity_mismatch(const IdentityInfo& id, const ExpectedIdentity& want,
                                             std::uint16_t expected_product_code, const std::string& profile = {});

// A Forward Open refused 0x01/0x0127 (O->T size) or 0x01/0x0128 (T->O size) names the size the
// target wants. When that is the size asked for with a 32-bit run/idle header added (or with
// the one asked for taken away), the scanner retries at once in that format.
struct SizeAdaptation {
  bool t_o = false;            // which direction: T->O (0x0128) or O->T (0x0127)
  bool run_idle_header = false;  // the format to retry with
  std::string note;            // "T->O with a 32-bit run/idle header: ..." for path_reason and the log
};
std::optional<SizeAdaptation> adapt_size(const ConnectionFailure& f, std::uint16_t assembly,
                                         std::uint32_t data_size, bool t_o_header, bool o_t_header);
// The fault text for a size refusal adapt_size cannot explain: both sizes and what to change.
std::string size_refusal_text(const ConnectionFailure& f, std::uint16_t assembly, std::uint32_t data_size,
                              bool t_o_header, bool o_t_header, const std::string& profile);

// Statuses that say the path names something the device does not have or cannot parse
// (DESIGN.md eip.session_fault: 0x04/0x05/0x0311/0x0312/0x0315, plus 0x16 object does not exist,
// 0x26 path size invalid and 0x01/0x0117 invalid produced/consumed application path).
bool is_path_error(std::uint8_t general, std::uint16_t extended);

// 0x01/0x0119: listen-only refused because no non-listen-only connection (owner) exists
// (CIP Vol 1, chapter 3, Connection Manager error codes).
inline constexpr std::uint16_t ext_no_owner = 0x0119;

struct RefusalDecision {
  enum class Action : std::uint8_t { use_input_only, use_explicit, fail } action = Action::fail;
  Fault::Kind kind = Fault::Kind::forward_open_refused;  // when action == fail
  std::string reason;  // path_reason when falling back, fault text when failing
};
// What a refused Forward Open for `assembly` on `path` leads to.
RefusalDecision decide_refusal(Mode path, Fallback fallback, const ConnectionFailure& f, std::uint16_t assembly,
                               std::uint32_t poll_interval_ms);

// "listen-only as configured", "explicit polling every 1000 ms as configured", ...
std::string configured_reason(Mode m, std::uint32_t poll_interval_ms);

// The fault a failed TCP connect is (errno from connect() or SO_ERROR).
Fault::Kind classify_connect_errno(int err);

// The Class 1 connection timeout in ns: RPI x 4 x 2^multiplier (CIP Vol 1, Connection Object,
// "expected_packet_rate" and Forward_Open "Connection Timeout Multiplier").
std::int64_t io_timeout_ns(std::uint32_t rpi_us, std::uint8_t multiplier);
inline bool io_timed_out(std::int64_t last_rx_ns, std::int64_t now_ns, std::int64_t timeout_ns) {
  return now_ns - last_rx_ns >= timeout_ns;
}

// Which faults are raised on one device: each kind is reported once per distinct cause
// (codes and assembly), until cleared. `attempt` is the connection attempt that raised it, so a
// device that reaches "running" clears what earlier attempts raised and keeps what this one
// found (an assembly the device lacks stays reported while the others flow).
class FaultBook {
 public:
  // true when the fault is new (or its cause changed): the caller reports it.
  bool raise(const Fault& f, std::uint32_t attempt);
  // true when it was raised: the caller reports the clearing.
  bool clear(Fault::Kind k);
  bool active(Fault::Kind k) const { return slots_[index(k)].has_value(); }
  bool active_on(Fault::Kind k, std::uint16_t assembly) const {
    return slots_[index(k)].has_value() && slots_[index(k)]->assembly == assembly;
  }
  // Kinds raised by an attempt other than `attempt`, cleared and returned as a bit mask.
  std::uint32_t clear_older_than(std::uint32_t attempt);

  static std::size_t index(Fault::Kind k) { return static_cast<std::size_t>(k); }

 private:
  struct Key {
    std::uint8_t general = 0;
    std::uint16_t extended = 0;
    std::uint32_t encap = 0;
    int err = 0;
    std::uint16_t assembly = 0;
    std::uint32_t attempt = 0;
    bool same_cause(const Key& o) const {
      return general == o.general && extended == o.extended && encap == o.encap && err == o.err &&
             assembly == o.assembly;
    }
  };
  std::array<std::optional<Key>, Fault::kind_count> slots_{};
};

}  // namespace cip::detail
