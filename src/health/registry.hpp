// The registry of active conditions: components raise and clear failure modes with evidence;
// the registry applies hysteresis (a condition clears only after a quiet hold period, so it
// does not flap), logs each transition once, keeps a short history, and tells listeners (status
// page, alert webhook).
//
//   health::Registry reg;
//   reg.raise("eip.no_response", "mcc-1", "connect to 10.0.0.5:44818 timed out after 3000 ms");
//   reg.clear("eip.no_response", "mcc-1");   // takes effect after the hold period, in tick()
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "health/failure_modes.hpp"
#include "pipeline/conditions.hpp"

namespace pm500::health {

struct Condition {
  std::string id;
  std::string subject;   // device or sink name; "" for the gateway itself
  std::string evidence;  // the latest evidence (status code, HTTP code, file, counts)
  std::int64_t since_ms = 0;      // wall-clock time when raised (ms since the epoch)
  std::int64_t last_seen_ms = 0;  // last raise() call
  std::uint64_t occurrences = 0;  // raise() calls while active
  bool clearing = false;          // clear() seen; clears for good after the hold
};

struct Event {
  std::int64_t time_ms = 0;
  std::string id, subject, evidence;
  bool raised = false;  // false: cleared
};

class Registry final : public ConditionSink {
 public:
  using Clock = std::function<std::int64_t()>;  // wall-clock ms; tests pass their own
  explicit Registry(std::chrono::milliseconds clear_hold = std::chrono::seconds(10), Clock clock = nullptr);

  void raise(std::string_view id, std::string_view subject, std::string_view evidence) override;
  void clear(std::string_view id, std::string_view subject) override;
  // Completes clears whose hold has passed; call about once a second.
  void tick();

  std::vector<Condition> active() const;  // most severe level first, then oldest
  std::vector<Event> history() const;     // newest last, at most kHistory
  bool is_active(std::string_view id, std::string_view subject = {}) const;
  std::uint64_t raised_total(std::string_view id) const;

  using Listener = std::function<void(const Event&)>;
  void on_event(Listener l);  // called outside the registry's lock

  static constexpr std::size_t kHistory = 200;

 private:
  void emit(std::vector<Event> events);

  mutable std::mutex mu_;
  std::chrono::milliseconds hold_;
  Clock clock_;
  std::map<std::pair<std::string, std::string>, Condition> active_;
  std::map<std::string, std::uint64_t, std::less<>> raised_total_;
  std::deque<Event> history_;
  std::vector<Listener> listeners_;
};

}  // namespace pm500::health
