#include "sinks/common/mqtt/session.hpp"

#include <mqtt/async_client.h>

#include <cstdio>
#include <deque>
#include <thread>

#include "sinks/common/mqtt/probe.hpp"
#include "sinks/common/mqtt/topic_match.hpp"

namespace pm500::mqttc {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::int64_t ticks(Clock::time_point t) { return t.time_since_epoch().count(); }

std::string hex(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(v) & 0xFFu);
  return buf;
}

std::string paho_evidence(int rc, int reason, const std::string& message) {
  std::string e = "paho rc " + std::to_string(rc);
  if (reason > 0) e += ", reason code " + hex(reason);
  if (!message.empty()) e += ": " + message;
  return e;
}

// Whether a publish completed without error, without waiting.
bool acknowledged_token(const mqtt::delivery_token_ptr& t) {
  try {
    return t->try_wait();
  } catch (const mqtt::exception&) {
    return false;  // failed or refused
  }
}

}  // namespace

// Runs on paho's thread when a streamed publish completes (the token is marked complete
// before the listener runs, so check() sees it once woken).
class Session::AckListener final : public mqtt::iaction_listener {
 public:
  explicit AckListener(Session& s) : session_(s) {}
  void on_success(const mqtt::token&) override { session_.wake(); }
  void on_failure(const mqtt::token&) override { session_.wake(); }

 private:
  Session& session_;
};

Session::Session(SessionSettings settings)
    : settings_(std::move(settings)), listener_(std::make_unique<AckListener>(*this)) {}

void Session::set_waker(std::function<void()> wake) {
  std::lock_guard lk(mu_);
  waker_ = std::move(wake);
}

void Session::wake() {
  std::lock_guard lk(mu_);
  if (waker_) waker_();
}

Session::~Session() {
  if (client_) {
    try {
      if (client_->is_connected()) client_->disconnect(0)->wait_for(1s);
    } catch (const std::exception&) {
      // Shutting down: a failed disconnect only means the broker is gone already.
    }
  }
  client_.reset();  // before listener_ goes: paho may still complete tokens while it closes
}

bool Session::connected() const { return client_ && client_->is_connected(); }

std::unique_ptr<mqtt::async_client> Session::make_client() {
  // No paho persistence: the pipeline's spool is the only store of unacknowledged samples, so
  // nothing is kept (or re-sent) twice.
  auto c = std::make_unique<mqtt::async_client>(settings_.endpoint.paho_uri(), settings_.client_id,
                                                mqtt::create_options(settings_.mqtt_version), nullptr);
  c->set_connection_lost_handler([this](const std::string& cause) { on_connection_lost(cause); });
  c->set_disconnected_handler([this](const mqtt::properties&, mqtt::ReasonCode rc) {
    // MQTT 5: the broker sent DISCONNECT with a reason (e.g. 0x87 not authorized).
    const int code = static_cast<int>(rc);
    on_connection_lost("broker sent DISCONNECT, reason code " + hex(code) + " (" + std::string(reason_code_text(code)) + ")");
  });
  c->set_message_callback([this](mqtt::const_message_ptr m) {
    if (m) on_message(m->get_topic(), m->to_string());
  });
  return c;
}

void Session::on_connection_lost(const std::string& cause) {
  {
    std::lock_guard lk(mu_);
    loss_cause_ = cause.empty() ? "connection lost" : cause;
  }
  lost_at_ns_.store(ticks(Clock::now()));
  losses_.fetch_add(1);
  wake();
}

void Session::on_message(const std::string& topic, const std::string& payload) {
  std::vector<MessageHandler> matched;
  {
    std::lock_guard lk(mu_);
    for (const auto& s : handlers_)
      if (topic_matches(s.filter, topic)) matched.push_back(s.handler);
  }
  for (const auto& h : matched) h(topic, payload);
}

void Session::subscribe(std::string topic_filter, int qos, MessageHandler handler) {
  subscriptions_.push_back({std::move(topic_filter), qos, std::move(handler)});
  {
    std::lock_guard lk(mu_);
    handlers_ = subscriptions_;
  }
  if (connected()) (void)subscribe_all();
}

std::optional<Error> Session::subscribe_all() {
  for (const auto& s : subscriptions_) {
    try {
      auto tok = client_->subscribe(s.filter, s.qos);
      if (!tok->wait_for(settings_.ack_timeout))
        return Error{ErrorKind::timeout, "no SUBACK for " + s.filter, "subscribe timeout"};
    } catch (const mqtt::exception& e) {
      return Error{ErrorKind::other, "cannot subscribe to " + s.filter,
                   paho_evidence(e.get_return_code(), e.get_reason_code(), e.get_message())};
    }
  }
  return std::nullopt;
}

