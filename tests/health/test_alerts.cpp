// The alert webhook against a local HTTP server (cpp-httplib on 127.0.0.1) that answers as the
// test tells it: bodies and headers as sent, order, retries with backoff after 500, 401 raising
// ops.alert_delivery_failure at once and clearing after the next delivery, 400 dropping only the
// alert concerned, the queue bound, and a receiver that is not there at all.
#include <doctest/doctest.h>

#include <httplib.h>
#include <simdjson.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "health/alerts.hpp"
#include "sinks/common/tests/mqtt_broker.hpp"  // Pki: a throw-away CA and server certificate
#include "support/support.hpp"

using namespace pm500;
using namespace pm500::test;
using namespace std::chrono_literals;

namespace {

struct Webhook {
  httplib::Server svr;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<int> answers;  // status per request, in order; the last one repeats
  std::size_t next = 0;
  std::vector<std::string> bodies;  // every request body, in order (also the refused ones)
  std::vector<int> statuses;
  std::string auth, content_type;

  Webhook() {
    svr.Post("/hooks/secret-token", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lk(mu);
      int s = answers.empty() ? 204 : answers[std::min(next, answers.size() - 1)];
      ++next;
      bodies.push_back(req.body);
      statuses.push_back(s);
      auth = req.get_header_value("Authorization");
      content_type = req.get_header_value("Content-Type");
      res.status = s;
      if (s == 401) res.set_content("invalid_token: the token expired\nmore", "text/plain");
      if (s == 400) res.set_content("no_text", "text/plain");
    });
    port = svr.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { svr.listen_after_bind(); });
  }
  ~Webhook() {
    svr.stop();
    thread.join();
  }
  void answer(std::vector<int> a) {
    std::lock_guard lk(mu);
    answers = std::move(a);
    next = 0;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/hooks/secret-token"; }
  std::size_t count() {
    std::lock_guard lk(mu);
    return bodies.size();
  }
  std::vector<std::string> delivered() {  // bodies answered 2xx
    std::lock_guard lk(mu);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < bodies.size(); ++i)
      if (statuses[i] / 100 == 2) out.push_back(bodies[i]);
    return out;
  }
};

config::AlertsSection settings(const std::string& url) {
  config::AlertsSection a;
  a.enabled = true;
  a.url = url;
  a.timeout_ms = 2000;
  a.retry_initial_ms = 20;
  a.retry_max_ms = 100;
  a.failures_before_alarm = 2;
  return a;
}

// A field of a JSON alert body.
std::string json_field(const std::string& body, const char* key) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(body).get(doc)) return "<invalid JSON>";
  std::string_view v;
  if (doc[key].get_string().get(v)) return "<missing>";
  return std::string(v);
}

// Registry and sender wired as the gateway wires them; clears take effect at once.
struct Wired {
  health::Registry reg{0ms};
  health::AlertSender sender;
  explicit Wired(config::AlertsSection a) : sender(std::move(a), "plant-7", reg) {
    reg.on_event([this](const health::Event& e) { sender.enqueue(e); });
    sender.start();
  }
};

}  // namespace

TEST_CASE("the built-in alert body is JSON with the failure mode's cause and fix") {
  config::AlertsSection cfg;
  health::Alert a{"raised", "eip.no_response", "mcc-1", "connect to 10.0.0.5:44818 timed out \"after\" 3000 ms\n",
                  1764633600123};
  std::string body = health::render_alert(cfg, a, "plant-7", "edge-1");
  CHECK(json_field(body, "state") == "raised");
  CHECK(json_field(body, "id") == "eip.no_response");
  CHECK(json_field(body, "subject") == "mcc-1");
  CHECK(json_field(body, "evidence") == a.evidence);  // quotes and newline survive escaping
  CHECK(json_field(body, "level") == "L1");
  CHECK(json_field(body, "site") == "plant-7");
  CHECK(json_field(body, "host") == "edge-1");
  CHECK(json_field(body, "time") == "2025-12-02T00:00:00.123Z");
  CHECK(json_field(body, "resolution").find("front panel") != std::string::npos);
  CHECK(json_field(body, "symptom") == "No response from device");
}

TEST_CASE("a template gets its placeholders JSON-escaped") {
  config::AlertsSection cfg;
  cfg.body_template = R"({"text": "{{text}}", "sev": "{{level}}"})";
  health::Alert a{"raised", "mqtt.publish_failure", "mqtt", "TLS: \"unknown CA\"", 0};
  std::string body = health::render_alert(cfg, a, "s", "h");
  std::string text = json_field(body, "text");
  CHECK(text.starts_with("[s] raised mqtt.publish_failure (mqtt): TLS: \"unknown CA\". Fix: "));
  CHECK(json_field(body, "sev") == "L2");
}

TEST_CASE("logs and evidence show the webhook's host, never its path or credentials") {
  CHECK(health::redacted_url("https://hooks.example.net/services/T000/B000/XXXX?x=1") == "https://hooks.example.net");
  CHECK(health::redacted_url("http://user:pw@10.1.1.1:8080/a") == "http://10.1.1.1:8080");
  CHECK(health::redacted_url("garbage") == "<webhook>");
}

