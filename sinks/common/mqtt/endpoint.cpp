#include "sinks/common/mqtt/endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace pm500::mqttc {

namespace {
std::string host_port(const Endpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
}
}  // namespace

std::string Endpoint::paho_uri() const { return (tls ? "ssl://" : "tcp://") + host_port(*this); }
std::string Endpoint::display() const { return (tls ? "mqtts://" : "mqtt://") + host_port(*this); }

bool is_ip_literal(std::string_view host) {
  const std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

pm500::expected<Endpoint, std::string> parse_url(std::string_view url) {
  Endpoint e;
  std::string_view rest;
  if (url.starts_with("mqtts://")) {
    e.tls = true;
    e.port = 8883;
    rest = url.substr(8);
  } else if (url.starts_with("mqtt://")) {
    rest = url.substr(7);
  } else {
    return pm500::unexpected("\"" + std::string(url) + "\" is not an MQTT URL: write mqtt://host[:port] or mqtts://host[:port]");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return pm500::unexpected(std::string("unclosed [ in the IPv6 address of ") + std::string(url));
    e.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    if (rest.starts_with(':')) port_text = rest.substr(1);
    else if (!rest.empty()) return pm500::unexpected("unexpected \"" + std::string(rest) + "\" after the host in " + std::string(url));
  } else {
    const auto colon = rest.rfind(':');
    e.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (e.host.empty()) return pm500::unexpected("no host in " + std::string(url));
  if (e.host.find_first_of("/?#@ ") != std::string::npos)
    return pm500::unexpected("\"" + e.host + "\" is not a host name (paths, queries and user info are not supported in the URL)");
  if (!port_text.empty()) {
    int p = 0;
    auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (r.ec != std::errc{} || r.ptr != port_text.data() + port_text.size() || p < 1 || p > 65535)
      return pm500::unexpected("port \"" + std::string(port_text) + "\" in " + std::string(url) + " is not 1..65535");
    e.port = p;
  }
  return e;
}

}  // namespace pm500::mqttc
