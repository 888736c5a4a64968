// Test helpers for the MQTT sinks: a throw-away PKI made with the openssl command (CA, server
// certificate for localhost/127.0.0.1, client certificates, an expired one, one from another
// CA) and a real mosquitto started per test on a free loopback port with its own config.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/support.hpp"

namespace pm500::test {

struct KeyPair {
  fs::path crt, key;
};

class Pki {
 public:
  // Creates CA, server (SAN DNS:localhost, IP:127.0.0.1), and a second, unrelated CA.
  explicit Pki(fs::path dir);
  // A client certificate signed by the CA (or the other CA), valid now, or with explicit dates
  // ("20200101000000Z") for expired / not-yet-valid certificates.
  KeyPair client(const std::string& cn, bool other_ca = false, const std::string& start = {},
                 const std::string& end = {}, const std::string& password = {});
  const fs::path& dir() const { return dir_; }
  fs::path ca_crt() const { return dir_ / "ca.crt"; }
  fs::path other_ca_crt() const { return dir_ / "other-ca.crt"; }
  KeyPair server() const { return {dir_ / "server.crt", dir_ / "server.key"}; }
  // A server certificate naming only "elsewhere.example" (for host name mismatch tests).
  KeyPair wrong_name_server();

 private:
  void make_ca(const std::string& name);
  KeyPair sign(const std::string& name, const std::string& subject, const std::string& ca, const std::string& ext,
               const std::string& start, const std::string& end, const std::string& password);
  fs::path dir_;
  int serial_ = 1;
};

struct BrokerOptions {
  bool tls = true;
  std::optional<KeyPair> server_cert = {};      // default: pki.server()
  bool require_certificate = false;
  bool use_identity_as_username = false;
  std::map<std::string, std::string> users = {};  // password_file entries; empty: anonymous allowed
  std::string acl = {};                         // acl_file contents; empty: none
};

class Mosquitto {
 public:
  Mosquitto(fs::path dir, Pki* pki, BrokerOptions options);
  ~Mosquitto();
  void start();  // starts (again, on the same port) and waits until it listens
  void stop();   // SIGTERM and wait (the persistence file is written)
  // Sends a signal to the running broker (SIGSTOP / SIGCONT: a broker that stalls); false when
  // it is not running. Async-signal-safe (may be called from a client library's callback).
  bool signal(int sig) const;
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string url(const std::string& host = "localhost") const;
  std::string log() const;
  bool running() const { return proc_ != nullptr; }

 private:
  fs::path dir_;
  Pki* pki_;
  BrokerOptions opt_;
  int port_;
  std::unique_ptr<Process> proc_;
  pid_t pid_ = -1;
};

// mosquitto_sub writing "topic payload" lines; it reconnects by itself after a broker restart
// and, with a persistent session (-c), gets what was queued for it meanwhile.
class Subscriber {
 public:
  Subscriber(const Mosquitto& broker, const Pki& pki, const std::string& topic, std::vector<std::string> auth,
             const std::string& client_id = "pm500-test-sub");
  std::vector<std::string> lines() const;
  // Waits until the subscription is active (a probe message published with mosquitto_pub arrives).
  bool ready(const std::vector<std::string>& pub_auth, std::chrono::milliseconds timeout = 10s);

 private:
  fs::path out_;
  const Mosquitto& broker_;
  const Pki& pki_;
  std::string topic_;
  std::unique_ptr<Process> proc_;
};

// Runs mosquitto_pub once against the broker (TLS with the PKI's CA).
RunResult mosquitto_pub(const Mosquitto& broker, const Pki& pki, const std::string& topic, const std::string& message,
                        const std::vector<std::string>& auth, bool retain = false);

}  // namespace pm500::test