std::optional<Error> Session::connect() {
  if (connected()) return std::nullopt;
  if (before_connect_) before_connect_(settings_);
  // A fresh client per attempt: after a failed or timed-out connect paho's state is not worth
  // reasoning about, and reconnects are rare.
  client_.reset();
  client_ = make_client();
  {
    std::lock_guard lk(mu_);
    tls_errors_.clear();
    loss_cause_.clear();
  }

  mqtt::connect_options opts;
  opts.set_mqtt_version(settings_.mqtt_version);
  if (settings_.mqtt_version >= 5) {
    opts.set_clean_session(false);  // a v3 field; paho refuses it set together with MQTT 5
    opts.set_clean_start(true);
  } else {
    opts.set_clean_session(true);
  }
  opts.set_keep_alive_interval(settings_.keepalive);
  opts.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(settings_.connect_timeout + 999ms));
  opts.set_automatic_reconnect(false);
  // Paho's own limit stays above ours so it never refuses a publish we windowed.
  opts.set_max_inflight(settings_.max_inflight + 8);
  if (!settings_.username.empty()) opts.set_user_name(settings_.username);
  if (!settings_.password.empty()) opts.set_password(settings_.password);
  if (settings_.will)
    opts.set_will(mqtt::will_options(settings_.will->topic, settings_.will->payload, settings_.will->qos,
                                     settings_.will->retained));
  if (settings_.endpoint.tls) {
    const TlsSettings& t = settings_.tls;
    mqtt::ssl_options ssl;
    if (!t.ca_file.empty()) ssl.set_trust_store(t.ca_file);
    if (!t.ca_dir.empty()) ssl.ca_path(t.ca_dir);
    if (!t.cert_file.empty()) ssl.set_key_store(t.cert_file);
    if (!t.key_file.empty()) ssl.set_private_key(t.key_file);
    if (!t.key_password.empty()) ssl.set_private_key_password(t.key_password);
    ssl.set_enable_server_cert_auth(t.verify);
    ssl.set_verify(t.verify);  // paho: post-handshake host name check
    ssl.set_ssl_version(MQTT_SSL_VERSION_TLS_1_2);
    if (!t.alpn.empty()) ssl.set_alpn_protos(t.alpn);
    ssl.set_error_handler([this](const std::string& msg) {
      std::string line = msg;
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) line.pop_back();
      std::lock_guard lk(mu_);
      if (tls_errors_.size() < 8) tls_errors_.push_back(std::move(line));
    });
    opts.set_ssl(std::move(ssl));
  }

  const auto start = Clock::now();
  try {
    auto tok = client_->connect(opts);
    if (!tok->wait_for(settings_.connect_timeout + 2s)) {
      auto e = classify_connect_failure(0, 0, "", true, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
      client_.reset();
      return e;
    }
  } catch (const mqtt::exception& e) {
    auto err = classify_connect_failure(e.get_return_code(), e.get_reason_code(), e.get_message(), false,
                                        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start));
    client_.reset();
    return err;
  }
  connects_.fetch_add(1);
  (void)subscribe_all();  // a failed subscription must not stop the samples
  if (settings_.birth) {
    std::size_t acked = 0;
    if (auto e = publish(std::span<const Outgoing>(&*settings_.birth, 1), &acked)) return e;
  }
  return std::nullopt;
}

