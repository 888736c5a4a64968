// The Sparkplug sink against a real mosquitto over TLS, every message decoded by an independent
// decoder (protoc's Python output of sparkplug_b.proto): births and their contents and order,
// DDATA by alias and exception, seq over 300 messages, bdSeq per connection, rebirth on NCMD,
// writes refused, DDEATH and DBIRTH when a meter falls silent and returns.
#include <doctest/doctest.h>

#include <thread>

#include "sinks/sparkplug/sparkplug_sink.hpp"
#include "sinks/sparkplug/tests/fixtures.hpp"

using namespace pm500;
using namespace pm500::test::sparkplug;
using pm500::sinks::sparkplug::SparkplugSink;
using namespace std::chrono_literals;

namespace {

void deliver_ok(SparkplugSink& sink, std::vector<Sample> batch) {
  auto r = sink.deliver(batch);
  INFO(r.reason, " | ", r.evidence);
  REQUIRE(r.kind == DeliveryResult::Kind::ok);
}

// Every message but NDEATH carries seq, one more than the message before (mod 256), from 0 at
// each NBIRTH.
void check_seq(const std::vector<DecodedMessage>& msgs) {
  std::uint64_t expected = 0;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& m = msgs[i];
    if (m.type() == "NDEATH") {
      CHECK_FALSE(m.seq.has_value());
      continue;
    }
    if (m.type() == "NBIRTH") expected = 0;
    INFO("message ", i, " ", m.topic);
    REQUIRE(m.seq.has_value());
    CHECK(*m.seq == expected);
    expected = (expected + 1) % 256;
  }
}

}  // namespace

