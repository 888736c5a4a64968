#include "support/gateway.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace pm500::test {

std::string gateway_binary() { return binary("pm500-gateway").string(); }

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
