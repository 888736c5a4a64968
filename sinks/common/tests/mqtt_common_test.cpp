// The shared MQTT layer against a real mosquitto: every connect failure class the sinks report
// (refused, name resolution, unknown CA, host name mismatch, expired server certificate, client
// certificate rejected, bad password), acknowledged publishes, and local certificate checks.
#include <doctest/doctest.h>

#include "sinks/common/tests/mqtt_broker.hpp"
#include "sinks/common/mqtt/cert_check.hpp"
#include "sinks/common/mqtt/endpoint.hpp"
#include "sinks/common/mqtt/probe.hpp"
#include "sinks/common/tests/policy_server.hpp"
#include "sinks/common/mqtt/session.hpp"
#include "sinks/common/mqtt/topic_match.hpp"

using namespace pm500;
using namespace pm500::mqttc;
using namespace std::chrono_literals;

namespace {

SessionSettings settings_for(const std::string& url, const test::Pki& pki) {
  SessionSettings s;
  s.endpoint = *parse_url(url);
  s.client_id = "pm500-common-test";
  s.tls.ca_file = pki.ca_crt().string();
  s.connect_timeout = 3000ms;
  s.ack_timeout = 3000ms;
  return s;
}

std::string describe(const std::optional<Error>& e) {
  return e ? std::string(to_string(e->kind)) + ": " + e->reason + " | " + e->evidence : std::string("ok");
}

}  // namespace

TEST_CASE("mqtt common: URLs, topic filters, CONNACK texts") {
  auto e = parse_url("mqtts://broker.example");
  REQUIRE(e);
  CHECK(e->port == 8883);
  CHECK(e->paho_uri() == "ssl://broker.example:8883");
  e = parse_url("mqtt://[::1]:1884");
  REQUIRE(e);
  CHECK(e->host == "::1");
  CHECK(e->paho_uri() == "tcp://[::1]:1884");
  CHECK_FALSE(parse_url("http://x"));
  CHECK_FALSE(parse_url("mqtt://x:0"));
  CHECK_FALSE(parse_url("mqtt://:1883"));
  CHECK(topic_matches("a/+/c", "a/b/c"));
  CHECK(topic_matches("a/#", "a"));
  CHECK(topic_matches("a/#", "a/b/c"));
  CHECK_FALSE(topic_matches("a/+", "a/b/c"));
  CHECK_FALSE(topic_matches("a/b", "a"));
  CHECK(classify_connack(4, 5).kind == ErrorKind::auth_refused);
  CHECK(classify_connack(5, 0x86).kind == ErrorKind::auth_refused);
  CHECK(classify_connack(4, 1).kind == ErrorKind::connect_refused);
}

TEST_CASE("mqtt common: local certificate checks name the file and the problem") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  auto good = pki.client("thing-1");
  auto other = pki.client("thing-2");
  auto expired = pki.client("old", false, "20200101000000Z", "20210101000000Z");
  auto future = pki.client("future", false, "20990101000000Z", "20991231000000Z");
  auto locked = pki.client("locked", false, "", "", "s3cret");

  auto check = [&](CertFiles f) { return check_cert_files(f); };
  CHECK_FALSE(check({good.crt.string(), good.key.string(), "", pki.ca_crt().string()}));
  auto r = check({(tmp / "nope.crt").string(), good.key.string(), "", ""});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::missing);
  CHECK(r->error.reason.find("nope.crt") != std::string::npos);
  r = check({good.crt.string(), other.key.string(), "", ""});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::key_mismatch);
  CHECK(r->error.reason.find(other.key.string()) != std::string::npos);
  r = check({expired.crt.string(), expired.key.string(), "", ""});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::expired);
  CHECK(r->error.reason.find("2021") != std::string::npos);
  r = check({future.crt.string(), future.key.string(), "", ""});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::not_yet_valid);
  r = check({good.crt.string(), good.crt.string(), "", ""});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::not_a_key);
  r = check({good.key.string(), good.key.string(), "", ""});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::not_a_certificate);
  r = check({locked.crt.string(), locked.key.string(), "wrong", ""});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::not_a_key);
  CHECK(r->error.reason.find("key_password") != std::string::npos);
  // Any wrong password is named as such: about one in 256 gets past the CBC padding check and
  // fails later as an ASN.1 error, which OpenSSL's own error text does not tell apart.
  int unnamed = 0;
  for (int i = 0; i < 600; ++i) {
    r = check({locked.crt.string(), locked.key.string(), "wrong" + std::to_string(i), ""});
    if (!r || r->error.reason.find("check key_password") == std::string::npos) ++unnamed;
  }
  CHECK(unnamed == 0);
  r = check({locked.crt.string(), locked.key.string(), "", ""});
  REQUIRE(r);
  CHECK(r->error.reason.find("set key_password") != std::string::npos);
  CHECK_FALSE(check({locked.crt.string(), locked.key.string(), "s3cret", ""}));
  r = check({"", "", "", good.key.string()});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::ca_unparsable);
  test::write_file(tmp / "unreadable.crt", "x");
  r = check({tmp.path().string(), good.key.string(), "", ""});
  REQUIRE(r);
  CHECK(r->problem == CertProblem::unreadable);
}