Error Session::classify_connect_failure(int rc, int reason, const std::string& message, bool timed_out,
                                        std::chrono::milliseconds elapsed) {
  const std::string paho = timed_out ? std::string("no answer from paho") : paho_evidence(rc, reason, message);
  // The broker answered with a CONNACK refusal: that is precise already.
  if (settings_.mqtt_version < 5 && rc >= 1 && rc <= 5) return classify_connack(4, rc);
  // MQTT 5: paho reports the CONNACK reason code as the return code (observed with paho-c 1.3.12:
  // rc 135 for "not authorized"), or in the reason code field.
  if (settings_.mqtt_version >= 5 && reason >= 0x80) return classify_connack(5, reason);
  if (settings_.mqtt_version >= 5 && rc >= 0x80 && rc <= 0xFF) return classify_connack(5, rc);
  if (rc == MQTTASYNC_BAD_MQTT_OPTION || rc == MQTTASYNC_BAD_PROTOCOL || rc == MQTTASYNC_BAD_UTF8_STRING ||
      rc == MQTTASYNC_SSL_NOT_SUPPORTED)
    return Error{ErrorKind::other, "paho refused the connection options: " + message, paho};

  std::vector<std::string> tls;
  {
    std::lock_guard lk(mu_);
    tls = tls_errors_;
  }
  std::string tls_text;
  for (const auto& t : tls) tls_text += (tls_text.empty() ? "" : "; ") + t;

  const Hello hello{settings_.mqtt_version, settings_.client_id, settings_.username, settings_.password};
  if (auto e = probe(settings_.endpoint, settings_.tls, settings_.connect_timeout, &hello)) {
    e->evidence += " [" + paho + (tls_text.empty() ? "" : "; paho TLS: " + tls_text) + "]";
    return *e;
  }
  // The probe got through resolve, TCP, TLS and CONNACK: the failure is one only paho sees
  // (its own host name check), or the broker was just restarting.
  if (!tls_text.empty())
    return Error{ErrorKind::tls_handshake, "TLS failure during connect to " + settings_.endpoint.display(), tls_text + " [" + paho + "]"};
  if (timed_out || elapsed >= settings_.connect_timeout - settings_.connect_timeout / 10)
    return Error{ErrorKind::timeout,
                 "no CONNACK from " + settings_.endpoint.display() + " within " +
                     std::to_string(settings_.connect_timeout.count()) + " ms (broker overloaded?)",
                 paho};
  return Error{ErrorKind::transient,
               "connecting to " + settings_.endpoint.display() +
                   " failed, but a second attempt right after was accepted (the broker was probably restarting)",
               paho};
}

Error Session::classify_publish_failure(const Outgoing& m, int rc, int reason, const std::string& message,
                                        bool timed_out, Clock::time_point sent) {
  if (reason >= 0x80) {
    const std::string text(reason_code_text(reason));
    return Error{ErrorKind::publish_refused,
                 "the broker refused the publish to \"" + m.topic + "\": " + text +
                     (reason == 0x87 ? " (its ACL or policy does not allow this client to publish there)" : ""),
                 "PUBACK reason code " + hex(reason) + " (" + text + ")"};
  }
  // Paho fails the pending tokens (rc -11 operation incomplete, -3 disconnected) as the
  // connection drops, sometimes before its connection-lost callback ran: give it a moment so the
  // cause (e.g. an MQTT 5 DISCONNECT reason) reaches the evidence.
  const bool dropped = rc == MQTTASYNC_OPERATION_INCOMPLETE || rc == MQTTASYNC_DISCONNECTED;
  if (dropped)
    for (int i = 0; i < 20 && lost_at_ns_.load() < ticks(sent); ++i) std::this_thread::sleep_for(10ms);
  const std::int64_t lost = lost_at_ns_.load();
  if (dropped || (lost != 0 && lost >= ticks(sent))) {
    std::string cause;
    {
      std::lock_guard lk(mu_);
      cause = loss_cause_;
    }
    return Error{ErrorKind::closed_after_publish,
                 "the broker closed the connection right after PUBLISH to \"" + m.topic + "\", before acknowledging it",
                 cause.empty() ? paho_evidence(rc, reason, message) : cause};
  }
  if (timed_out)
    return Error{ErrorKind::timeout,
                 "no PUBACK for \"" + m.topic + "\" within " + std::to_string(settings_.ack_timeout.count()) + " ms",
                 "acknowledgement timeout"};
  return Error{ErrorKind::other, "publish to \"" + m.topic + "\" failed", paho_evidence(rc, reason, message)};
}

