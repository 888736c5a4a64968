// One MQTT connection through paho-mqtt-cpp, as the MQTT and AWS IoT sinks use it: connect on
// demand (bounded by a timeout, no automatic reconnect -- the pipeline owns retries, backoff and
// jitter), publish a batch and return only once every QoS 1 publish is acknowledged, and turn
// every failure into a classified Error (see errors.hpp), probing with OpenSSL where paho's own
// report is vague. Not thread-safe: one delivery thread calls it; paho's callback thread only
// touches the atomics and the mutex-guarded fields.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sinks/common/mqtt/endpoint.hpp"
#include "sinks/common/mqtt/errors.hpp"
#include "sinks/common/mqtt/tls_settings.hpp"

namespace mqtt {
class async_client;
class delivery_token;
}

namespace pm500::mqttc {

struct Outgoing {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = false;
};

struct SessionSettings {
  Endpoint endpoint;
  std::string client_id;
  int mqtt_version = 4;  // 4 = MQTT 3.1.1, 5 = MQTT 5
  std::string username;
  std::string password;  // secret
  TlsSettings tls;       // used when endpoint.tls
  std::chrono::seconds keepalive{30};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds ack_timeout{10000};  // per publish acknowledgement
  int max_inflight = 20;  // unacknowledged publishes at once (mosquitto's default receive maximum)
  std::optional<Outgoing> will;  // last will, e.g. a retained "offline" status
  std::optional<Outgoing> birth;  // published (and acknowledged) right after every connect
};

class Session {
 public:
  using MessageHandler = std::function<void(const std::string& topic, const std::string& payload)>;
  // Called before each publish of a batch, e.g. to wait for a rate limiter's token.
  using Pacer = std::function<void(const Outgoing&)>;

  explicit Session(SessionSettings settings);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  bool connected() const;
  // Connects when not connected; returns the classified cause on failure.
  std::optional<Error> connect();
  // Publishes in order with at most max_inflight unacknowledged, and returns once each one is
  // acknowledged (QoS 1: PUBACK; QoS 0: written) or at the first failure. Connects first when
  // needed. *acked (optional) receives how many leading messages were acknowledged.
  // *acknowledged (optional; resized to messages.size()) gets 1 for every message whose
  // acknowledgement arrived, also those behind a failed one: after a PUBACK timeout the window
  // is checked once more before the connection is dropped, so a retry need not repeat them.
  std::optional<Error> publish(std::span<const Outgoing> messages, std::size_t* acked = nullptr,
                               const Pacer& pace = nullptr, std::vector<std::uint8_t>* acknowledged = nullptr);
  // Streaming (the MQTT sink's pipelined path): start() sends one message (connecting first
  // when needed) and returns without waiting for its acknowledgement; check() says, without
  // blocking, whether it came. After a failure, drop() ends the connection as publish() does.
  struct Pending {
    std::shared_ptr<mqtt::delivery_token> token;
    std::chrono::steady_clock::time_point sent;
  };
  std::optional<Error> start(const Outgoing& m, Pending& out);
  // nullopt with done = true: acknowledged; with done = false: still waiting. An Error when it
  // failed, was refused, timed out (ack_timeout) or the connection went since it was sent.
  std::optional<Error> check(const Pending& p, const Outgoing& m, bool& done);
  // Whether a message started is acknowledged by now (false when it failed or is waiting).
  static bool acknowledged(const Pending& p);
  void drop(const Error& cause);
  // Called on paho's thread whenever an acknowledgement or a publish failure arrives or the
  // connection is lost (null: nobody). The streaming sink wakes its delivery thread with it.
  void set_waker(std::function<void()> wake);

  // Called before every connection attempt, on the caller's thread, with the settings the
  // attempt will use: e.g. to give the last will a new sequence number (Sparkplug's bdSeq).
  void set_before_connect(std::function<void(SessionSettings&)> hook) { before_connect_ = std::move(hook); }

  // Remembered and renewed on every connect; the handler runs on paho's thread.
  void subscribe(std::string topic_filter, int qos, MessageHandler handler);
  // Publishes `last` (e.g. the retained offline status) and disconnects cleanly.
  void disconnect(const std::optional<Outgoing>& last = std::nullopt);

  std::uint64_t connects() const { return connects_.load(); }
  std::uint64_t connection_losses() const { return losses_.load(); }
  const SessionSettings& settings() const { return settings_; }

 private:
  struct Subscription {
    std::string filter;
    int qos;
    MessageHandler handler;
  };

  std::unique_ptr<mqtt::async_client> make_client();
  Error classify_connect_failure(int rc, int reason, const std::string& message, bool timed_out,
                                 std::chrono::milliseconds elapsed);
  Error classify_publish_failure(const Outgoing& m, int rc, int reason, const std::string& message, bool timed_out,
                                 std::chrono::steady_clock::time_point sent);
  std::optional<Error> subscribe_all();
  class AckListener;
  void wake();
  void on_connection_lost(const std::string& cause);
  void on_message(const std::string& topic, const std::string& payload);

  SessionSettings settings_;
  std::function<void(SessionSettings&)> before_connect_;
  std::unique_ptr<mqtt::async_client> client_;
  std::vector<Subscription> subscriptions_;
  std::atomic<std::uint64_t> connects_{0}, losses_{0};
  std::atomic<std::int64_t> lost_at_ns_{0};  // steady clock of the last connection loss

  mutable std::mutex mu_;  // guards the fields below (written by paho's thread)
  std::string loss_cause_;
  std::vector<std::string> tls_errors_;  // OpenSSL error lines paho reported for this attempt
  std::vector<Subscription> handlers_;   // a copy the callback thread reads
  std::function<void()> waker_;
  std::unique_ptr<AckListener> listener_;  // completion callback of streamed publishes
};

}  // namespace pm500::mqttc