TEST_CASE("mqtt common: connect failures are told apart") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");

  SUBCASE("connection refused") {
    auto s = settings_for("mqtts://127.0.0.1:" + std::to_string(test::free_tcp_port()), pki);
    Session session(s);
    auto e = session.connect();
    INFO(describe(e));
    REQUIRE(e);
    CHECK(e->kind == ErrorKind::refused);
  }
  SUBCASE("name resolution") {
    auto s = settings_for("mqtts://no-such-host.invalid:8883", pki);
    Session session(s);
    auto e = session.connect();
    INFO(describe(e));
    REQUIRE(e);
    CHECK(e->kind == ErrorKind::resolve);
  }

  test::Mosquitto broker(tmp / "broker", &pki, {.users = {{"gw", "right"}}});
  broker.start();

  SUBCASE("TLS and credentials accepted, publishes acknowledged") {
    auto s = settings_for(broker.url(), pki);
    s.username = "gw";
    s.password = "right";
    for (int version : {4, 5}) {
      s.mqtt_version = version;
      Session session(s);
      std::vector<Outgoing> msgs(50, Outgoing{"t/x", "{}", 1, false});
      std::size_t acked = 0;
      auto e = session.publish(msgs, &acked);
      INFO(describe(e));
      CHECK_FALSE(e);
      CHECK(acked == 50);
    }
  }
  SUBCASE("unknown CA") {
    auto s = settings_for(broker.url(), pki);
    s.tls.ca_file = pki.other_ca_crt().string();
    Session session(s);
    auto e = session.connect();
    INFO(describe(e));
    REQUIRE(e);
    CHECK(e->kind == ErrorKind::tls_verify);
    // mosquitto sends its CA along, so OpenSSL reports the chain's root as an untrusted self-signed one.
    CHECK(e->evidence.find("certificate verify failed: self-signed certificate in certificate chain") != std::string::npos);
    CHECK(e->reason.find("unknown CA") != std::string::npos);
  }
  SUBCASE("wrong password, MQTT 3.1.1 and 5") {
    auto s = settings_for(broker.url(), pki);
    s.username = "gw";
    s.password = "wrong";
    for (int version : {4, 5}) {
      s.mqtt_version = version;
      Session session(s);
      auto e = session.connect();
      INFO(describe(e));
      REQUIRE(e);
      CHECK(e->kind == ErrorKind::auth_refused);
      CHECK(e->evidence.find("CONNACK") != std::string::npos);
      // The password never reaches the report.
      CHECK(e->reason.find("wrong") == std::string::npos);
      CHECK(e->evidence.find("wrong") == std::string::npos);
    }
  }
}

TEST_CASE("mqtt common: host name mismatch and a rejected client certificate") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  SUBCASE("host name mismatch") {
    test::Mosquitto broker(tmp / "broker", &pki, {.server_cert = pki.wrong_name_server()});
    broker.start();
    Session session(settings_for(broker.url(), pki));
    auto e = session.connect();
    INFO(describe(e));
    REQUIRE(e);
    CHECK(e->kind == ErrorKind::tls_verify);
    CHECK(e->reason.find("host name mismatch") != std::string::npos);
  }
  SUBCASE("client certificate from another CA") {
    test::Mosquitto broker(tmp / "broker", &pki, {.require_certificate = true, .use_identity_as_username = true});
    broker.start();
    auto s = settings_for(broker.url(), pki);
    auto stranger = pki.client("stranger", true);
    s.tls.cert_file = stranger.crt.string();
    s.tls.key_file = stranger.key.string();
    Session session(s);
    auto e = session.connect();
    INFO(describe(e));
    REQUIRE(e);
    CHECK(e->kind == ErrorKind::tls_client_rejected);
  }
}

TEST_CASE("mqtt common: connection closed right after CONNECT, and right after PUBLISH") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  auto thing = pki.client("thing-1");
  auto settings = [&](int port) {
    auto s = settings_for("mqtts://localhost:" + std::to_string(port), pki);
    s.client_id = "thing-1";
    s.tls.cert_file = thing.crt.string();
    s.tls.key_file = thing.key.string();
    return s;
  };
  SUBCASE("after CONNECT") {
    test::PolicyServer server(pki, test::PolicyServer::Mode::close_after_connect);
    Session session(settings(server.port()));
    auto e = session.connect();
    INFO(describe(e));
    REQUIRE(e);
    CHECK(e->kind == ErrorKind::closed_after_connect);
    CHECK(e->reason.find("thing-1") != std::string::npos);
  }
  SUBCASE("after PUBLISH") {
    test::PolicyServer server(pki, test::PolicyServer::Mode::close_after_publish);
    Session session(settings(server.port()));
    REQUIRE_FALSE(session.connect());
    std::vector<Outgoing> msgs{{"dt/plant/thing-1", "{}", 1, false}};
    auto e = session.publish(msgs);
    INFO(describe(e));
    REQUIRE(e);
    CHECK(e->kind == ErrorKind::closed_after_publish);
    CHECK(e->reason.find("dt/plant/thing-1") != std::string::npos);
  }
}

TEST_CASE("mqtt common: the probe's CONNECT packet") {
  // MQTT 3.1.1 section 3.1: fixed header, "MQTT", level 4, flags (user, password, clean), keep-alive.
  const std::string p = encode_connect({4, "c", "u", "p"}, 10);
  const std::string want("\x10\x13\x00\x04MQTT\x04\xC2\x00\x0A\x00\x01" "c\x00\x01u\x00\x01p", 21);
  CHECK(p == want);
  const std::string p5 = encode_connect({5, "c", "", ""}, 10);
  CHECK(p5 == std::string("\x10\x0E\x00\x04MQTT\x05\x02\x00\x0A\x00\x00\x01" "c", 16));
}