std::optional<Error> Session::publish(std::span<const Outgoing> messages, std::size_t* acked, const Pacer& pace,
                                     std::vector<std::uint8_t>* acknowledged) {
  std::size_t done = 0;
  if (acked) *acked = 0;
  if (acknowledged) acknowledged->assign(messages.size(), 0);
  if (!connected())
    if (auto e = connect()) return e;

  struct InFlight {
    mqtt::delivery_token_ptr token;
    std::size_t index;
    Clock::time_point sent;
  };
  std::deque<InFlight> window;

  // Waits for the oldest publish in flight. Polls in short steps so a lost connection is
  // noticed at once: paho keeps the tokens of a dropped clean session pending.
  auto wait_oldest = [&]() -> std::optional<Error> {
    InFlight f = window.front();
    const auto deadline = f.sent + settings_.ack_timeout;
    try {
      while (!f.token->wait_for(50ms)) {
        if (lost_at_ns_.load() >= ticks(f.sent) || !client_->is_connected())
          return classify_publish_failure(messages[f.index], MQTTASYNC_DISCONNECTED, 0, "", false, f.sent);
        if (Clock::now() >= deadline) return classify_publish_failure(messages[f.index], 0, 0, "", true, f.sent);
      }
    } catch (const mqtt::exception& e) {
      return classify_publish_failure(messages[f.index], e.get_return_code(), e.get_reason_code(), e.get_message(),
                                      false, f.sent);
    }
    if (acknowledged) (*acknowledged)[f.index] = 1;
    window.pop_front();
    ++done;
    if (acked) *acked = done;
    return std::nullopt;
  };

  auto fail = [&](Error e) -> std::optional<Error> {
    // The oldest publish failed, but the ones behind it may have their acknowledgement already
    // (a broker that stalled for a moment answers in order, a PUBACK lost in a slow broker's
    // queue holds up only itself): note each one that completed without error, before the
    // connection goes and takes the rest with it.
    if (acknowledged)
      for (const InFlight& f : window)
        if (acknowledged_token(f.token)) (*acknowledged)[f.index] = 1;
    window.clear();
    drop(e);
    return e;
  };

  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Outgoing& m = messages[i];
    if (window.size() >= static_cast<std::size_t>(settings_.max_inflight))
      if (auto e = wait_oldest()) return fail(*e);
    if (pace) pace(m);
    const auto sent = Clock::now();
    try {
      auto msg = mqtt::make_message(m.topic, m.payload.data(), m.payload.size(), m.qos, m.retained);
      window.push_back({client_->publish(msg), i, sent});
    } catch (const mqtt::exception& e) {
      // Refused because the connection just dropped: the cause is the oldest publish still
      // unacknowledged (AWS IoT closes right after the PUBLISH it refuses), not this one.
      const bool in_flight = !window.empty();
      const Outgoing& culprit = in_flight ? messages[window.front().index] : m;
      return fail(classify_publish_failure(culprit, e.get_return_code(), e.get_reason_code(), e.get_message(), false,
                                           in_flight ? window.front().sent : sent));
    }
  }
  while (!window.empty())
    if (auto e = wait_oldest()) return fail(*e);
  return std::nullopt;
}

void Session::drop(const Error& cause) {
  // After a refusal the connection is fine; after anything else it is not worth trusting.
  if (cause.kind == ErrorKind::publish_refused) return;
  try {
    if (client_ && client_->is_connected()) client_->disconnect(0)->wait_for(500ms);
  } catch (const std::exception&) {
  }
  client_.reset();
}

std::optional<Error> Session::start(const Outgoing& m, Pending& out) {
  if (!connected())
    if (auto e = connect()) return e;
  out.sent = Clock::now();
  try {
    auto msg = mqtt::make_message(m.topic, m.payload.data(), m.payload.size(), m.qos, m.retained);
    out.token = client_->publish(msg, nullptr, *listener_);
  } catch (const mqtt::exception& e) {
    out.token.reset();
    return classify_publish_failure(m, e.get_return_code(), e.get_reason_code(), e.get_message(), false, out.sent);
  }
  return std::nullopt;
}

std::optional<Error> Session::check(const Pending& p, const Outgoing& m, bool& done) {
  done = false;
  if (!p.token) return classify_publish_failure(m, MQTTASYNC_DISCONNECTED, 0, "", false, p.sent);
  try {
    if (p.token->try_wait()) {
      done = true;
      return std::nullopt;
    }
  } catch (const mqtt::exception& e) {
    return classify_publish_failure(m, e.get_return_code(), e.get_reason_code(), e.get_message(), false, p.sent);
  }
  if (lost_at_ns_.load() >= ticks(p.sent) || !client_ || !client_->is_connected())
    return classify_publish_failure(m, MQTTASYNC_DISCONNECTED, 0, "", false, p.sent);
  if (Clock::now() >= p.sent + settings_.ack_timeout) return classify_publish_failure(m, 0, 0, "", true, p.sent);
  return std::nullopt;
}

bool Session::acknowledged(const Pending& p) { return p.token && acknowledged_token(p.token); }

void Session::disconnect(const std::optional<Outgoing>& last) {
  if (!connected()) return;
  if (last) (void)publish(std::span<const Outgoing>(&*last, 1));
  try {
    if (client_ && client_->is_connected()) client_->disconnect()->wait_for(2s);
  } catch (const std::exception&) {
  }
}

}  // namespace pm500::mqttc
