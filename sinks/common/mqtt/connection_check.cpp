#include "sinks/common/mqtt/connection_check.hpp"

namespace pm500::mqttc {
namespace {

enum class Stage { files, connect, tls, hello };

// Which step an error of the probe belongs to. A timeout is the TCP connect's unless it was
// the wait for CONNACK (the probe's evidence says so).
Stage stage_of(const Error& e) {
  switch (e.kind) {
    case ErrorKind::local_files:
      return Stage::files;
    case ErrorKind::resolve:
    case ErrorKind::refused:
    case ErrorKind::unreachable:
      return Stage::connect;
    case ErrorKind::timeout:
      return e.evidence.find("CONNACK") != std::string::npos ? Stage::hello : Stage::connect;
    case ErrorKind::tls_verify:
    case ErrorKind::tls_client_rejected:
    case ErrorKind::tls_handshake:
      return Stage::tls;
    default:
      return Stage::hello;
  }
}

std::string join_files(const CertFiles& f) {
  std::string s;
  auto add = [&](const std::string& key, const std::string& file) {
    if (file.empty()) return;
    s += (s.empty() ? "" : ", ") + key + " " + file;
  };
  add(f.ca_key, f.ca_file);
  add(f.cert_key, f.cert_file);
  add(f.key_key, f.key_file);
  return s;
}

}  // namespace

std::string describe(const Error& e) {
  return e.reason + (e.evidence.empty() ? "" : " (" + e.evidence + ")");
}

std::vector<CheckStep> check_connection(const Endpoint& ep, const TlsSettings& tls, const CertFiles& files,
                                        std::chrono::milliseconds timeout, const Hello& hello) {
  std::vector<CheckStep> steps;
  if (!files.cert_file.empty() || !files.ca_file.empty() || !files.key_file.empty()) {
    if (auto f = check_cert_files(files)) {
      steps.push_back({"certificates", "", f->error});
      return steps;
    }
    steps.push_back({"certificates",
                     join_files(files) + ": readable and parsable" +
                         (files.cert_file.empty() ? std::string() : ", the key matches, within validity dates"),
                     std::nullopt});
  }
  const std::string connect = "connect " + ep.display();
  const auto err = probe(ep, tls, timeout, &hello);
  const Stage failed = err ? stage_of(*err) : Stage::hello;
  auto reached = [&](Stage s) { return !err || s < failed; };

  if (err && failed == Stage::files) {  // the probe could not load the files into OpenSSL
    steps.push_back({"certificates", "", err});
    return steps;
  }
  if (!reached(Stage::connect)) {
    steps.push_back({connect, "", err});
    return steps;
  }
  steps.push_back({connect, "TCP connection established", std::nullopt});
  if (ep.tls) {
    if (!reached(Stage::tls)) {
      steps.push_back({"TLS", "", err});
      return steps;
    }
    if (!tls.verify)
      steps.push_back({"TLS", "handshake done, but the broker's certificate is NOT verified (tls_verify = false)",
                       std::nullopt, true});
    else
      steps.push_back({"TLS",
                       "broker certificate verified against " +
                           (!tls.ca_file.empty()  ? tls.ca_file
                            : !tls.ca_dir.empty() ? tls.ca_dir
                                                  : "the system CA store") +
                           (tls.cert_file.empty() ? std::string() : "; client certificate accepted"),
                       std::nullopt});
  }
  std::string as = "client id \"" + hello.client_id + "\"" +
                   (hello.username.empty() ? std::string() : ", user \"" + hello.username + "\"");
  if (err) {
    steps.push_back({"authenticate", "", err});
    return steps;
  }
  steps.push_back({"authenticate", "CONNECT accepted as " + as, std::nullopt});
  return steps;
}

}  // namespace pm500::mqttc
