// A broker address from the configuration: mqtt://host[:port] or mqtts://host[:port] (IPv6 in
// brackets). Paho wants tcp:// and ssl://; keeping our own parse lets the configuration loader
// reject a bad URL at start-up instead of at the first connect.
#pragma once

#include <string>
#include <string_view>

#include "pm500/expected.hpp"

namespace pm500::mqttc {

struct Endpoint {
  std::string host;
  int port = 1883;
  bool tls = false;

  std::string paho_uri() const;       // "ssl://host:8883" / "tcp://[::1]:1883"
  std::string display() const;        // "mqtts://host:8883"
};

// default_tls_port: 8883 for plain brokers; AWS IoT uses the same default.
pm500::expected<Endpoint, std::string> parse_url(std::string_view url);

bool is_ip_literal(std::string_view host);

}  // namespace pm500::mqttc
