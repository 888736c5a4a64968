// A diagnostic connection attempt with plain sockets and OpenSSL, run after paho reports a
// failed connect. Paho says little more than "TCP/TLS connect failure"; this walks the same
// steps -- resolve, TCP connect, TLS handshake with the same CA, host name and client
// certificate -- and names the first one that fails, with the OpenSSL verify result
// ("certificate has expired", "unable to get local issuer certificate", "hostname mismatch")
// or the TLS alert the broker sent.
#pragma once

#include <chrono>
#include <optional>

#include "sinks/common/mqtt/endpoint.hpp"
#include "sinks/common/mqtt/errors.hpp"
#include "sinks/common/mqtt/tls_settings.hpp"

namespace pm500::mqttc {

// The MQTT CONNECT the probe sends after the handshake (no will, clean session), so it can tell
// "the broker closes the connection after CONNECT" (AWS IoT without iot:Connect) from "the
// broker refuses with a CONNACK code" and from "it accepts now: the first failure was a restart".
struct Hello {
  int mqtt_version = 4;
  std::string client_id;
  std::string username;
  std::string password;  // secret: only written to the socket
};

// nullopt: every step succeeded and the broker accepted the CONNECT. tls is used only when
// ep.tls is set; hello null stops after the handshake. Bounded by timeout per step.
std::optional<Error> probe(const Endpoint& ep, const TlsSettings& tls, std::chrono::milliseconds timeout,
                           const Hello* hello = nullptr);

// The CONNECT packet the probe writes (exposed for tests).
std::string encode_connect(const Hello& h, int keepalive_s = 10);

}  // namespace pm500::mqttc
