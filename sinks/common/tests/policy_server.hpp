// A minimal TLS endpoint that behaves like AWS IoT Core when the device's policy lacks a right:
// it completes the TLS handshake, then closes the connection right after CONNECT (no
// iot:Connect for the client id) or answers CONNACK and closes right after the first PUBLISH
// (no iot:Publish on the topic, MQTT 3.1.1). mosquitto cannot be configured to do either, so
// these two tests use this stand-in; everything else runs against mosquitto.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "sinks/common/tests/mqtt_broker.hpp"

namespace pm500::test {

class PolicyServer {
 public:
  enum class Mode { close_after_connect, close_after_publish };
  PolicyServer(const Pki& pki, Mode mode);
  ~PolicyServer();
  int port() const { return port_; }
  int connects() const { return connects_.load(); }

 private:
  void run();
  Mode mode_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::string crt_, key_, ca_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connects_{0};
  std::thread thread_;
};

}  // namespace pm500::test
