#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "health/registry.hpp"
#include "support/support.hpp"

using namespace pm500::health;

TEST_CASE("every guide row has a failure mode with the ids of the design") {
  const char* ids[] = {"eip.ownership_conflict", "eip.no_response", "meter.erratic_readings", "eip.session_fault",
                       "mqtt.publish_failure", "influxdb.write_error", "historian.empty_panels",
                       "historian.high_cardinality", "historian.retention_disabled", "aws_iot.connect_failure",
                       "aws_iot.rule_delivery_failure", "cloud.consumer_lag", "ops.restart_loop", "ops.docs_outdated",
                       "ops.alert_delivery_failure"};
  std::set<std::string_view> seen, guide_rows;
  for (const auto& m : failure_modes()) {
    CHECK(seen.insert(m.id).second);  // unique ids
    CHECK_FALSE(m.resolution.empty());
    CHECK_FALSE(m.detection.empty());
    if (!m.guide_row.empty()) guide_rows.insert(m.guide_row);
  }
  CHECK(guide_rows.size() == 15);  // every row; a row may have more than one mode
  // A row's modes are next to each other, in the guide's section, before the gateway's own.
  CHECK(find_failure_mode("eip.wrong_device")->guide_row == find_failure_mode("eip.no_response")->guide_row);
  auto modes = failure_modes();
  for (std::size_t i = 1; i < modes.size(); ++i)
    if (!modes[i].guide_row.empty()) CHECK_MESSAGE(!modes[i - 1].guide_row.empty(), modes[i].id);
  for (auto id : ids) CHECK_MESSAGE(find_failure_mode(id) != nullptr, id);
  CHECK(find_failure_mode("no.such") == nullptr);
  CHECK(level_name(find_failure_mode("cloud.consumer_lag")->level) == "L3 cloud integration");
}

TEST_CASE("raise once, refresh silently, clear only after the hold") {
  std::int64_t now = 1000;
  Registry reg(std::chrono::milliseconds(5000), [&] { return now; });
  std::vector<Event> events;
  reg.on_event([&](const Event& e) { events.push_back(e); });

  reg.raise("eip.no_response", "mcc-1", "timeout");
  reg.raise("eip.no_response", "mcc-1", "timeout again");
  CHECK(events.size() == 1);  // one transition, not one per failed attempt
  CHECK(reg.active().at(0).occurrences == 2);
  CHECK(reg.active().at(0).evidence == "timeout again");

  reg.clear("eip.no_response", "mcc-1");
  now += 4000;
  reg.tick();
  CHECK(reg.is_active("eip.no_response", "mcc-1"));  // still within the hold
  // A fault that comes back during the hold cancels the clear: no flapping.
  reg.raise("eip.no_response", "mcc-1", "timeout 3");
  now += 10000;
  reg.tick();
  CHECK(reg.is_active("eip.no_response"));
  CHECK(events.size() == 1);

  reg.clear("eip.no_response", "mcc-1");
  now += 5000;
  reg.tick();
  CHECK_FALSE(reg.is_active("eip.no_response"));
  REQUIRE(events.size() == 2);
  CHECK_FALSE(events[1].raised);
  CHECK(reg.raised_total("eip.no_response") == 1);
  CHECK(reg.history().size() == 2);
}

TEST_CASE("subjects are independent and the most severe level comes first") {
  std::int64_t now = 0;
  Registry reg(std::chrono::milliseconds(0), [&] { return now; });
  reg.raise("influxdb.write_error", "influxdb", "HTTP 401");
  now = 5;
  reg.raise("eip.no_response", "mcc-2", "refused");
  reg.raise("eip.no_response", "mcc-1", "refused");
  auto a = reg.active();
  REQUIRE(a.size() == 3);
  CHECK(a[0].id == "eip.no_response");  // L1 before L2
  CHECK(a[2].id == "influxdb.write_error");
  reg.clear("eip.no_response", "mcc-1");  // zero hold: immediate
  CHECK(reg.is_active("eip.no_response", "mcc-2"));
  CHECK_FALSE(reg.is_active("eip.no_response", "mcc-1"));
}

TEST_CASE("the generated troubleshooting matrix names every mode") {
  std::string md = troubleshooting_markdown();
  for (const auto& m : failure_modes()) CHECK(md.find("`" + std::string(m.id) + "`") != std::string::npos);
}

TEST_CASE("every condition the pipeline raises is a registered failure mode, with symptom, cause, fix and level") {
  // The ids are the string constants of src/pipeline/conditions.hpp: read from the source, so a
  // new condition without a registry entry fails here.
  const std::string text = pm500::test::read_file(pm500::test::source_dir() / "src/pipeline/conditions.hpp");
  const std::regex id_re("\"((?:pipeline|gateway)\\.[a-z_]+)\"");
  int found = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), id_re); it != std::sregex_iterator(); ++it) {
    const std::string id = (*it)[1].str();
    ++found;
    const FailureMode* m = find_failure_mode(id);
    REQUIRE_MESSAGE(m != nullptr, id);
    CHECK_MESSAGE(!m->symptom.empty(), id);
    CHECK_MESSAGE(!m->cause.empty(), id);
    CHECK_MESSAGE(!m->resolution.empty(), id);
    CHECK_MESSAGE(troubleshooting_markdown().find("`" + id + "`") != std::string::npos, id);
  }
  CHECK(found >= 10);  // overrun, spool_full, spool_error, spool_corrupt, sink_unavailable, ..., gateway.overload
  // Sinks with their own outage mode do not get pipeline.sink_unavailable beside it.
  CHECK(sink_has_own_failure_mode("mqtt"));
  CHECK(sink_has_own_failure_mode("influxdb"));
  CHECK(sink_has_own_failure_mode("aws_iot"));
  CHECK_FALSE(sink_has_own_failure_mode("file"));
}
