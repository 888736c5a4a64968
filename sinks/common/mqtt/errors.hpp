// What went wrong talking to an MQTT broker, told apart the way an operator needs it: each kind
// has its own remedy (fix DNS, start the broker, fix the CA, fix the password, fix the ACL...).
// Paho-free, so the classification is testable without a broker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pm500::mqttc {

enum class ErrorKind : std::uint8_t {
  resolve,               // the host name does not resolve
  refused,               // TCP connection refused (nothing listens on the port)
  unreachable,           // no route to the host or network
  timeout,               // TCP connect, TLS handshake or CONNACK did not complete in time
  tls_verify,            // the broker's certificate failed verification (unknown CA, expired, host name)
  tls_client_rejected,   // the broker rejected our client certificate (TLS alert)
  tls_handshake,         // any other TLS failure (protocol version, not a TLS port, bad key file)
  auth_refused,          // CONNACK: bad user name or password / not authorized (3.1.1 rc 4/5, v5 0x86/0x87/0x8C)
  connect_refused,       // CONNACK refusal for another reason (protocol version, client id, server busy)
  closed_after_connect,  // the broker closed the connection after CONNECT without a CONNACK
  closed_after_publish,  // the broker closed the connection right after a PUBLISH
  publish_refused,       // PUBACK with a failure reason code (v5), e.g. 0x87 not authorized
  disconnected,          // the connection was lost while waiting for acknowledgements
  local_files,           // certificate/key files unusable before even connecting
  transient,             // paho's connect failed, but the probe right after was accepted (broker restarting)
  other,
};

std::string_view to_string(ErrorKind k) noexcept;

struct Error {
  ErrorKind kind = ErrorKind::other;
  std::string reason;    // for humans: what happened and what to do
  std::string evidence;  // the code, alert or verify result that shows it
};

// MQTT 3.1.1 CONNACK return codes 1..5 (MQTT 3.1.1 section 3.2.2.3).
std::string_view connack_text(int rc) noexcept;
// MQTT 5 reason codes (MQTT 5.0 section 2.4), e.g. 0x87 "not authorized".
std::string_view reason_code_text(int rc) noexcept;

// Classifies a refused CONNACK (3.1.1 return code or MQTT 5 reason code >= 0x80).
Error classify_connack(int mqtt_version, int code);

}  // namespace pm500::mqttc
