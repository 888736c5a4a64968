// Helpers for end-to-end tests that run the pm500-gateway binary: the simulator's control
// protocol, the status server's address from the gateway's log, HTTP GETs with curl, and
// waiting for the registry's RAISED/CLEARED log lines.
#pragma once

#include <string>
#include <vector>

#include "support/support.hpp"

namespace pm500::test {

// The built gateway.
std::string gateway_binary();

// A gateway configuration in a temporary folder: `meters` simulated meters (the embedded
// simulator) from `first_address` on, one [[devices]] "mcc-N" per meter, quick reconnects,
// clears after 500 ms, the status page on a free port, and the sink tables in `sinks`.
struct SimulatedGateway {
  TempDir dir;
  int udp = free_udp_port();
  int control = free_tcp_port();  // the simulator's control port (sim_command)

  SimulatedGateway(const std::string& first_address, int meters, const std::string& sinks, int rpi_ms = 100,
                   const std::string& assemblies = "101, 102, 107");
  std::vector<std::string> args() const { return {gateway_binary(), "run", "-c", (dir / "gateway.toml").string()}; }
  // What a [sinks.file] with path = "samples.lp" writes.
  fs::path samples() const { return dir / "state" / "sinks" / "file" / "samples.lp"; }
};

// Sends one line to a simulator's control port (127.0.0.1:port); returns the reply line
// ("ok ..." or "error ...").
std::string sim_command(int port, const std::string& line);

// The status server's base URL, from the gateway's log line "status page on http://...";
// "" when it does not appear within 10 s.
std::string status_url(Process& gw);

// GET with curl: output is the body, a newline and the HTTP status code.
RunResult http_get(const std::string& url);

std::size_t count_lines(const fs::path& p);

// True once the gateway's log has "RAISED <id> [<subject>]" (or CLEARED), within the timeout.
bool wait_raised(Process& gw, const std::string& id, const std::string& subject, std::chrono::milliseconds timeout);
bool wait_cleared(Process& gw, const std::string& id, const std::string& subject, std::chrono::milliseconds timeout);
// The text after "RAISED <id> [<subject>] <symptom>: " up to " -- " (the evidence), or "".
std::string raised_evidence(Process& gw, const std::string& id, const std::string& subject);

}  // namespace pm500::test
