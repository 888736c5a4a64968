// Test helper: stalls a real mosquitto in the middle of a batch. A subscriber (the project's own
// paho session) counts the messages the broker forwards on a topic filter and, from its
// callback, sends the broker SIGSTOP once `after` of them went through -- so the publisher has
// some publishes acknowledged and some in flight that will time out. resume() sends SIGCONT.
// Header-only: the tests that use it link the MQTT session already.
#pragma once

#include <atomic>
#include <csignal>
#include <memory>
#include <string>

#include "sinks/common/mqtt/session.hpp"
#include "sinks/common/tests/mqtt_broker.hpp"

namespace pm500::test {

class BrokerStaller {
 public:
  // settings: how to reach the broker as a subscriber (TLS, credentials); the client id is
  // replaced. Connects and subscribes; throws when that fails.
  BrokerStaller(const Mosquitto& broker, mqttc::SessionSettings settings, const std::string& filter, long after)
      : broker_(broker), after_(after) {
    settings.client_id = "pm500-test-staller";
    settings.will.reset();
    settings.birth.reset();
    session_ = std::make_unique<mqttc::Session>(std::move(settings));
    session_->subscribe(filter, 1, [this](const std::string&, const std::string&) {
      if (seen_.fetch_add(1) + 1 == after_ && !stopped_.exchange(true)) broker_.signal(SIGSTOP);
    });
    if (auto e = session_->connect()) throw std::runtime_error("staller cannot connect: " + e->reason + " " + e->evidence);
  }
  ~BrokerStaller() {
    resume();
    session_.reset();
  }
  BrokerStaller(const BrokerStaller&) = delete;
  BrokerStaller& operator=(const BrokerStaller&) = delete;

  bool stopped() const { return stopped_.load(); }
  long seen() const { return seen_.load(); }
  // SIGCONT; the broker carries on where it stopped.
  void resume() {
    if (stopped_.load() && !resumed_.exchange(true)) broker_.signal(SIGCONT);
  }

 private:
  const Mosquitto& broker_;
  long after_;
  std::atomic<long> seen_{0};
  std::atomic<bool> stopped_{false}, resumed_{false};
  std::unique_ptr<mqttc::Session> session_;
};

}  // namespace pm500::test
