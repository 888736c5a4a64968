// Local checks of certificate files before connecting, with OpenSSL: a TLS handshake that fails
// because the key does not match or the certificate expired tells the operator much less than
// "key_file /etc/pm500/device.key does not match cert_file /etc/pm500/device.crt".
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "sinks/common/mqtt/errors.hpp"

namespace pm500::mqttc {

enum class CertProblem {
  missing,          // no such file
  unreadable,       // permissions, a directory...
  not_a_certificate,
  not_a_key,        // unparsable, or encrypted with another password
  key_mismatch,     // the key is not the certificate's
  expired,
  not_yet_valid,
  ca_unparsable,
};

struct CertFinding {
  CertProblem problem;
  std::string file;  // the file it is about
  Error error;       // kind local_files; reason names the file and the remedy
};

struct CertFiles {
  std::string cert_file;     // "" = no client certificate
  std::string key_file;
  std::string key_password;  // secret
  std::string ca_file;       // "" = not checked
  std::string cert_key = "cert_file";  // configuration key names, for the message
  std::string key_key = "key_file";
  std::string ca_key = "ca_file";
};

// The first problem found, or nullopt. `now` is a parameter so tests need no clock tricks.
std::optional<CertFinding> check_cert_files(const CertFiles& files,
                                            std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace pm500::mqttc
