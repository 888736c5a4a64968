// Operators' acknowledgements and shelves of active conditions, kept in the state directory.
//
//   health::Acknowledgements acks(state_dir / "acknowledgements");  // loads what the last run kept
//   registry.on_event([&](const health::Event& e) { if (acks.on_event(e)) alerts.enqueue(e); });
//   auto r = acks.apply({"acknowledge", "historian.retention_disabled", "influxdb", "J. Ortiz",
//                        "ticket 4411", 0, ""}, registry.active());
//   acks.tick(registry.active());  // once a second: expiries and changed conditions
//
// An acknowledgement or a shelf changes how a condition is shown and stops its repeat alerts;
// it never hides the condition from the registry, the log, /metrics or the event history. It
// belongs to one occurrence with one kind of evidence and is undone when:
//   - the condition clears (if it comes back, it is a new occurrence, alerted and shown again);
//   - its evidence changes in kind (signature(): the text with its numbers left out, so a count
//     or a reading that moves does not undo it, another status code or another finding does);
//   - its failure mode's escalation level is no longer the one it was given at;
//   - a shelf's time runs out.
// After a restart the condition is raised again: when it comes back with the same kind of
// evidence within kRevalidate, the entry holds and the raise is not alerted again (that is the
// repeat alert it stops); otherwise the entry is dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "health/registry.hpp"

namespace pm500::health {

struct Acknowledgement {
  enum class Kind { acknowledged, shelved };
  std::string id, subject;
  Kind kind = Kind::acknowledged;
  std::string by, note;
  std::int64_t at_ms = 0;     // when it was given
  std::int64_t until_ms = 0;  // shelved: when the shelf runs out; 0 for an acknowledgement
  std::string evidence;       // the condition's evidence when it was given
  std::string level;          // its failure mode's level then ("L1")
  bool waiting = false;       // kept from the last run; its condition has not been raised again yet
};

std::string_view to_string(Acknowledgement::Kind k);  // "acknowledged", "shelved"

class Acknowledgements {
 public:
  using Clock = std::function<std::int64_t()>;  // wall-clock ms; tests pass their own

  // What an operator asks for (POST /api/acknowledge, docs/status-api.md).
  struct Request {
    std::string action;  // "acknowledge", "shelve" or "undo"
    std::string id, subject, by, note;
    std::int64_t minutes = 0;  // shelve: for how long
    std::string evidence;      // optional: the evidence the operator saw; refused (409) when it changed since
  };
  struct Outcome {
    int status = 200;     // HTTP status: 200, 400, 404 (no such active condition), 409 (changed)
    std::string message;  // what was done, or why not (names the field or the fix)
    std::optional<Acknowledgement> entry;  // the entry now in force (none after "undo")
  };

  static constexpr std::int64_t kMaxShelveMinutes = 7 * 24 * 60;
  static constexpr std::size_t kMaxName = 64, kMaxNote = 500;
  static constexpr std::chrono::hours kRevalidate{1};

  // Loads `file` (missing or damaged lines are skipped); entries from it wait for their
  // condition to be raised again.
  explicit Acknowledgements(std::filesystem::path file, Clock clock = nullptr);

  Outcome apply(const Request& r, const std::vector<Condition>& active);
  // Registry listener. Returns whether the event should be alerted: false for the raise of a
  // condition that is still acknowledged or shelved from before a restart.
  bool on_event(const Event& e);
  // Undoes expired shelves, entries whose condition changed or is gone, and kept entries whose
  // condition did not come back within kRevalidate. Call about once a second.
  void tick(const std::vector<Condition>& active);

  std::vector<Acknowledgement> list() const;  // by id, then subject
  std::optional<Acknowledgement> find(std::string_view id, std::string_view subject) const;

  // The kind of an evidence text: its numbers (runs of digits with their separators) as '#',
  // hexadecimal status codes ("0x0119") kept as they are.
  static std::string signature(std::string_view evidence);

 private:
  using Key = std::pair<std::string, std::string>;
  void undo_locked(std::map<Key, Acknowledgement>::iterator it, std::string_view why);
  void save_locked() const;

  std::filesystem::path file_;
  Clock clock_;
  std::int64_t loaded_ms_ = 0;
  mutable std::mutex mu_;
  std::map<Key, Acknowledgement> entries_;
};

}  // namespace pm500::health
