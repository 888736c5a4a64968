#include "app/service.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>

#if PM500_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace pm500::app {

ServiceNotifier::ServiceNotifier() {
#if PM500_HAVE_LIBSYSTEMD
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0) watchdog_ = std::chrono::microseconds(usec);
#endif
}

bool ServiceNotifier::built_in() noexcept { return PM500_HAVE_LIBSYSTEMD != 0; }

void ServiceNotifier::send(const std::string& message) {
#if PM500_HAVE_LIBSYSTEMD
  if (enabled_) (void)sd_notify(0, message.c_str());
#else
  (void)message;
#endif
}

namespace {
// One line: STATUS= ends at a newline.
std::string one_line(std::string_view s) {
  std::string out(s.substr(0, 400));
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out;
}
}  // namespace

void ServiceNotifier::ready(std::string_view status) { send("READY=1\nSTATUS=" + one_line(status)); }
void ServiceNotifier::reloading(std::string_view status) {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const std::uint64_t usec =
      static_cast<std::uint64_t>(now.tv_sec) * 1'000'000 + static_cast<std::uint64_t>(now.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=" + one_line(status));
}
void ServiceNotifier::stopping(std::string_view status) { send("STOPPING=1\nSTATUS=" + one_line(status)); }
void ServiceNotifier::status(std::string_view status) { send("STATUS=" + one_line(status)); }
void ServiceNotifier::watchdog() {
  if (watchdog_.count() > 0) send("WATCHDOG=1");
}

std::vector<ProgressWatch::Stalled> ProgressWatch::update(const std::vector<ThreadProgress>& counts,
                                                          Clock::time_point now) {
  std::vector<Seen> next;
  next.reserve(counts.size());
  std::vector<Stalled> stalled;
  for (const auto& c : counts) {
    auto it = std::find_if(seen_.begin(), seen_.end(), [&](const Seen& s) { return s.name == c.name; });
    Seen s{c.name, c.turns, now};
    if (it != seen_.end() && it->turns == c.turns) s.moved_at = it->moved_at;
    const auto still = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.moved_at);
    if (still >= stall_after_) stalled.push_back({c.name, still});
    next.push_back(std::move(s));
  }
  seen_ = std::move(next);  // threads that went away are forgotten
  return stalled;
}

std::chrono::milliseconds ProgressWatch::stall_limit_for(std::chrono::microseconds watchdog) {
  using namespace std::chrono_literals;
  if (watchdog <= 0us) return 30s;
  return std::max<std::chrono::milliseconds>(2s, std::chrono::duration_cast<std::chrono::milliseconds>(watchdog / 2));
}

std::string describe(const std::vector<ProgressWatch::Stalled>& stalled) {
  std::string s;
  for (const auto& t : stalled)
    s += (s.empty() ? "" : ", ") + t.name + " (" + std::to_string(t.still_for.count() / 1000) + " s)";
  return s;
}

}  // namespace pm500::app
