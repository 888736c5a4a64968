// The Sparkplug sink without a broker: sample.toml (embedded in the README) loads, the options
// are checked, the metric table names, aliases and types every value of the profile.
#include <doctest/doctest.h>

#include <optional>
#include <set>
#include <utility>

#include "config/config.hpp"
#include "pipeline/sink_plugin.hpp"
#include "sinks/sparkplug/metrics.hpp"
#include "sinks/sparkplug/sparkplug_sink.hpp"
#include "sinks/sparkplug/tests/fixtures.hpp"
#include "support/support.hpp"

namespace pm500 {
extern const SinkPlugin sparkplug_sink_plugin;
}

using namespace pm500;
using namespace pm500::sinks::sparkplug;

namespace {

// Loads a configuration with the sparkplug table only; the errors, one per line ("" = loaded).
std::pair<std::optional<SparkplugConfig>, std::string> load(const std::string& text) {
  const std::vector<config::SinkSchema> schemas{sparkplug_sink_plugin.schema};
  auto r = config::load_string(text, "test.toml", schemas, [](const char*) -> const char* { return "from-env"; });
  if (!r) {
    std::string errors;
    for (auto& d : r.error()) errors += d.str() + "\n";
    return {std::nullopt, errors};
  }
  REQUIRE(r->sinks.size() == 1);
  return {std::any_cast<const SparkplugConfig&>(r->sinks[0].settings), ""};
}

}  // namespace

TEST_CASE("sparkplug sink: README embeds sample.toml verbatim, and sample.toml loads") {
  const std::string readme = test::read_file(test::source_dir() / "sinks/sparkplug/README.md");
  const std::string sample = test::read_file(test::source_dir() / "sinks/sparkplug/sample.toml");
  REQUIRE(!sample.empty());
  CHECK(readme.find("```toml\n" + sample + "```") != std::string::npos);
  auto [cfg, errors] = load(sample);
  INFO(errors);
  REQUIRE(cfg);
  const SparkplugConfig& c = *cfg;
  CHECK(c.group_id == "plant-a");
  CHECK(c.primary_host_id.empty());  // commented out: no primary host unless asked for
  CHECK(c.deadband.size() == 3);
  CHECK(c.qos == 1);
  CHECK(c.status_topic.empty());
}

TEST_CASE("sparkplug sink: configuration errors name the key and the fix") {
  const std::string head = "[sinks.sparkplug]\nurl = \"mqtts://b:8883\"\n";
  CHECK(load(head + "report = \"sometimes\"\n").second.find("report") != std::string::npos);
  CHECK(load(head + "deadband = [\"V0.5\"]\n").second.find("write UNIT=AMOUNT") != std::string::npos);
  CHECK(load(head + "group_id = \"a/b\"\n").second.find("group_id") != std::string::npos);
  // The MQTT sink's JSON keys do not exist here.
  CHECK(load(head + "topic = \"x\"\n").second.find("topic") != std::string::npos);
  CHECK(load(head).second == "");
  auto d = parse_deadbands({"V=0.5", "kWh=0"});
  REQUIRE(d);
  CHECK(d->at("V") == 0.5);
  CHECK(d->at("kWh") == 0.0);
  CHECK_FALSE(parse_deadbands({"V=-1"}));
}

TEST_CASE("sparkplug sink: ids default to the site; metrics are named by assembly, aliased, typed") {
  const Catalog cat = test::sparkplug::meters(2);
  SparkplugConfig cfg;
  CHECK(identity(cfg, cat).group_id == "plant");
  CHECK(identity(cfg, cat).edge_node_id == "plant");
  CHECK(identity(cfg, Catalog{}).group_id == "pm500");

  const DeviceTable t = device_table(cat.devices[1], 1, {{"V", 0.5}});
  CHECK(t.id == "mcc-2");
  CHECK(t.metrics.size() == 118);
  const DeviceMetric& v = t.metrics[t.first[1]];
  CHECK(v.name == "Real-time voltage and current/voltage_l1_n_v");
  CHECK(v.alias == 210100u);
  CHECK(v.type == DataType::Float);
  CHECK(v.deadband == 0.5);
  const DeviceMetric& info = t.metrics[t.first[0]];
  CHECK(info.type == DataType::UInt16);  // a UINT nothing multiplies stays an integer
  CHECK(t.metrics[t.first[7]].type == DataType::Double);  // energy counters
  std::vector<Property> props;
  birth_properties(t, v, props);
  REQUIRE(props.size() == 3);
  CHECK(props[0].key == "engUnit");
  CHECK(props[1].key == "ptRatio");
  CHECK(props[1].value.text == "480:120");
  CHECK(props[2].key == "ratiosAppliedBy");
  // Every alias is unique across the edge node.
  const DeviceTable t0 = device_table(cat.devices[0], 0, {});
  std::set<std::uint64_t> aliases;
  for (const auto* x : {&t0, &t})
    for (const auto& m : x->metrics) CHECK(aliases.insert(m.alias).second);
  CHECK(value_of(DataType::Int16, -7).integer == static_cast<std::uint64_t>(-7));
  CHECK(value_of(DataType::UInt16, 2.6).integer == 3u);
}

TEST_CASE("sparkplug sink: an assembly of 250 values gets 250 distinct aliases, none shared with another") {
  pm500::DeviceMeta big;
  big.name = "big";
  std::vector<std::string> names;
  for (int i = 0; i < 250; ++i) names.push_back("v" + std::to_string(i));
  big.fields[0] = names;  // assembly 100
  big.fields[1] = {"a", "b"};
  std::set<std::uint64_t> aliases;
  for (std::uint32_t d = 0; d < 3; ++d) {
    const DeviceTable t = device_table(big, d, {});
    CHECK(t.count[0] == 250);
    CHECK(t.slots == 14 + 8);  // 250 values: 14 parts of 18; every other assembly one, as before
    CHECK(t.first_slot[1] == 14);
    for (const auto& m : t.metrics) aliases.insert(m.alias);
    CHECK(t.metrics[5].alias == (d + 1) * 100000 + 100 * 100 + 5);  // below 100: the usual scheme
  }
  CHECK(aliases.size() == 3 * 252);
  CHECK(*aliases.begin() >= 100000);  // clear of the node metrics
}
