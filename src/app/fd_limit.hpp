// Open files for N meters. The scanner keeps one TCP connection per meter (two while a probe or
// a reconnect overlaps the old one); sinks, spools, the journal and the status server's
// connections need a few hundred more. A distribution's default soft limit (1024, also under
// systemd) runs out past about 400 meters, and then a meter fails to connect with "Too many open
// files" long after start. So the gateway raises its soft limit to the hard limit at start, as
// the kernel allows any process to, and refuses to start when even the hard limit is too low.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "pm500/expected.hpp"

namespace pm500::app {

struct FdLimit {
  std::uint64_t before = 0;  // the soft limit found
  std::uint64_t now = 0;     // the soft limit after raising it
  std::uint64_t hard = 0;
  std::uint64_t needed = 0;     // for the devices configured
  bool room_for_reload = true;  // the limit also covers the devices a reload may add
};

// The open files `devices` meters need.
std::uint64_t fds_needed(std::size_t devices);

// Raises the soft limit on open files to the hard limit (never lowers it). An error that names
// the need, the limit and how to raise it when the hard limit is below fds_needed(devices);
// room_for_reload says whether it also covers `reload_room` more (devices a reload may add).
pm500::expected<FdLimit, std::string> raise_fd_limit(std::size_t devices, std::size_t reload_room = 0);

}  // namespace pm500::app
