// The whole gateway with a Sparkplug sink, a simulated meter and mosquitto over TLS: a meter
// that stops producing (fault injected in the simulator) gets a DDEATH and a new DBIRTH when it
// resumes; kill -9 makes the broker publish the will, an NDEATH with the bdSeq of the NBIRTH;
// the restarted gateway is born with the next bdSeq, and SIGTERM says NDEATH itself.
#include <doctest/doctest.h>

#include <csignal>

#include "sinks/sparkplug/tests/fixtures.hpp"
#include "support/gateway.hpp"

using namespace pm500::test;
using namespace pm500::test::sparkplug;

namespace {

std::size_t count_type(const std::vector<DecodedMessage>& msgs, const std::string& type, const std::string& device = "") {
  std::size_t n = 0;
  for (const auto& m : msgs)
    if (m.type() == type && m.device() == device) ++n;
  return n;
}

// The [sinks.sparkplug] table for the rig's broker as edge node `node`, plus `extra` lines.
std::string sink_table(const BrokerRig& rig, const std::string& node, const std::string& extra = "") {
  return "[sinks.sparkplug]\nurl = \"" + rig.broker.url() + "\"\nca_file = \"" + rig.pki.ca_crt().string() +
         "\"\nusername = \"gw\"\npassword = \"gw-secret\"\nedge_node_id = \"" + node + "\"\nflush_interval_ms = 20\n" +
         extra;
}

// The subscriber's messages, read again until a condition on them holds.
struct Watch {
  SparkplugSubscriber& sub;
  std::vector<DecodedMessage> msgs;
  template <class Pred>
  bool until(Pred pred, std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
          msgs = sub.messages();
          return pred();
        },
        timeout);
  }
};

}  // namespace

TEST_CASE("sparkplug in the gateway: DDEATH and DBIRTH around a meter fault; the will on kill -9; bdSeq after restart") {
  BrokerRig rig;
  auto& sub = *rig.sub;
  SimulatedGateway g("127.0.65.10", 1, sink_table(rig, "gw-e2e"));
  Watch w{sub, {}};
  auto& msgs = w.msgs;
  auto until = [&](auto pred, std::chrono::milliseconds timeout) { return w.until(pred, timeout); };
  {
    Process gw(g.args());
    REQUIRE_MESSAGE(until([&] { return count_type(msgs, "DDATA", "mcc-1") >= 3; }, 30s), gw.log());
    CHECK(msgs[0].topic == "spBv1.0/test-site/NBIRTH/gw-e2e");
    CHECK(msgs[0].metric("bdSeq")->value.integer == 0u);
    CHECK(msgs[1].topic == "spBv1.0/test-site/DBIRTH/gw-e2e/mcc-1");
    CHECK(msgs[0].metric("Gateway/Version")->value.text != "");

    REQUIRE(sim_command(g.control, "fault stop-producing").rfind("ok", 0) == 0);
    REQUIRE_MESSAGE(until([&] { return count_type(msgs, "DDEATH", "mcc-1") == 1; }, 20s), gw.log());
    REQUIRE(sim_command(g.control, "fault resume-producing").rfind("ok", 0) == 0);
    REQUIRE_MESSAGE(until([&] { return count_type(msgs, "DBIRTH", "mcc-1") == 2; }, 30s), gw.log());

    gw.signal(SIGKILL);
    gw.wait(5s);
    // The broker publishes the will: NDEATH with the NBIRTH's bdSeq.
    REQUIRE_MESSAGE(until([&] { return count_type(msgs, "NDEATH") == 1; }, 10s), rig.broker.log());
    for (const auto& m : msgs)
      if (m.type() == "NDEATH") CHECK(m.metric("bdSeq")->value.integer == 0u);
  }
  {
    Process gw(g.args());
    REQUIRE_MESSAGE(until([&] { return count_type(msgs, "NBIRTH") == 2; }, 30s), gw.log());
    std::vector<std::uint64_t> births;
    for (const auto& m : msgs)
      if (m.type() == "NBIRTH") births.push_back(m.metric("bdSeq")->value.integer);
    CHECK(births == std::vector<std::uint64_t>{0, 1});
    gw.signal(SIGTERM);
    CHECK(gw.wait(15s) == 0);
    REQUIRE(until([&] { return count_type(msgs, "NDEATH") == 2; }, 10s));
    CHECK(msgs.back().type() == "NDEATH");
    CHECK(msgs.back().metric("bdSeq")->value.integer == 1u);
  }
}

