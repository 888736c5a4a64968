#include "health/acknowledgements.hpp"

#include <cctype>
#include <fstream>

#include "health/failure_modes.hpp"
#include "log/log.hpp"

namespace pm500::health {
namespace {

// File format: a first line naming it, then one entry per line, fields separated by tabs:
// kind id subject at_ms until_ms level by note evidence. Tabs, newlines and backslashes inside
// a field are escaped, so a note cannot break a line. Plain text, readable on the box.
constexpr std::string_view kHeader = "# pm500-gateway acknowledgements v1";

std::string escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

std::string unescaped(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char n = s[++i];
    out += n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n;
  }
  return out;
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t at; (at = line.find('\t')) != std::string_view::npos; line.remove_prefix(at + 1))
    out.push_back(line.substr(0, at));
  out.push_back(line);
  return out;
}

std::string level_of(std::string_view id) {
  const FailureMode* m = find_failure_mode(id);
  return m ? std::string(level_short(m->level)) : std::string();
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Control characters, except that a note may have lines and tabs.
bool has_control(std::string_view s, bool note) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !(note && (c == '\n' || c == '\t'))) || u == 0x7F) return true;
  }
  return false;
}

std::string who(const Acknowledgement& a) {
  return a.id + " [" + (a.subject.empty() ? "gateway" : a.subject) + "]";
}

const Condition* find_active(const std::vector<Condition>& active, std::string_view id, std::string_view subject) {
  for (const auto& c : active)
    if (c.id == id && c.subject == subject) return &c;
  return nullptr;
}

}  // namespace

std::string_view to_string(Acknowledgement::Kind k) {
  return k == Acknowledgement::Kind::shelved ? "shelved" : "acknowledged";
}

std::string Acknowledgements::signature(std::string_view e) {
  std::string out;
  for (std::size_t i = 0; i < e.size();) {
    const bool digit = std::isdigit(static_cast<unsigned char>(e[i]));
    if (digit && e[i] == '0' && i + 1 < e.size() && (e[i + 1] == 'x' || e[i + 1] == 'X')) {
      std::size_t j = i + 2;  // a status code: its value is its meaning
      while (j < e.size() && std::isxdigit(static_cast<unsigned char>(e[j]))) ++j;
      out.append(e.substr(i, j - i));
      i = j;
    } else if (digit) {
      std::size_t j = i, end = i;
      while (j < e.size() && (std::isdigit(static_cast<unsigned char>(e[j])) || e[j] == '.' || e[j] == ',')) {
        if (std::isdigit(static_cast<unsigned char>(e[j]))) end = j + 1;  // a trailing "." ends a sentence
        ++j;
      }
      out += '#';
      i = end;
    } else {
      out += e[i++];
    }
  }
  return out;
}

Acknowledgements::Acknowledgements(std::filesystem::path file, Clock clock)
    : file_(std::move(file)), clock_(std::move(clock)) {
  if (!clock_)
    clock_ = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  loaded_ms_ = clock_();
  std::ifstream in(file_);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    auto f = split_tabs(line);
    if (f.size() != 9 || (f[0] != "acknowledged" && f[0] != "shelved")) continue;
    Acknowledgement a;
    a.kind = f[0] == "shelved" ? Acknowledgement::Kind::shelved : Acknowledgement::Kind::acknowledged;
    a.id = unescaped(f[1]);
    a.subject = unescaped(f[2]);
    try {
      a.at_ms = std::stoll(std::string(f[3]));
      a.until_ms = std::stoll(std::string(f[4]));
    } catch (const std::exception&) {
      continue;
    }
    a.level = unescaped(f[5]);
    a.by = unescaped(f[6]);
    a.note = unescaped(f[7]);
    a.evidence = unescaped(f[8]);
    a.waiting = true;
    if (a.id.empty()) continue;
    entries_[{a.id, a.subject}] = std::move(a);
  }
  if (!entries_.empty())
    log::get("health")->info("{} acknowledgement(s) and shelve(s) kept from the last run in {}; each holds if its "
                             "condition comes back unchanged",
                             entries_.size(), file_.string());
}