TEST_CASE("sparkplug: NBIRTH, a DBIRTH per meter with every metric of its profile, DDATA by alias and exception; "
          "seq over 300 messages; bdSeq per connection") {
  BrokerRig rig;
  auto& sub = *rig.sub;

  const Catalog cat = meters(2);
  auto cfg = config_for(rig.broker, rig.pki);
  cfg.deadband = {"V=0.5"};
  std::size_t expected = 0;
  {
    SparkplugSink sink(cfg, cat, &rig.conditions, rig.state_dir());
    deliver_ok(sink, {s101(0, 0, 230), s101(1, 1, 240)});
    expected += 3;  // NBIRTH, DBIRTH mcc-1, DBIRTH mcc-2 (a meter's first sample is in its birth)
    // 300 samples, each with new values: 300 DDATA, seq wrapping past 255.
    for (std::uint32_t k = 0; k < 6; ++k) {
      std::vector<Sample> batch;
      for (std::uint32_t j = 0; j < 50; ++j) {
        const std::uint32_t n = 2 + k * 50 + j;
        batch.push_back(s101(n % 2, n, 230 + n));
      }
      deliver_ok(sink, batch);
    }
    expected += 300;
    // By exception: the same values again, then voltages moved less than the V deadband, say
    // nothing; a current moved by 2 A (no deadband for A) is one metric.
    Sample same = s101(0, 400, 230 + 300);
    Sample small = same;
    small.source_time_ns += 1'000'000;
    small.values[0] += 0.3;
    Sample amps = small;
    amps.source_time_ns += 1'000'000;
    amps.values[6] += 2;
    deliver_ok(sink, {same, small, amps});
    expected += 1;
    CHECK(sink.messages() == expected);
    CHECK(sink.bd_seq() == 0);
  }
  expected += 1;  // a clean shutdown publishes NDEATH itself
  REQUIRE_MESSAGE(test::eventually([&] { return sub.count() >= expected; }, 10s), rig.broker.log());
  auto msgs = sub.messages();
  REQUIRE(msgs.size() == expected);
  check_seq(msgs);

  const auto& nbirth = msgs[0];
  CHECK(nbirth.topic == "spBv1.0/plant-a/NBIRTH/gw-1");
  REQUIRE(nbirth.metric("bdSeq"));
  CHECK(nbirth.metric("bdSeq")->datatype == 8u);
  CHECK(nbirth.metric("bdSeq")->value.integer == 0u);
  REQUIRE(nbirth.metric("Node Control/Rebirth"));
  CHECK(nbirth.metric("Node Control/Rebirth")->datatype == 11u);
  CHECK(nbirth.metric("Node Control/Rebirth")->value.boolean == false);

  const auto& dbirth = msgs[1];
  CHECK(dbirth.topic == "spBv1.0/plant-a/DBIRTH/gw-1/mcc-1");
  CHECK(dbirth.metrics.size() == 118);  // every value of assemblies 100..108 in the profile
  const auto* v = dbirth.metric("Real-time voltage and current/voltage_l1_n_v");
  REQUIRE(v);
  CHECK(v->alias == 110100u);
  CHECK(v->datatype == 9u);  // Float: a REAL the gateway keeps at float precision
  CHECK_FALSE(v->is_null);   // the first sample's values
  CHECK(v->value.number == 230.0);
  CHECK(v->timestamp == ms_of(s101(0, 0, 0)));
  CHECK(v->properties.at("engUnit").text == "V");
  CHECK(v->properties.at("ptRatio").text == "480:120");
  CHECK(v->properties.at("ratiosAppliedBy").text == "gateway");
  CHECK(v->properties.count("ctRatio") == 0);
  const auto* a = dbirth.metric("Real-time voltage and current/current_l1_a");
  REQUIRE(a);
  CHECK(a->properties.at("ctRatio").text == "400:5");
  const auto* e = dbirth.metric("Energy meters/active_energy_import_kwh");
  if (!e) e = dbirth.metric("Energy meters/energy_import_kwh");
  REQUIRE_MESSAGE(e, "no energy counter in the DBIRTH");
  CHECK(e->datatype == 10u);  // Double: an energy counter keeps every digit
  CHECK(e->properties.at("engUnit").text == "kWh");
  const auto* pf = dbirth.metric("Real-time power, power factor and frequency/frequency_hz");
  REQUIRE(pf);
  CHECK(pf->is_null);  // assembly 102: nothing received yet
  CHECK(pf->properties.count("ctRatio") == 0);
  CHECK(pf->properties.count("ptRatio") == 0);

  CHECK(msgs[2].topic == "spBv1.0/plant-a/DBIRTH/gw-1/mcc-2");
  CHECK(msgs[2].metric("Real-time voltage and current/voltage_l1_n_v")->alias == 210100u);
  CHECK(msgs[2].metric("Real-time voltage and current/voltage_l1_n_v")->value.number == 240.0);

  const auto& ddata = msgs[3];
  CHECK(ddata.topic == "spBv1.0/plant-a/DDATA/gw-1/mcc-1");
  REQUIRE(ddata.metrics.size() == 12);
  for (std::size_t i = 0; i < 12; ++i) {
    const auto& m = ddata.metrics[i];
    CHECK_FALSE(m.name.has_value());      // by alias after the birth
    CHECK_FALSE(m.datatype.has_value());
    CHECK(m.alias == 110100u + i);
    CHECK(m.timestamp == ms_of(s101(0, 2, 0)));  // the sample's source time
    CHECK(m.value.number == 232.0 + static_cast<double>(i));
    CHECK_FALSE(m.historical);
  }
  CHECK(msgs[4].metrics.size() == 12);
  CHECK(msgs[4].metrics[0].alias == 210100u);

  // The exception: only current_l1_a, two amperes up.
  const auto& last = msgs[expected - 2];
  CHECK(last.type() == "DDATA");
  REQUIRE(last.metrics.size() == 1);
  CHECK(last.metrics[0].alias == 110106u);
  CHECK(last.metrics[0].value.number == 230 + 300 + 6 + 2);

  const auto& ndeath = msgs.back();
  CHECK(ndeath.topic == "spBv1.0/plant-a/NDEATH/gw-1");
  REQUIRE(ndeath.metric("bdSeq"));
  CHECK(ndeath.metric("bdSeq")->value.integer == 0u);

  // The next connection, also after a restart, has the next bdSeq (kept in state_dir).
  {
    SparkplugSink sink(cfg, cat, &rig.conditions, rig.state_dir());
    deliver_ok(sink, {s101(0, 500, 100)});
    CHECK(sink.bd_seq() == 1);
  }
  REQUIRE(test::eventually([&] { return sub.count() >= expected + 3; }, 10s));
  msgs = sub.messages();
  REQUIRE(msgs.size() == expected + 3);
  CHECK(msgs[expected].type() == "NBIRTH");
  CHECK(msgs[expected].metric("bdSeq")->value.integer == 1u);
  CHECK(msgs[expected + 1].metric("Real-time voltage and current/voltage_l1_n_v")->value.number == 100.0);
  CHECK(msgs[expected + 2].type() == "NDEATH");
  CHECK(msgs[expected + 2].metric("bdSeq")->value.integer == 1u);
  CHECK(rig.conditions.log().find("raise") == std::string::npos);
}