TEST_CASE("sparkplug in the gateway: a primary host offline longer than host_offline_alert_s is on /api/status") {
  BrokerRig rig;
  auto& sub = *rig.sub;
  REQUIRE(mosquitto_pub(rig.broker, rig.pki, "spBv1.0/STATE/scada", "{\"online\": false, \"timestamp\": 1000}",
                        kObserver, true)
              .code == 0);
  SimulatedGateway g("127.0.65.20", 1, sink_table(rig, "gw-host", "primary_host_id = \"scada\"\nhost_offline_alert_s = 1\n"));
  Process gw(g.args());
  const std::string base = status_url(gw);
  REQUIRE_MESSAGE(!base.empty(), gw.log());
  const std::string listed = "{\"id\":\"mqtt.publish_failure\",\"subject\":\"sparkplug/primary-host\"";
  std::string api;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        api = http_get(base + "/api/status").output;
                        return api.find(listed) != std::string::npos;
                      },
                      20s),
                  (api + gw.log()));
  // The evidence names the host, how long, what the gateway saw and where.
  const std::string entry = api.substr(api.find(listed), 2000);
  CHECK(entry.find("the primary host application \\\"scada\\\" has been offline for") != std::string::npos);
  CHECK(entry.find("STATE online=false on spBv1.0/STATE/scada") != std::string::npos);
  CHECK(sub.count() == 0);  // nothing born while the host is offline

  REQUIRE(mosquitto_pub(rig.broker, rig.pki, "spBv1.0/STATE/scada", "{\"online\": true, \"timestamp\": 2000}",
                        kObserver, true)
              .code == 0);
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        api = http_get(base + "/api/status").output;
                        return api.find(listed) == std::string::npos;
                      },
                      20s),
                  (api + gw.log()));
  std::vector<DecodedMessage> msgs;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        msgs = sub.messages();
                        return count_type(msgs, "DDATA", "mcc-1") >= 1;
                      },
                      20s),
                  gw.log());
  CHECK(msgs[0].type() == "NBIRTH");
}

TEST_CASE("sparkplug in the gateway: DDEATH follows the scanner's connection state, DBIRTH when it returns") {
  BrokerRig rig;
  auto& sub = *rig.sub;
  // The silence timeout is out of reach: a DDEATH within the test can only come from the
  // scanner's report that the connection is lost.
  SimulatedGateway g("127.0.65.30", 1, sink_table(rig, "gw-conn", "device_timeout_ms = 600000\n"));
  Process gw(g.args());
  Watch w{sub, {}};
  auto& msgs = w.msgs;
  auto until = [&](auto pred, std::chrono::milliseconds timeout) { return w.until(pred, timeout); };
  REQUIRE_MESSAGE(until([&] { return count_type(msgs, "DDATA", "mcc-1") >= 3; }, 30s), gw.log());
  // The meter stops producing (the connection times out) and refuses every new Forward Open.
  REQUIRE(sim_command(g.control, "fault refuse 0x01").rfind("ok", 0) == 0);
  REQUIRE(sim_command(g.control, "fault stop-producing").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(until([&] { return count_type(msgs, "DDEATH", "mcc-1") == 1; }, 15s), gw.log());
  CHECK(gw.log().find("the connection to mcc-1 is lost: DDEATH") != std::string::npos);
  CHECK(gw.log().find("no sample of mcc-1") == std::string::npos);
  const std::size_t at_death = msgs.size();
  REQUIRE(sim_command(g.control, "fault clear").rfind("ok", 0) == 0);
  REQUIRE(sim_command(g.control, "fault resume-producing").rfind("ok", 0) == 0);
  REQUIRE_MESSAGE(until([&] { return count_type(msgs, "DBIRTH", "mcc-1") == 2; }, 30s), gw.log());
  // Nothing of the meter between its DDEATH and its new DBIRTH; data after it again.
  std::size_t i = at_death;
  while (i < msgs.size() && msgs[i].type() != "DBIRTH") {
    CHECK(msgs[i].device() != "mcc-1");
    ++i;
  }
  REQUIRE_MESSAGE(until([&] { return count_type(msgs, "DDATA", "mcc-1") >= 6; }, 20s), gw.log());
  CHECK(count_type(msgs, "DDEATH", "mcc-1") == 1);
}
