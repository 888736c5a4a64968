// `pm500-gateway check` for the MQTT and AWS IoT sinks: local certificate checks, then one
// diagnostic connection (resolve, TCP, TLS, CONNECT) with the probe, reported step by step so
// an operator sees how far it got: "connect ok, TLS ok, authenticate: not authorized".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "sinks/common/mqtt/cert_check.hpp"
#include "sinks/common/mqtt/endpoint.hpp"
#include "sinks/common/mqtt/errors.hpp"
#include "sinks/common/mqtt/probe.hpp"
#include "sinks/common/mqtt/tls_settings.hpp"

namespace pm500::mqttc {

struct CheckStep {
  std::string what;            // "certificates", "connect mqtts://host:8883", "TLS", "authenticate"
  std::string detail;          // what was found when it worked
  std::optional<Error> error;  // set on the step that failed (always the last one)
  bool warning = false;        // worked, but weaker than it should be (verification off)
};

// "reason (evidence)": one check line's detail.
std::string describe(const Error& e);

// The steps up to and including the first failure. `files` are checked first when any of them
// is set; `hello` is the CONNECT sent (its client id and user name appear in the detail).
std::vector<CheckStep> check_connection(const Endpoint& ep, const TlsSettings& tls, const CertFiles& files,
                                        std::chrono::milliseconds timeout, const Hello& hello);

}  // namespace pm500::mqttc
