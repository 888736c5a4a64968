#include "health/registry.hpp"

#include <algorithm>

#include "log/log.hpp"

namespace pm500::health {

Registry::Registry(std::chrono::milliseconds clear_hold, Clock clock) : hold_(clear_hold), clock_(std::move(clock)) {
  if (!clock_)
    clock_ = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
}

void Registry::raise(std::string_view id, std::string_view subject, std::string_view evidence) {
  std::vector<Event> out;
  {
    std::lock_guard lock(mu_);
    std::int64_t now = clock_();
    auto key = std::make_pair(std::string(id), std::string(subject));
    auto it = active_.find(key);
    if (it != active_.end()) {
      // Already active: refresh the evidence, cancel a pending clear, and count; no new log line.
      it->second.evidence = evidence;
      it->second.last_seen_ms = now;
      it->second.clearing = false;
      ++it->second.occurrences;
      return;
    }
    Condition c{key.first, key.second, std::string(evidence), now, now, 1, false};
    active_.emplace(key, c);
    ++raised_total_[key.first];
    out.push_back({now, key.first, key.second, std::string(evidence), true});
    history_.push_back(out.back());
    while (history_.size() > kHistory) history_.pop_front();
  }
  const FailureMode* m = find_failure_mode(id);
  auto log = log::get("health");
  if (m)
    log->warn("RAISED {} [{}] {}: {} -- {} ({})", id, subject.empty() ? "gateway" : subject, m->symptom, evidence,
              m->resolution, level_short(m->level));
  else
    log->warn("RAISED {} [{}]: {}", id, subject, evidence);
  emit(std::move(out));
}

void Registry::clear(std::string_view id, std::string_view subject) {
  {
    std::lock_guard lock(mu_);
    auto it = active_.find(std::make_pair(std::string(id), std::string(subject)));
    if (it == active_.end() || it->second.clearing) return;
    it->second.clearing = true;
    it->second.last_seen_ms = clock_();
  }
  if (hold_.count() == 0) tick();
}

void Registry::tick() {
  std::vector<Event> out;
  {
    std::lock_guard lock(mu_);
    std::int64_t now = clock_();
    for (auto it = active_.begin(); it != active_.end();) {
      const Condition& c = it->second;
      if (c.clearing && now - c.last_seen_ms >= hold_.count()) {
        out.push_back({now, c.id, c.subject, c.evidence, false});
        history_.push_back(out.back());
        it = active_.erase(it);
      } else {
        ++it;
      }
    }
    while (history_.size() > kHistory) history_.pop_front();
  }
  auto log = log::get("health");
  for (const auto& e : out)
    log->info("CLEARED {} [{}] (was: {})", e.id, e.subject.empty() ? "gateway" : e.subject, e.evidence);
  emit(std::move(out));
}

std::vector<Condition> Registry::active() const {
  std::vector<Condition> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [k, c] : active_) out.push_back(c);
  }
  auto level = [](const Condition& c) {
    const FailureMode* m = find_failure_mode(c.id);
    return m ? static_cast<int>(m->level) : 9;
  };
  std::stable_sort(out.begin(), out.end(), [&](const Condition& a, const Condition& b) {
    return level(a) != level(b) ? level(a) < level(b) : a.since_ms < b.since_ms;
  });
  return out;
}

std::vector<Event> Registry::history() const {
  std::lock_guard lock(mu_);
  return {history_.begin(), history_.end()};
}

bool Registry::is_active(std::string_view id, std::string_view subject) const {
  std::lock_guard lock(mu_);
  for (const auto& [k, c] : active_)
    if (c.id == id && (subject.empty() || c.subject == subject)) return true;
  return false;
}

std::uint64_t Registry::raised_total(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = raised_total_.find(id);
  return it == raised_total_.end() ? 0 : it->second;
}

void Registry::on_event(Listener l) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(l));
}

void Registry::emit(std::vector<Event> events) {
  if (events.empty()) return;
  std::vector<Listener> ls;
  {
    std::lock_guard lock(mu_);
    ls = listeners_;
  }
  for (const auto& e : events)
    for (const auto& l : ls) l(e);
}

}  // namespace pm500::health
