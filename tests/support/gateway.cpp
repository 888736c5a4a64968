#include "support/gateway.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pm500::test {

std::string gateway_binary() { return binary("pm500-gateway").string(); }

SimulatedGateway::SimulatedGateway(const std::string& first_address, int meters, const std::string& sinks,
                                   int rpi_ms, const std::string& assemblies) {
  const std::string prefix = first_address.substr(0, first_address.rfind('.') + 1);
  const int last = std::stoi(first_address.substr(first_address.rfind('.') + 1));
  std::string devices;
  for (int i = 0; i < meters; ++i)
    devices += "[[devices]]\nname = \"mcc-" + std::to_string(i + 1) + "\"\naddress = \"" + prefix +
               std::to_string(last + i) + "\"\nrpi_ms = " + std::to_string(rpi_ms) + "\nassemblies = [" + assemblies +
               "]\nct = \"400:5\"\nnominal_voltage = 480\n";
  write_file(dir / "gateway.toml",
             "[gateway]\nsite = \"test-site\"\nclear_hold_ms = 500\nstate_dir = \"" + (dir / "state").string() +
                 "\"\n[logging]\nformat = \"text\"\n[status]\nlisten = \"127.0.0.1:0\"\n"
                 "[scanner]\nlocal_address = \"0.0.0.0\"\nudp_port = " +
                 std::to_string(udp) +
                 "\nreconnect_initial_ms = 100\nreconnect_max_ms = 1000\nconnect_timeout_ms = 1000\n"
                 "[simulator]\nenabled = true\naddress = \"" +
                 first_address + "\"\nmeters = " + std::to_string(meters) + "\ncontrol_port = " + std::to_string(control) +
                 "\nct = \"400:5\"\nnominal_voltage = 480\n" + devices + sinks);
}

std::string sim_command(int port, const std::string& line) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "error connect";
  }
  std::string msg = line + "\n";
  (void)!::write(fd, msg.data(), msg.size());
  std::string reply;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') reply += c;
  ::close(fd);
  return reply;
}

std::string status_url(Process& gw) {
  std::string url;
  eventually(
      [&] {
        std::string log = gw.log();
        auto p = log.find("status page on ");
        if (p == std::string::npos) return false;
        url = log.substr(p + 15, log.find_first_of(" \n", p + 15) - p - 15);
        return true;
      },
      10s);
  return url;
}

RunResult http_get(const std::string& url) { return run({"curl", "-s", "-S", "-w", "\n%{http_code}", url}, 10s); }

std::size_t count_lines(const fs::path& p) {
  std::string s = read_file(p);
  std::size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

bool wait_raised(Process& gw, const std::string& id, const std::string& subject, std::chrono::milliseconds timeout) {
  std::string needle = "RAISED " + id + " [" + subject + "]";
  return eventually([&] { return gw.log().find(needle) != std::string::npos; }, timeout);
}

bool wait_cleared(Process& gw, const std::string& id, const std::string& subject, std::chrono::milliseconds timeout) {
  std::string needle = "CLEARED " + id + " [" + subject + "]";
  return eventually([&] { return gw.log().find(needle) != std::string::npos; }, timeout);
}

std::string raised_evidence(Process& gw, const std::string& id, const std::string& subject) {
  std::string log = gw.log();
  auto p = log.find("RAISED " + id + " [" + subject + "]");
  if (p == std::string::npos) return {};
  auto colon = log.find(": ", p);
  auto end = log.find(" -- ", colon);
  if (colon == std::string::npos || end == std::string::npos) return {};
  return log.substr(colon + 2, end - colon - 2);
}

}  // namespace pm500::test
