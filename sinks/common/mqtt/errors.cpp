#include "sinks/common/mqtt/errors.hpp"

#include <cstdio>

namespace pm500::mqttc {

std::string_view to_string(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::resolve: return "name resolution failure";
    case ErrorKind::refused: return "connection refused";
    case ErrorKind::unreachable: return "host unreachable";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::tls_verify: return "TLS certificate verify failed";
    case ErrorKind::tls_client_rejected: return "TLS client certificate rejected";
    case ErrorKind::tls_handshake: return "TLS handshake failure";
    case ErrorKind::auth_refused: return "authentication refused";
    case ErrorKind::connect_refused: return "connect refused";
    case ErrorKind::closed_after_connect: return "connection closed after CONNECT";
    case ErrorKind::closed_after_publish: return "connection closed after PUBLISH";
    case ErrorKind::publish_refused: return "publish refused";
    case ErrorKind::disconnected: return "connection lost";
    case ErrorKind::local_files: return "certificate files unusable";
    case ErrorKind::transient: return "connection failed once";
    case ErrorKind::other: return "error";
  }
  return "error";
}

std::string_view connack_text(int rc) noexcept {
  switch (rc) {
    case 0: return "connection accepted";
    case 1: return "unacceptable protocol version";
    case 2: return "identifier rejected";
    case 3: return "server unavailable";
    case 4: return "bad user name or password";
    case 5: return "not authorized";
    default: return "unknown CONNACK return code";
  }
}

std::string_view reason_code_text(int rc) noexcept {
  switch (rc) {
    case 0x00: return "success";
    case 0x10: return "no matching subscribers";
    case 0x80: return "unspecified error";
    case 0x81: return "malformed packet";
    case 0x82: return "protocol error";
    case 0x83: return "implementation specific error";
    case 0x84: return "unsupported protocol version";
    case 0x85: return "client identifier not valid";
    case 0x86: return "bad user name or password";
    case 0x87: return "not authorized";
    case 0x88: return "server unavailable";
    case 0x89: return "server busy";
    case 0x8A: return "banned";
    case 0x8C: return "bad authentication method";
    case 0x8E: return "session taken over";
    case 0x90: return "topic name invalid";
    case 0x93: return "receive maximum exceeded";
    case 0x95: return "packet too large";
    case 0x97: return "quota exceeded";
    case 0x99: return "payload format invalid";
    case 0x9A: return "retain not supported";
    case 0x9B: return "QoS not supported";
    case 0x9F: return "connection rate exceeded";
    default: return "unknown reason code";
  }
}

Error classify_connack(int mqtt_version, int code) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(code) & 0xFFu);
  if (mqtt_version >= 5) {
    const std::string text(reason_code_text(code));
    const std::string evidence = "CONNACK reason code " + std::string(hex) + " (" + text + ")";
    if (code == 0x86 || code == 0x87 || code == 0x8C || code == 0x8A)
      return {ErrorKind::auth_refused,
              "the broker refused the credentials (" + text + "): check username/password or the client certificate",
              evidence};
    return {ErrorKind::connect_refused, "the broker refused the connection: " + text, evidence};
  }
  const std::string text(connack_text(code));
  const std::string evidence = "CONNACK return code " + std::to_string(code) + " (" + text + ")";
  if (code == 4 || code == 5)
    return {ErrorKind::auth_refused,
            "the broker refused the credentials (" + text + "): check username/password or the client certificate",
            evidence};
  return {ErrorKind::connect_refused, "the broker refused the connection: " + text, evidence};
}

}  // namespace pm500::mqttc
