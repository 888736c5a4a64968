// The limit on open files, raised for a process that holds a connection per meter: the soft
// limit to the hard limit (any process may; never lowered). Returns the soft limit in force
// afterwards and the hard limit (0, 0 when the limit cannot be read).
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <utility>

namespace pm500 {

inline std::pair<std::uint64_t, std::uint64_t> raise_open_files_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return {0, 0};
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return {rl.rlim_cur, rl.rlim_max};
}

}  // namespace pm500
