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

// nullopt: every step succeeded, so the failure paho saw happened at the MQTT level.
// tls is used only when ep.tls is set. Bounded by timeout per step.
std::optional<Error> probe(const Endpoint& ep, const TlsSettings& tls, std::chrono::milliseconds timeout);

}  // namespace pm500::mqttc
