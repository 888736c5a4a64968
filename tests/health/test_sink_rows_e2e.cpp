// The troubleshooting guide's historian and broker rows, end to end: the real pm500-gateway
// binary with its embedded simulated meters, writing to a real influxd (1.6) or a real
// mosquitto (TLS, ACLs, mutual TLS) on loopback. Each case provokes the row's cause for real,
// asserts the failure mode is raised with the right evidence (log line, /api/status, /metrics),
// removes the cause and asserts the CLEARED line and that delivery resumes with nothing lost
// (compared with a file sink that runs beside it as the reference).
//
// Loopback addresses 127.0.0.51..127.0.0.69 belong to this file (one per simulated meter).
#include <doctest/doctest.h>

#include <csignal>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>

#include "sinks/common/tests/mqtt_broker.hpp"
#include "sinks/influxdb/tests/influxd.hpp"
#include "support/gateway.hpp"

using namespace pm500::test;

namespace {

// Simulated meters, a file sink as the reference, and the sink under test (`sinks`).
struct GatewayRun : SimulatedGateway {
  GatewayRun(const std::string& first_address, int meters, const std::string& sinks)
      : SimulatedGateway(first_address, meters,
                         "[sinks.file]\npath = \"samples.lp\"\nflush_interval_ms = 50\n" + sinks) {}
};

// Delivery settings that retry quickly, for every sink under test.
const std::string kFastRetry = "flush_interval_ms = 100\nretry_initial_ms = 100\nretry_max_ms = 1000\n";

std::string influx_sink(const Influxd& influxd, const std::string& extra = "") {
  return "[sinks.influxdb]\nurl = \"" + influxd.url() +
         "\"\ndatabase = \"pm500\"\nconfig_error_retry_ms = 1000\nreadback_interval_s = 1\ntimeout_ms = 5000\n" +
         kFastRetry + extra;
}

// The whole log line that starts with "RAISED <id> [<subject>]", or "".
std::string raised_line(Process& gw, const std::string& id, const std::string& subject) {
  const std::string log = gw.log();
  const auto p = log.find("RAISED " + id + " [" + subject + "]");
  if (p == std::string::npos) return {};
  return log.substr(p, log.find('\n', p) - p);
}

bool has_line(Process& gw, const std::string& text) {
  return gw.log().find(text) != std::string::npos;
}

// The value of pm500_failure_active{id="<id>",...} in /metrics ("1", "0"), or "" when absent.
std::string failure_active(const std::string& base, const std::string& id) {
  const std::string m = http_get(base + "/metrics").output;
  const auto p = m.find("\npm500_failure_active{id=\"" + id + "\"");
  if (p == std::string::npos) return {};
  const auto eol = m.find('\n', p + 1);
  const std::string line = m.substr(p + 1, eol - p - 1);
  return line.substr(line.rfind(' ') + 1);
}

// /api/status lists the failure mode for this subject.
bool status_lists(const std::string& base, const std::string& id, const std::string& subject) {
  return http_get(base + "/api/status").output.find("{\"id\":\"" + id + "\",\"subject\":\"" + subject + "\"") !=
         std::string::npos;
}

// Source timestamps (ns) of the reference file sink's lines that carry assembly 101
// (voltage_l1_n_v) of device `device`.
std::vector<std::int64_t> reference_times(const fs::path& samples, const std::string& device = "mcc-1") {
  std::vector<std::int64_t> out;
  std::istringstream in(fs::exists(samples) ? read_file(samples) : std::string());
  for (std::string l; std::getline(in, l);) {
    if (l.find(",device=" + device + ",") == std::string::npos || l.find(" voltage_l1_n_v=") == std::string::npos)
      continue;
    out.push_back(std::stoll(l.substr(l.rfind(' ') + 1)));
  }
  return out;
}

std::size_t count_upto(const std::vector<std::int64_t>& times, std::int64_t cut) {
  std::size_t n = 0;
  for (auto t : times) n += t <= cut;
  return n;
}

// SELECT COUNT(voltage_l1_n_v) of device mcc-1 up to `cut_ns` in influxd (-1: no answer).
std::int64_t influx_count_upto(Influxd& influxd, std::int64_t cut_ns) {
  const std::string body = influxd.query(
      "SELECT COUNT(\"voltage_l1_n_v\") FROM \"powermonitor_500\" WHERE \"device\" = 'mcc-1' AND time <= " +
          std::to_string(cut_ns),
      "pm500");
  // {"results":[{"statement_id":0,"series":[{"name":...,"columns":["time","count"],"values":[[0,123]]}]}]}
  const auto p = body.find("\"values\":[[");
  if (p == std::string::npos) return body.find("\"error\"") == std::string::npos ? 0 : -1;
  const auto comma = body.find(',', p);
  return std::stoll(body.substr(comma + 1));
}

// The pid of the mosquitto started with this exact configuration file (for SIGHUP).
pid_t pid_with_config(const fs::path& conf) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd;
    try {
      cmd = read_file(e.path() / "cmdline");
    } catch (...) {
      continue;
    }
    for (char& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find("mosquitto") != std::string::npos && cmd.find(" " + conf.string()) != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

// MQTT messages "topic payload" from a Subscriber: distinct time_ms of assembly 101 of mcc-1.
std::set<std::int64_t> mqtt_times(const std::vector<std::string>& lines) {
  std::set<std::int64_t> out;
  for (const auto& l : lines) {
    if (l.find("\"device\":\"mcc-1\"") == std::string::npos || l.find("\"assembly\":101") == std::string::npos)
      continue;
    const auto p = l.find("\"time_ms\":");
    if (p != std::string::npos) out.insert(std::stoll(l.substr(p + 10)));
  }
  return out;
}

const std::map<std::string, std::string> kMqttUsers{{"gw", "gw-secret"}, {"observer", "observer-secret"}};
const std::vector<std::string> kObserver{"-u", "observer", "-P", "observer-secret"};

std::string mqtt_sink(const Mosquitto& broker, const fs::path& ca) {
  return "[sinks.mqtt]\nurl = \"" + broker.url() +
         "\"\nprotocol = \"5\"\nclient_id = \"pm500-e2e\"\n"
         "username = \"gw\"\npassword = \"gw-secret\"\nca_file = \"" +
         ca.string() + "\"\nqos = 1\nconnect_timeout_ms = 2000\nack_timeout_ms = 2000\n" + kFastRetry;
}

}  // namespace

TEST_SUITE("sink rows e2e") {
  TEST_CASE(
      "influxdb.write_error: database missing (404) raised naming it; CREATE DATABASE clears it and the spool "
      "arrives complete") {
    REQUIRE_MESSAGE(Influxd::available(), "influxd (Debian package influxdb) is not installed");
    Influxd influxd;
    GatewayRun run("127.0.0.51", 1, influx_sink(influxd));
    Process gw(run.args());

    REQUIRE_MESSAGE(wait_raised(gw, "influxdb.write_error", "influxdb", 15s), gw.log());
    const std::string evidence = raised_evidence(gw, "influxdb.write_error", "influxdb");
    CHECK(evidence.find("HTTP 404") != std::string::npos);
    CHECK(evidence.find("database not found: \"pm500\"") != std::string::npos);
    CHECK(raised_line(gw, "influxdb.write_error", "influxdb").find("CREATE DATABASE \"pm500\"") != std::string::npos);
    const std::string base = status_url(gw);
    REQUIRE(!base.empty());
    CHECK(failure_active(base, "influxdb.write_error") == "1");
    CHECK(status_lists(base, "influxdb.write_error", "influxdb"));

    // Let an outage of some seconds accumulate in the spool, then fix the cause.
    REQUIRE(eventually([&] { return reference_times(run.samples()).size() >= 20; }, 15s));
    const std::int64_t outage_end = reference_times(run.samples()).back();
    const std::size_t during_outage = count_upto(reference_times(run.samples()), outage_end);
    CHECK(influx_count_upto(influxd, outage_end) == -1);  // no database yet: the query fails
    influxd.query("CREATE DATABASE \"pm500\"");

    REQUIRE_MESSAGE(wait_cleared(gw, "influxdb.write_error", "influxdb", 15s), gw.log());
    CHECK(failure_active(base, "influxdb.write_error") == "0");
    CHECK_FALSE(status_lists(base, "influxdb.write_error", "influxdb"));
    // Everything the meter produced, during the outage and after it, is in InfluxDB exactly once.
    const std::int64_t cut = reference_times(run.samples()).back();
    CHECK(cut > outage_end);
    std::int64_t in_influx = 0;
    std::size_t in_file = 0;
    CHECK_MESSAGE(eventually(
                      [&] {
                        in_file = count_upto(reference_times(run.samples()), cut);
                        in_influx = influx_count_upto(influxd, cut);
                        return in_influx == static_cast<std::int64_t>(in_file);
                      },
                      15s),
                  "influx ", in_influx, " file ", in_file);
    CHECK(influx_count_upto(influxd, outage_end) == static_cast<std::int64_t>(during_outage));
    CHECK(during_outage >= 20);
  }

  TEST_CASE("influxdb.write_error: wrong credentials (401) raised; creating the user clears it and samples arrive") {
    REQUIRE_MESSAGE(Influxd::available(), "influxd (Debian package influxdb) is not installed");
    Influxd influxd(Influxd::Options{.auth = true});
    influxd.query("CREATE DATABASE \"pm500\"");
    GatewayRun run("127.0.0.52", 1, influx_sink(influxd, "username = \"pm500-gw\"\npassword = \"gw-pass-1\"\n"));
    Process gw(run.args());

    REQUIRE_MESSAGE(wait_raised(gw, "influxdb.write_error", "influxdb", 15s), gw.log());
    const std::string line = raised_line(gw, "influxdb.write_error", "influxdb");
    CHECK(raised_evidence(gw, "influxdb.write_error", "influxdb").find("HTTP 401") != std::string::npos);
    CHECK(line.find("gw-pass-1") == std::string::npos);  // the password never reaches the log
    CHECK(influxd.count("pm500", "powermonitor_500", "voltage_l1_n_v") == 0);

    // The administrator creates the user the gateway is configured with: no restart needed.
    influxd.query("CREATE USER \"pm500-gw\" WITH PASSWORD 'gw-pass-1'");
    influxd.query("GRANT ALL ON \"pm500\" TO \"pm500-gw\"");
    REQUIRE_MESSAGE(wait_cleared(gw, "influxdb.write_error", "influxdb", 15s), gw.log());
    REQUIRE(!reference_times(run.samples()).empty());
    const std::int64_t cut = reference_times(run.samples()).back();
    CHECK(eventually(
        [&] {
          return influx_count_upto(influxd, cut) ==
                 static_cast<std::int64_t>(count_upto(reference_times(run.samples()), cut));
        },
        15s));
    CHECK(gw.log().find("gw-pass-1") == std::string::npos);
  }

  TEST_CASE("historian.retention_disabled: autogen's infinite retention raised; ALTER RETENTION POLICY clears it") {
    REQUIRE_MESSAGE(Influxd::available(), "influxd (Debian package influxdb) is not installed");
    Influxd influxd;
    influxd.query("CREATE DATABASE \"pm500\"");
    GatewayRun run("127.0.0.53", 1, influx_sink(influxd));
    Process gw(run.args());

    REQUIRE_MESSAGE(wait_raised(gw, "historian.retention_disabled", "influxdb", 15s), gw.log());
    const std::string evidence = raised_evidence(gw, "historian.retention_disabled", "influxdb");
    CHECK(evidence.find("database \"pm500\" retention policy \"autogen\" duration 0s") != std::string::npos);
    CHECK(evidence.find("infinite") != std::string::npos);
    const std::string base = status_url(gw);
    CHECK(failure_active(base, "historian.retention_disabled") == "1");

    influxd.query("ALTER RETENTION POLICY \"autogen\" ON \"pm500\" DURATION 30d");
    // The sink reads the retention back every readback_interval_s (1 s here).
    REQUIRE_MESSAGE(wait_cleared(gw, "historian.retention_disabled", "influxdb", 15s), gw.log());
    CHECK(failure_active(base, "historian.retention_disabled") == "0");
    CHECK_FALSE(has_line(gw, "RAISED influxdb.write_error"));
  }

  TEST_CASE("historian.empty_panels: a tag key that is also a field name makes the point unfindable by its tags") {
    // InfluxDB 1.x accepts the point (204), but in InfluxQL an identifier names the field when a
    // field and a tag share the key, so WHERE "frequency_hz" = '...' -- what a dashboard's tag
    // filter sends -- finds nothing. The read-back sees exactly that.
    REQUIRE_MESSAGE(Influxd::available(), "influxd (Debian package influxdb) is not installed");
    Influxd influxd;
    influxd.query("CREATE DATABASE \"pm500\"");
    {
      GatewayRun run("127.0.0.54", 1, influx_sink(influxd, "tags = [\"frequency_hz=nominal-60\"]\n"));
      Process gw(run.args());
      REQUIRE_MESSAGE(wait_raised(gw, "historian.empty_panels", "influxdb", 15s), gw.log());
      const std::string evidence = raised_evidence(gw, "historian.empty_panels", "influxdb");
      CHECK(evidence.find("the point just written (HTTP 204) was not found by: SELECT * FROM \"powermonitor_500\"") !=
            std::string::npos);
      CHECK(evidence.find("\"frequency_hz\" = 'nominal-60'") != std::string::npos);
      CHECK(evidence.find("(database \"pm500\")") != std::string::npos);
      CHECK(failure_active(status_url(gw), "historian.empty_panels") == "1");
      CHECK(influxd.count("pm500", "powermonitor_500", "voltage_l1_n_v") >
            0);  // the points are there, the tag filter misses them
    }
    // The fix is a configuration change (a tag key no field uses), so a restart: the read-back
    // now finds the point. The retention read-back, which runs after it, marks that it ran.
    {
      GatewayRun run("127.0.0.55", 1, influx_sink(influxd, "tags = [\"frequency_class=nominal-60\"]\n"));
      Process gw(run.args());
      REQUIRE_MESSAGE(wait_raised(gw, "historian.retention_disabled", "influxdb", 15s), gw.log());
      CHECK_FALSE(has_line(gw, "RAISED historian.empty_panels"));
      CHECK_FALSE(has_line(gw, "read-back inconclusive"));
    }
  }

  TEST_CASE("historian.high_cardinality: three meters against max_series = 2 raised with the series count") {
    REQUIRE_MESSAGE(Influxd::available(), "influxd (Debian package influxdb) is not installed");
    Influxd influxd;
    influxd.query("CREATE DATABASE \"pm500\"");
    {
      GatewayRun run("127.0.0.61", 3, influx_sink(influxd, "max_series = 2\n"));
      Process gw(run.args());
      REQUIRE_MESSAGE(wait_raised(gw, "historian.high_cardinality", "influxdb", 15s), gw.log());
      CHECK(raised_evidence(gw, "historian.high_cardinality", "influxdb") ==
            "3 distinct series written (max_series = 2)");
      const std::string base = status_url(gw);
      CHECK(failure_active(base, "historian.high_cardinality") == "1");
      CHECK(status_lists(base, "historian.high_cardinality", "influxdb"));
      CHECK(influxd.query("SHOW SERIES", "pm500").find("device=mcc-3") != std::string::npos);
      // The count is of series written since start, which stay in InfluxDB: it does not clear
      // while the gateway keeps writing them. Proof that a later read-back cycle (which judges the
      // series first) ran: the retention condition, fixed meanwhile, clears in it.
      REQUIRE(wait_raised(gw, "historian.retention_disabled", "influxdb", 10s));
      influxd.query("ALTER RETENTION POLICY \"autogen\" ON \"pm500\" DURATION 30d");
      REQUIRE(wait_cleared(gw, "historian.retention_disabled", "influxdb", 15s));
      CHECK_FALSE(has_line(gw, "CLEARED historian.high_cardinality"));
      CHECK(failure_active(base, "historian.high_cardinality") == "1");
    }
    // With max_series raised to what the plant really has, a new run stays quiet. (The read-back
    // of the visible point, which runs after the series check, marks that the check ran.)
    {
      influxd.query("ALTER RETENTION POLICY \"autogen\" ON \"pm500\" DURATION INF");
      GatewayRun run("127.0.0.64", 3, influx_sink(influxd, "max_series = 3\n"));
      Process gw(run.args());
      REQUIRE_MESSAGE(wait_raised(gw, "historian.retention_disabled", "influxdb", 15s), gw.log());
      CHECK_FALSE(has_line(gw, "RAISED historian.high_cardinality"));
    }
  }

  TEST_CASE(
      "mqtt.publish_failure: the broker's ACL refuses the topic (0x87); fixing the ACL and SIGHUP clears it and "
      "the spool arrives") {
    TempDir tmp;
    Pki pki(tmp / "pki");
    // The gateway may publish its status topic but not the sample topics.
    Mosquitto broker(
        tmp / "broker", &pki,
        {.users = kMqttUsers, .acl = "user gw\ntopic write pm500/status/#\nuser observer\ntopic readwrite #\n"});
    broker.start();
    Subscriber sub(broker, pki, "pm500/test-site/#", kObserver, "e2e-observer");
    REQUIRE(sub.ready(kObserver));

    GatewayRun run("127.0.0.56", 1, mqtt_sink(broker, pki.ca_crt()));
    Process gw(run.args());
    REQUIRE_MESSAGE(wait_raised(gw, "mqtt.publish_failure", "mqtt", 15s), (gw.log() + broker.log()));
    const std::string evidence = raised_evidence(gw, "mqtt.publish_failure", "mqtt");
    CHECK(evidence.find("publish refused") != std::string::npos);
    CHECK(evidence.find("PUBACK reason code 0x87 (not authorized)") != std::string::npos);
    CHECK(evidence.find("\"pm500/test-site/mcc-1/mcc-1/") != std::string::npos);  // the refused topic
    const std::string base = status_url(gw);
    CHECK(failure_active(base, "mqtt.publish_failure") == "1");
    CHECK(status_lists(base, "mqtt.publish_failure", "mqtt"));
    CHECK(mqtt_times(sub.lines()).empty());

    REQUIRE(eventually([&] { return reference_times(run.samples()).size() >= 20; }, 15s));
    const std::int64_t outage_end_ms = reference_times(run.samples()).back() / 1'000'000;
    // The broker's administrator grants the topic; mosquitto re-reads its ACL file on SIGHUP.
    write_file(tmp / "broker" / "acl", "user gw\ntopic write pm500/#\nuser observer\ntopic readwrite #\n");
    const pid_t mosq = pid_with_config(tmp / "broker" / "mosquitto.conf");
    REQUIRE(mosq > 0);
    REQUIRE(::kill(mosq, SIGHUP) == 0);

    REQUIRE_MESSAGE(wait_cleared(gw, "mqtt.publish_failure", "mqtt", 20s), (gw.log() + broker.log()));
    CHECK(failure_active(base, "mqtt.publish_failure") == "0");
    // Every sample, from the outage too, reached the subscriber (at least once).
    const std::int64_t cut_ms = reference_times(run.samples()).back() / 1'000'000;
    CHECK(cut_ms > outage_end_ms);
    std::size_t in_file = 0, in_mqtt = 0;
    CHECK_MESSAGE(eventually(
                      [&] {
                        std::size_t n = 0;
                        for (auto t : reference_times(run.samples())) n += t / 1'000'000 <= cut_ms;
                        in_file = n;
                        in_mqtt = 0;
                        for (auto t : mqtt_times(sub.lines())) in_mqtt += t <= cut_ms;
                        return in_file == in_mqtt;
                      },
                      15s),
                  "mqtt ", in_mqtt, " file ", in_file);
    std::size_t outage = 0;
    for (auto t : mqtt_times(sub.lines())) outage += t <= outage_end_ms;
    CHECK(outage >= 20);
  }

  TEST_CASE("mqtt.publish_failure: a CA file that did not sign the broker's certificate is a TLS verify failure") {
    TempDir tmp;
    Pki pki(tmp / "pki");
    Mosquitto broker(tmp / "broker", &pki, {.users = kMqttUsers});
    broker.start();
    {
      GatewayRun run("127.0.0.57", 1, mqtt_sink(broker, pki.other_ca_crt()));
      Process gw(run.args());
      REQUIRE_MESSAGE(wait_raised(gw, "mqtt.publish_failure", "mqtt", 15s), gw.log());
      const std::string evidence = raised_evidence(gw, "mqtt.publish_failure", "mqtt");
      CHECK(evidence.find("TLS certificate verify failed") != std::string::npos);
      CHECK(evidence.find("unknown CA") != std::string::npos);
      CHECK(evidence.find("certificate verify failed: self-signed certificate in certificate chain") !=
            std::string::npos);
      CHECK(failure_active(status_url(gw), "mqtt.publish_failure") == "1");
    }
    // The right CA (a configuration change, so a new run): delivered, nothing raised.
    Subscriber sub(broker, pki, "pm500/test-site/#", kObserver, "e2e-observer-2");
    REQUIRE(sub.ready(kObserver));
    GatewayRun run("127.0.0.58", 1, mqtt_sink(broker, pki.ca_crt()));
    Process gw(run.args());
    REQUIRE_MESSAGE(eventually([&] { return mqtt_times(sub.lines()).size() >= 10; }, 15s), gw.log());
    CHECK_FALSE(has_line(gw, "RAISED mqtt.publish_failure"));
  }

  TEST_CASE("aws_iot.connect_failure: an expired device certificate is raised naming the file; a valid one connects") {
    TempDir tmp;
    Pki pki(tmp / "pki");
    KeyPair thing = pki.client("gw-1");
    KeyPair expired = pki.client("gw-1", false, "20200101000000Z", "20210101000000Z");
    KeyPair observer = pki.client("observer");
    // A stand-in for AWS IoT Core: mutual TLS, the certificate's CN is the identity, an ACL plays
    // the IoT policy.
    Mosquitto broker(tmp / "broker", &pki,
                     {.require_certificate = true,
                      .use_identity_as_username = true,
                      .acl = "user gw-1\ntopic write dt/pm500/#\ntopic write $aws/things/gw-1/shadow/update\n"
                             "user observer\ntopic readwrite #\ntopic read $aws/#\n"});
    broker.start();
    const std::vector<std::string> observer_auth{"--cert", observer.crt.string(), "--key", observer.key.string()};
    Subscriber sub(broker, pki, "dt/#", observer_auth, "e2e-aws-observer");
    REQUIRE(sub.ready(observer_auth));
    const auto sink = [&](const KeyPair& cert) {
      return "[sinks.aws_iot]\nendpoint = \"localhost\"\nport = " + std::to_string(broker.port()) +
             "\nthing_name = \"gw-1\"\ncert_file = \"" + cert.crt.string() + "\"\nkey_file = \"" + cert.key.string() +
             "\"\nca_file = \"" + pki.ca_crt().string() + "\"\nconnect_timeout_ms = 2000\nack_timeout_ms = 2000\n" +
             kFastRetry;
    };
    const auto connections = [&] {
      const std::string log = broker.log();
      std::size_t n = 0;
      for (auto p = log.find("New connection"); p != std::string::npos; p = log.find("New connection", p + 1)) ++n;
      return n;
    };
    const std::size_t before = connections();
    {
      GatewayRun run("127.0.0.59", 1, sink(expired));
      Process gw(run.args());
      REQUIRE_MESSAGE(wait_raised(gw, "aws_iot.connect_failure", "aws_iot", 15s), gw.log());
      const std::string evidence = raised_evidence(gw, "aws_iot.connect_failure", "aws_iot");
      CHECK(evidence.find("certificate files unusable") != std::string::npos);
      CHECK(evidence.find("cert_file " + expired.crt.string() + ": certificate expired on") != std::string::npos);
      CHECK(failure_active(status_url(gw), "aws_iot.connect_failure") == "1");
      CHECK(reference_times(run.samples()).size() > 0);
      CHECK(connections() == before);  // caught before connecting: nothing reached the broker
    }
    // A valid certificate (a configuration change, so a new run): documents arrive, nothing raised.
    GatewayRun run("127.0.0.60", 1, sink(thing));
    Process gw(run.args());
    REQUIRE_MESSAGE(eventually([&] { return sub.lines().size() >= 3; }, 15s), gw.log());
    CHECK(sub.lines()[0].starts_with("dt/pm500/test-site/mcc-1 {\"thing\":\"gw-1\",\"device\":\"mcc-1\""));
    CHECK_FALSE(has_line(gw, "RAISED aws_iot.connect_failure"));
  }

}  // TEST_SUITE
