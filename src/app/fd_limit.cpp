#include "app/fd_limit.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <tuple>

#include "pm500/open_files.hpp"

namespace pm500::app {

namespace {
// What is not per meter: sinks (a connection or two and spool files each), the journal, the
// status server's connections and workers, the simulator's sockets in demo mode, log files.
constexpr std::uint64_t kFixed = 512;
}  // namespace

std::uint64_t fds_needed(std::size_t devices) { return 2 * static_cast<std::uint64_t>(devices) + kFixed; }

pm500::expected<FdLimit, std::string> raise_fd_limit(std::size_t devices, std::size_t reload_room) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return pm500::unexpected(std::string("cannot read the limit on open files: ") + std::strerror(errno));
  FdLimit out;
  out.before = rl.rlim_cur;
  out.needed = fds_needed(devices);
  std::tie(out.now, out.hard) = raise_open_files_limit();
  out.room_for_reload = out.now >= fds_needed(devices + reload_room);
  if (out.now >= out.needed) return out;
  const std::string n = std::to_string(out.needed);
  return pm500::unexpected(std::to_string(devices) + " device(s) need up to " + n +
                           " open files (two connections per meter while one reconnects, and the sinks and status "
                           "server), but the limit is " + std::to_string(out.now) + " (hard limit " + std::to_string(out.hard) +
                           "); raise it: LimitNOFILE=" + n + " in the systemd unit, --ulimit nofile=" + n + ":" + n +
                           " for podman or docker, or `ulimit -n " + n + "` in the shell that starts the gateway");
}

}  // namespace pm500::app