TEST_CASE("sparkplug: NCMD Node Control/Rebirth is answered with a new birth sequence; a DCMD write is refused") {
  BrokerRig rig;
  auto& sub = *rig.sub;
  const Catalog cat = meters(2);
  SparkplugSink sink(config_for(rig.broker, rig.pki), cat, &rig.conditions, rig.state_dir());
  deliver_ok(sink, {s101(0, 0, 230), s101(1, 1, 240)});

  const std::string cmd = rebirth_command();
  // A write to a meter's value: the gateway only reads, nothing is born again.
  REQUIRE(publish_bytes(rig.broker, rig.pki, "spBv1.0/plant-a/DCMD/gw-1/mcc-1", cmd, kObserver).code == 0);
  for (int i = 0; i < 25; ++i) {
    sink.tick(true);
    std::this_thread::sleep_for(20ms);
  }
  CHECK(sink.node_births() == 1);

  REQUIRE(publish_bytes(rig.broker, rig.pki, "spBv1.0/plant-a/NCMD/gw-1", cmd, kObserver).code == 0);
  REQUIRE(test::eventually(
      [&] {
        sink.tick(true);
        return sink.node_births() == 2;
      },
      5s));
  deliver_ok(sink, {s101(0, 2, 231)});
  REQUIRE(test::eventually([&] { return sub.count() >= 7; }, 10s));
  auto msgs = sub.messages();
  REQUIRE(msgs.size() == 7);
  check_seq(msgs);
  CHECK(msgs[3].type() == "NBIRTH");
  CHECK(msgs[3].metric("bdSeq")->value.integer == 0u);  // the same connection: the same bdSeq
  CHECK(msgs[4].topic == "spBv1.0/plant-a/DBIRTH/gw-1/mcc-1");
  CHECK(msgs[4].metric("Real-time voltage and current/voltage_l1_n_v")->value.number == 230.0);
  CHECK(msgs[5].topic == "spBv1.0/plant-a/DBIRTH/gw-1/mcc-2");
  CHECK(msgs[5].metric("Real-time voltage and current/voltage_l1_n_v")->value.number == 240.0);
  CHECK(msgs[6].type() == "DDATA");
  CHECK(msgs[6].metrics.size() == 12);
}

TEST_CASE("sparkplug: a meter silent for its timeout gets a DDEATH, and a DBIRTH when it returns") {
  BrokerRig rig;
  auto& sub = *rig.sub;
  const Catalog cat = meters(2);
  auto cfg = config_for(rig.broker, rig.pki);
  cfg.device_timeout_ms = 300;
  SparkplugSink sink(cfg, cat, &rig.conditions, rig.state_dir());
  deliver_ok(sink, {s101(0, 0, 230), s101(1, 1, 240)});
  // mcc-2 keeps sending, mcc-1 is silent.
  std::uint32_t n = 2;
  REQUIRE(test::eventually(
      [&] {
        deliver_ok(sink, {s101(1, n, 240.0 + n)});
        ++n;
        sink.tick(false);  // replaying or retrying: silence is not judged
        CHECK(sink.device_born(0));
        sink.tick(true);
        std::this_thread::sleep_for(20ms);
        return !sink.device_born(0);
      },
      5s));
  CHECK(sink.device_born(1));  // the meter that kept sending is alive
  deliver_ok(sink, {s101(0, n, 250)});
  REQUIRE(test::eventually([&] { return sub.count() >= sink.messages(); }, 5s));
  auto msgs = sub.messages();
  check_seq(msgs);
  std::vector<std::string> mcc1;
  for (const auto& m : msgs)
    if (m.device() == "mcc-1") mcc1.push_back(m.type());
  CHECK(mcc1 == std::vector<std::string>{"DBIRTH", "DDEATH", "DBIRTH"});
  CHECK(msgs.back().type() == "DBIRTH");
  CHECK(msgs.back().metric("Real-time voltage and current/voltage_l1_n_v")->value.number == 250.0);
}