Acknowledgements::Outcome Acknowledgements::apply(const Request& r, const std::vector<Condition>& active) {
  const bool shelve = r.action == "shelve", undo = r.action == "undo";
  if (!shelve && !undo && r.action != "acknowledge")
    return {400, "\"action\" must be \"acknowledge\", \"shelve\" or \"undo\"", std::nullopt};
  if (r.id.empty()) return {400, "\"id\" is required: the failure id from /api/status failures[].id", std::nullopt};
  const std::string by = trimmed(r.by), note = trimmed(r.note);
  if (!undo) {
    if (by.empty()) return {400, "\"by\" is required: the name of who acknowledges or shelves", std::nullopt};
    if (note.empty()) return {400, "\"note\" is required: why (a ticket, who was told, what is planned)", std::nullopt};
  }
  if (by.size() > kMaxName || has_control(by, false))
    return {400, "\"by\" must be a name of at most " + std::to_string(kMaxName) + " bytes, on one line", std::nullopt};
  if (note.size() > kMaxNote || has_control(note, true))
    return {400, "\"note\" must be at most " + std::to_string(kMaxNote) + " bytes of text", std::nullopt};
  if (shelve && (r.minutes < 1 || r.minutes > kMaxShelveMinutes))
    return {400, "\"minutes\" must be 1 to " + std::to_string(kMaxShelveMinutes) + " (7 days) to shelve", std::nullopt};

  const std::string name = r.id + " [" + (r.subject.empty() ? "gateway" : r.subject) + "]";
  const std::int64_t now = clock_();
  std::lock_guard lock(mu_);
  const Key key{r.id, r.subject};
  if (undo) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return {404, name + " is neither acknowledged nor shelved", std::nullopt};
    log::get("health")->info("UNDONE {} of {} by {}{}", to_string(it->second.kind), name, by.empty() ? "?" : by,
                             note.empty() ? "" : ": " + note);
    entries_.erase(it);
    save_locked();
    return {200, "undone: " + name + " is shown and alerted again", std::nullopt};
  }
  const Condition* c = find_active(active, r.id, r.subject);
  if (!c) return {404, "no active condition " + name + ": it may have cleared; reload the status", std::nullopt};
  if (!r.evidence.empty() && signature(r.evidence) != signature(c->evidence))
    return {409, "the condition changed since it was shown (now: " + c->evidence + "); look at it again", std::nullopt};

  Acknowledgement a;
  a.id = r.id;
  a.subject = r.subject;
  a.kind = shelve ? Acknowledgement::Kind::shelved : Acknowledgement::Kind::acknowledged;
  a.by = by;
  a.note = note;
  a.at_ms = now;
  a.until_ms = shelve ? now + r.minutes * 60'000 : 0;
  a.evidence = c->evidence;
  a.level = level_of(r.id);
  if (shelve)
    log::get("health")->info("SHELVED {} for {} min by {}: {}", name, r.minutes, by, note);
  else
    log::get("health")->info("ACKNOWLEDGED {} by {}: {}", name, by, note);
  entries_[key] = a;
  save_locked();
  return {200, std::string(shelve ? "shelved: " : "acknowledged: ") + name, a};
}

bool Acknowledgements::on_event(const Event& e) {
  std::lock_guard lock(mu_);
  auto it = entries_.find({e.id, e.subject});
  if (it == entries_.end()) return true;
  if (!e.raised) {
    undo_locked(it, "the condition cleared");
    return true;
  }
  Acknowledgement& a = it->second;
  if (signature(e.evidence) != signature(a.evidence)) {
    undo_locked(it, "it came back with other evidence: " + e.evidence);
    return true;
  }
  if (a.level != level_of(e.id)) {
    undo_locked(it, "its level changed");
    return true;
  }
  a.waiting = false;  // the same condition, raised again after a restart: not a new alert
  log::get("health")->info("{} is raised again and still {} (by {}): not alerted again", who(a), to_string(a.kind),
                           a.by);
  return false;
}

void Acknowledgements::tick(const std::vector<Condition>& active) {
  const std::int64_t now = clock_();
  std::lock_guard lock(mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    const Acknowledgement& a = it->second;
    const Condition* c = find_active(active, a.id, a.subject);
    if (a.kind == Acknowledgement::Kind::shelved && now >= a.until_ms) {
      undo_locked(it, "the shelf ran out");
    } else if (c && signature(c->evidence) != signature(a.evidence)) {
      undo_locked(it, "its evidence changed: " + c->evidence);
    } else if (c && a.level != level_of(a.id)) {
      undo_locked(it, "its level changed");
    } else if (c) {
      it->second.waiting = false;
    } else if (!a.waiting) {
      undo_locked(it, "the condition is no longer active");
    } else if (now - loaded_ms_ >= std::chrono::milliseconds(kRevalidate).count()) {
      undo_locked(it, "the condition did not come back after the restart");
    }
    it = next;
  }
}

void Acknowledgements::undo_locked(std::map<Key, Acknowledgement>::iterator it, std::string_view why) {
  log::get("health")->info("UNDONE {} of {}: {}", to_string(it->second.kind), who(it->second), why);
  entries_.erase(it);
  save_locked();
}

std::vector<Acknowledgement> Acknowledgements::list() const {
  std::lock_guard lock(mu_);
  std::vector<Acknowledgement> out;
  for (const auto& [k, a] : entries_) out.push_back(a);
  return out;
}

std::optional<Acknowledgement> Acknowledgements::find(std::string_view id, std::string_view subject) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find({std::string(id), std::string(subject)});
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void Acknowledgements::save_locked() const {
  // A new file renamed over the old one: a crash mid-write leaves the old one whole.
  std::filesystem::path tmp = file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kHeader << '\n';
    for (const auto& [k, a] : entries_)
      out << to_string(a.kind) << '\t' << escaped(a.id) << '\t' << escaped(a.subject) << '\t' << a.at_ms << '\t'
          << a.until_ms << '\t' << escaped(a.level) << '\t' << escaped(a.by) << '\t' << escaped(a.note) << '\t'
          << escaped(a.evidence) << '\n';
    out.flush();
    if (!out) {
      log::get("health")->warn("cannot write {}: acknowledgements and shelves will not survive a restart; check "
                               "[gateway] state_dir (writable, space free)",
                               tmp.string());
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file_, ec);
  if (ec)
    log::get("health")->warn("cannot replace {}: {}; acknowledgements will not survive a restart", file_.string(),
                             ec.message());
}

}  // namespace pm500::health