TEST_CASE("raises and clears are posted in order with the configured headers") {
  Webhook hook;
  auto cfg = settings(hook.url());
  cfg.headers = {"Authorization: Bearer abc123"};
  Wired w(cfg);
  w.reg.raise("eip.no_response", "mcc-1", "refused");
  w.reg.clear("eip.no_response", "mcc-1");
  REQUIRE(eventually([&] { return hook.count() >= 2; }, 5s));
  auto got = hook.delivered();
  REQUIRE(got.size() == 2);
  CHECK(json_field(got[0], "state") == "raised");
  CHECK(json_field(got[1], "state") == "cleared");
  CHECK(json_field(got[1], "evidence") == "refused");
  CHECK(hook.auth == "Bearer abc123");
  CHECK(hook.content_type == "application/json");
  CHECK(eventually([&] { return w.sender.stats().sent == 2; }, 2s));
}

TEST_CASE("a webhook answering 500 is retried, raises after failures_before_alarm, clears on delivery") {
  Webhook hook;
  hook.answer({500, 500, 500, 204});
  Wired w(settings(hook.url()));
  w.reg.raise("influxdb.write_error", "influxdb", "HTTP 404 database not found");
  REQUIRE(eventually([&] { return w.reg.raised_total("ops.alert_delivery_failure") == 1; }, 5s));
  // Retried until accepted; the alert itself is delivered once, then the failure mode's own
  // raise and clear follow it.
  REQUIRE(eventually([&] { return !w.reg.is_active("ops.alert_delivery_failure"); }, 5s));
  auto ev = w.reg.history();
  auto raised = std::find_if(ev.begin(), ev.end(), [](auto& e) { return e.id == "ops.alert_delivery_failure"; });
  REQUIRE(raised != ev.end());
  CHECK(raised->evidence.find("HTTP 500 from http://127.0.0.1:") != std::string::npos);
  CHECK(raised->evidence.find("secret-token") == std::string::npos);
  REQUIRE(eventually([&] { return hook.delivered().size() >= 3; }, 5s));
  auto got = hook.delivered();
  CHECK(json_field(got[0], "id") == "influxdb.write_error");
  CHECK(json_field(got[1], "id") == "ops.alert_delivery_failure");
  CHECK(json_field(got[1], "state") == "raised");
  CHECK(json_field(got[2], "state") == "cleared");
  CHECK(w.sender.stats().failed_attempts == 3);
}

TEST_CASE("401 raises ops.alert_delivery_failure at once with the answer, and nothing queued is lost") {
  Webhook hook;
  hook.answer({401});
  auto cfg = settings(hook.url());
  cfg.failures_before_alarm = 50;
  Wired w(cfg);
  w.reg.raise("eip.session_fault", "mcc-2", "I/O timeout");
  REQUIRE(eventually([&] { return w.reg.is_active("ops.alert_delivery_failure", "webhook"); }, 5s));
  auto active = w.reg.active();
  auto it = std::find_if(active.begin(), active.end(), [](auto& c) { return c.id == "ops.alert_delivery_failure"; });
  REQUIRE(it != active.end());
  CHECK(it->evidence.find("HTTP 401") != std::string::npos);
  CHECK(it->evidence.find("invalid_token: the token expired") != std::string::npos);
  CHECK(it->evidence.find("more") == std::string::npos);  // first line only
  CHECK(it->evidence.find("credentials refused") != std::string::npos);
  w.reg.raise("meter.erratic_readings", "mcc-2", "CT applied twice");
  hook.answer({204});  // the token is renewed
  REQUIRE(eventually([&] { return !w.reg.is_active("ops.alert_delivery_failure"); }, 5s));
  REQUIRE(eventually([&] { return hook.delivered().size() >= 4; }, 5s));
  auto got = hook.delivered();
  CHECK(json_field(got[0], "id") == "eip.session_fault");
  CHECK(json_field(got[1], "id") == "ops.alert_delivery_failure");
  CHECK(json_field(got[2], "id") == "meter.erratic_readings");
}

TEST_CASE("400 drops only the alert concerned and says so") {
  Webhook hook;
  hook.answer({400, 204});
  Wired w(settings(hook.url()));
  w.reg.raise("historian.empty_panels", "influxdb", "no point read back");
  REQUIRE(eventually([&] { return w.sender.stats().rejected == 1; }, 5s));
  REQUIRE(eventually([&] { return w.reg.raised_total("ops.alert_delivery_failure") == 1; }, 5s));
  auto ev = w.reg.history();
  auto raised = std::find_if(ev.begin(), ev.end(), [](auto& e) { return e.id == "ops.alert_delivery_failure"; });
  REQUIRE(raised != ev.end());
  CHECK(raised->evidence.find("HTTP 400") != std::string::npos);
  CHECK(raised->evidence.find("historian.empty_panels was dropped") != std::string::npos);
  // The next alert (the failure mode's own raise) is accepted and clears it.
  REQUIRE(eventually([&] { return !w.reg.is_active("ops.alert_delivery_failure"); }, 5s));
}

