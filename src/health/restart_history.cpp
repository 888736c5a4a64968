#include "health/restart_history.hpp"

#include <fstream>
#include <sstream>

namespace pm500::health {

// File format, one entry per line: "start <ms>" or "stop <ms> <reason...>". Plain text so an
// engineer can read it on the box; unknown or damaged lines are skipped.
RestartHistory RestartHistory::open(std::filesystem::path file, std::int64_t now_ms) {
  RestartHistory h;
  h.file_ = std::move(file);
  h.now_ms_ = now_ms;
  std::ifstream in(h.file_);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind;
    Entry e;
    if (!(ls >> kind >> e.time_ms) || (kind != "start" && kind != "stop")) continue;
    e.start = kind == "start";
    std::getline(ls >> std::ws, e.reason);
    h.entries_.push_back(std::move(e));
  }
  for (const auto& e : h.entries_) h.total_starts_ += e.start;
  h.entries_.push_back({now_ms, true, {}});
  ++h.total_starts_;
  if (h.entries_.size() > kKeep) h.entries_.erase(h.entries_.begin(), h.entries_.end() - kKeep);
  h.save();
  return h;
}

void RestartHistory::record_stop(const std::string& reason, std::int64_t now_ms) {
  entries_.push_back({now_ms, false, reason});
  save();
}

void RestartHistory::save() const {
  // Write a new file and rename it over the old one, so a crash mid-write leaves the old one.
  std::filesystem::path tmp = file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& e : entries_)
      out << (e.start ? "start " : "stop ") << e.time_ms << (e.reason.empty() ? "" : " ") << e.reason << '\n';
    if (!out) return;  // a full disk must not stop the gateway; the history is advisory
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file_, ec);
}

std::size_t RestartHistory::starts_within(std::chrono::milliseconds window) const {
  std::size_t n = 0;
  // The last entry is this start: count the ones before it.
  for (std::size_t i = 0; i + 1 < entries_.size(); ++i)
    n += entries_[i].start && now_ms_ - entries_[i].time_ms <= window.count();
  return n;
}

std::size_t RestartHistory::unclean_within(std::chrono::milliseconds window) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i + 1 < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    // A start followed directly by another start: that run never stopped cleanly.
    if (e.start && entries_[i + 1].start && now_ms_ - e.time_ms <= window.count()) ++n;
  }
  return n;
}

namespace {
bool is_failure(const RestartHistory::Entry& e) {
  return !e.start && (e.reason.starts_with(RestartHistory::kStartFailed) ||
                      e.reason.starts_with(RestartHistory::kConfigError));
}
}  // namespace

std::size_t RestartHistory::failed_within(std::chrono::milliseconds window) const {
  std::size_t n = 0;
  for (const auto& e : entries_) n += is_failure(e) && now_ms_ - e.time_ms <= window.count();
  return n;
}

std::string RestartHistory::summary(std::chrono::milliseconds window) const {
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(window).count();
  std::string s = std::to_string(starts_within(window)) + " restart(s) in the last " + std::to_string(minutes) +
                  " min, " + std::to_string(unclean_within(window)) +
                  " after an unclean exit (crash, kill or out of memory)";
  if (std::size_t failed = failed_within(window); failed > 0) {
    s += ", " + std::to_string(failed) + " failed to start";
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
      if (is_failure(*it)) {
        s += " (last: " + it->reason + ")";
        break;
      }
  }
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it)
    if (!it->start && !is_failure(*it)) {
      s += "; last clean stop: " + it->reason;
      break;
    }
  return s;
}

}  // namespace pm500::health
