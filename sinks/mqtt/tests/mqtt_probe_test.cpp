// The MQTT sink's probe (`pm500-gateway check`) against a real mosquitto over TLS with
// passwords: the right settings pass every step (certificates, connect, TLS, authenticate) under
// a client id of its own, and an unknown CA, a wrong password and an expired client certificate
// each fail at the step that names them, as mqtt.publish_failure.
#include <doctest/doctest.h>

#include "sinks/common/tests/mqtt_broker.hpp"
#include "sinks/mqtt/probe.hpp"

using namespace pm500;
using namespace pm500::sinks::mqtt;
using R = SinkProbeResult::Result;

namespace {

std::string dump(const std::vector<SinkProbeResult>& rs) {
  std::string s;
  for (const auto& r : rs)
    s += (r.result == R::ok ? "ok " : r.result == R::warn ? "warn " : "fail ") + r.what + ": " + r.detail + " [" +
         r.failure_id + "]\n";
  return s;
}

}  // namespace

TEST_CASE("mosquitto: the probe passes the right settings and names the failing step otherwise") {
  test::TempDir tmp;
  test::Pki pki(tmp / "pki");
  test::Mosquitto broker(tmp / "broker", &pki, {.users = {{"gw", "gw-secret"}}});
  broker.start();
  MqttSinkConfig c;
  c.url = broker.url();
  c.ca_file = pki.ca_crt().string();
  c.username = "gw";
  c.password = "gw-secret";
  c.client_id = "pm500-test-gw";
  c.connect_timeout_ms = 3000;

  SUBCASE("right settings: every step passes, under <client_id>-check") {
    auto rs = probe_mqtt(c);
    INFO(dump(rs));
    REQUIRE(rs.size() == 4);
    for (const auto& r : rs) CHECK(r.result == R::ok);
    CHECK(rs[0].what == "certificates");
    CHECK(rs[1].what == "connect " + broker.url());
    CHECK(rs[2].what == "TLS");
    CHECK(rs[3].what == "authenticate");
    CHECK(rs[3].detail.find("client id \"pm500-test-gw-check\", user \"gw\"") != std::string::npos);
  }

  SUBCASE("a CA that did not sign the broker fails at TLS") {
    c.ca_file = pki.other_ca_crt().string();
    auto rs = probe_mqtt(c);
    INFO(dump(rs));
    REQUIRE_FALSE(rs.empty());
    CHECK(rs.back().what == "TLS");
    CHECK(rs.back().result == R::fail);
    CHECK(rs.back().failure_id == "mqtt.publish_failure");
  }

  SUBCASE("a wrong password fails at authenticate, after connect and TLS passed") {
    c.password = "wrong";
    auto rs = probe_mqtt(c);
    INFO(dump(rs));
    REQUIRE(rs.size() == 4);
    CHECK(rs[2].result == R::ok);
    CHECK(rs.back().what == "authenticate");
    CHECK(rs.back().result == R::fail);
  }

  SUBCASE("an expired client certificate fails before any connection") {
    auto kp = pki.client("gw", false, "20200101000000Z", "20210101000000Z");
    c.cert_file = kp.crt.string();
    c.key_file = kp.key.string();
    auto rs = probe_mqtt(c);
    INFO(dump(rs));
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].what == "certificates");
    CHECK(rs[0].result == R::fail);
    CHECK(rs[0].detail.find("expired") != std::string::npos);
  }
}