TEST_CASE("with no receiver the queue is bounded: the oldest alerts are dropped and counted") {
  auto cfg = settings("http://127.0.0.1:" + std::to_string(free_tcp_port()) + "/x");
  cfg.max_queue = 3;
  cfg.failures_before_alarm = 100;  // only the overflow raises here
  cfg.retry_initial_ms = 1000;  // keep the first alert in flight while the others queue
  cfg.retry_max_ms = 1000;
  health::Registry reg(0ms);
  health::AlertSender sender(cfg, "s", reg);
  sender.start();
  for (int i = 0; i < 6; ++i) {
    health::Event e{i, "eip.no_response", "m" + std::to_string(i), "refused", true};
    sender.enqueue(e);
  }
  auto st = sender.stats();
  CHECK(st.dropped == 3);
  CHECK(st.queued == 3);
  REQUIRE(reg.is_active("ops.alert_delivery_failure", "webhook"));
  CHECK(reg.active()[0].evidence.find("3 alert(s) dropped") != std::string::npos);
  REQUIRE(eventually([&] { return sender.stats().failed_attempts >= 1; }, 5s));
  CHECK(sender.stats().last_error.find("no answer from http://127.0.0.1:") != std::string::npos);
  sender.stop();  // does not wait out the backoff
  CHECK(sender.stats().queued == 0);
}

TEST_CASE("send_cleared = false sends raises only") {
  Webhook hook;
  auto cfg = settings(hook.url());
  cfg.send_cleared = false;
  Wired w(cfg);
  w.reg.raise("ops.restart_loop", "", "3 unclean exits");
  w.reg.clear("ops.restart_loop", "");
  w.reg.raise("ops.restart_loop", "", "4 unclean exits");
  REQUIRE(eventually([&] { return hook.count() >= 2; }, 5s));
  std::this_thread::sleep_for(100ms);
  auto got = hook.delivered();
  REQUIRE(got.size() == 2);
  CHECK(json_field(got[0], "state") == "raised");
  CHECK(json_field(got[1], "state") == "raised");
}

TEST_CASE("send_test_alert reports the outcome of one attempt") {
  Webhook hook;
  auto ok = health::send_test_alert(settings(hook.url()), "s");
  CHECK(ok.kind == health::PostResult::Kind::delivered);
  CHECK(ok.http_status == 204);
  REQUIRE(hook.count() == 1);
  CHECK(json_field(hook.delivered()[0], "state") == "test");
  hook.answer({403});
  auto refused = health::send_test_alert(settings(hook.url()), "s");
  CHECK(refused.kind == health::PostResult::Kind::auth_refused);
  CHECK(refused.describe(hook.url()).starts_with("HTTP 403 from http://127.0.0.1:"));
}

TEST_CASE("https: the webhook's certificate is verified against ca_file; a wrong CA is named in the evidence") {
  TempDir dir;
  Pki pki(dir.path());
  auto server = pki.server();  // localhost / 127.0.0.1
  httplib::SSLServer svr(server.crt.c_str(), server.key.c_str());
  REQUIRE(svr.is_valid());
  std::atomic<int> posts{0};
  svr.Post("/hook", [&](const httplib::Request&, httplib::Response& res) {
    ++posts;
    res.status = 204;
  });
  int port = svr.bind_to_any_port("127.0.0.1");
  std::thread t([&] { svr.listen_after_bind(); });
  struct Stop {
    httplib::SSLServer& s;
    std::thread& t;
    ~Stop() {
      s.stop();
      t.join();
    }
  } stop{svr, t};

  auto cfg = settings("https://127.0.0.1:" + std::to_string(port) + "/hook");
  cfg.ca_file = pki.ca_crt().string();
  auto ok = health::send_test_alert(cfg, "s");
  CHECK_MESSAGE(ok.kind == health::PostResult::Kind::delivered, ok.describe(cfg.url));
  CHECK(posts == 1);

  cfg.ca_file = pki.other_ca_crt().string();  // signed by someone else
  Wired w(cfg);
  w.reg.raise("eip.no_response", "mcc-1", "refused");
  REQUIRE(eventually([&] { return w.reg.is_active("ops.alert_delivery_failure", "webhook"); }, 10s));
  auto active = w.reg.active();
  auto it = std::find_if(active.begin(), active.end(), [](auto& c) { return c.id == "ops.alert_delivery_failure"; });
  REQUIRE(it != active.end());
  CHECK_MESSAGE(it->evidence.find("no answer from https://127.0.0.1:") != std::string::npos, it->evidence);
  CHECK(it->evidence.find("certificate") != std::string::npos);
  CHECK(it->evidence.find("ca_file") != std::string::npos);  // the hint names the key to fix
  CHECK(posts == 1);  // nothing was sent to an unverified server
}
