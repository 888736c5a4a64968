// Exit codes of pm500-gateway, documented in --help and README.md.
#pragma once

namespace pm500::app {

enum ExitCode : int {
  kExitOk = 0,            // clean run or shutdown; every check passed
  kExitRuntime = 1,       // could not start or keep running (state directory, sockets, ...)
  kExitConfig = 2,        // the configuration file is invalid; the message names file:line:column
  kExitCheckFailed = 3,   // `check` found a device, sink or alert target that does not work
  kExitUsage = 64,        // the command line is wrong (EX_USAGE)
};

inline constexpr const char* kExitCodeHelp =
    "Exit codes:\n"
    "  0   ok (clean shutdown on SIGTERM/SIGINT; every check passed)\n"
    "  1   runtime failure (state directory not writable, port in use, ...)\n"
    "  2   configuration error (the message names file:line:column and the key)\n"
    "  3   check failed (one line per failed probe, with its resolution)\n"
    "  64  command-line usage error\n";

}  // namespace pm500::app
