// plan_reload: what differs between the running file and a reloaded one, key by key, and which
// of it the running gateway applies (sinks) or names as needing a restart.
#include <doctest/doctest.h>

#include "app/reload.hpp"
#include "pipeline/sink_plugin.hpp"

using pm500::app::plan_reload;
using pm500::app::ReloadPlan;

namespace {

const std::string kBase = R"(
[gateway]
site = "plant"
[status]
listen = "127.0.0.1:8080"
[[devices]]
name = "mcc-1"
address = "10.0.0.1"
ct = "400:5"
[[devices]]
name = "mcc-2"
address = "10.0.0.2"
[sinks.file]
path = "samples.lp"
[sinks.influxdb]
enabled = false
url = "http://127.0.0.1:8086"
bucket = "b"
org = "o"
)";

struct Loaded {
  pm500::config::GatewayConfig cfg;
  toml::table table;
};

Loaded load(const std::string& text) {
  auto cfg = pm500::config::load_string(text, "gateway.toml", pm500::sink_schemas());
  REQUIRE_MESSAGE(cfg.has_value(), (cfg ? std::string() : cfg.error().front().str()));
  return {std::move(*cfg), toml::parse(text)};
}

ReloadPlan plan(const std::string& before, const std::string& after) {
  const Loaded a = load(before), b = load(after);
  return plan_reload(a.cfg, a.table, b.cfg, b.table);
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("the same values, written differently, are no change") {
  const std::string moved = replaced(kBase, "[status]\nlisten = \"127.0.0.1:8080\"\n", "");
  const ReloadPlan p = plan(kBase, "status.listen = \"127.0.0.1:8080\"\n" +
                                       replaced(moved, "site = \"plant\"", "site   =   'plant'  # here"));
  CHECK(p.empty());
}

TEST_CASE("a key written out with its default value, or a device's, is no change") {
  std::string next = replaced(kBase, "[status]\n", "[status]\nthreads = 4\n");
  next = replaced(next, "address = \"10.0.0.2\"", "address = \"10.0.0.2\"\nrpi_ms = 1000\nasset = \"mcc-2\"");
  next = replaced(next, "path = \"samples.lp\"", "path = \"samples.lp\"\nbatch_size = 500");
  CHECK(plan(kBase, next).empty());
}

TEST_CASE("a changed secret is a change, though it is never shown") {
  const std::string mqtt = kBase + "[sinks.mqtt]\nurl = \"mqtts://broker\"\npassword = \"one\"\n";
  const ReloadPlan p = plan(mqtt, replaced(mqtt, "password = \"one\"", "password = \"two\""));
  CHECK(p.sinks_changed == std::vector<std::string>{"mqtt"});
}

TEST_CASE("core sections name each changed key: a restart is needed") {
  const ReloadPlan p = plan(kBase, replaced(kBase, "listen = \"127.0.0.1:8080\"", "listen = \"0.0.0.0:8080\"") +
                                       "[scanner]\nudp_port = 2223\n");
  CHECK(p.restart_needed == std::vector<std::string>{"[scanner] udp_port", "[status] listen"});
  CHECK_FALSE(p.sinks_change());
}

TEST_CASE("[logging] level applies live; the format needs a restart") {
  const ReloadPlan p = plan(kBase, kBase + "[logging]\nlevel = \"debug\"\nformat = \"json\"\n");
  CHECK(p.log_level == "debug");
  CHECK(p.restart_needed == std::vector<std::string>{"[logging] format"});
  CHECK_FALSE(p.empty());
  CHECK(plan(kBase, kBase + "[logging]\nlevel = \"info\"\n").empty());  // the default, now written
}

TEST_CASE("devices by name: added, removed, and the keys of a changed one") {
  std::string next = replaced(kBase, "ct = \"400:5\"", "ct = \"800:5\"\nrpi_ms = 500");
  next = replaced(next, "name = \"mcc-2\"\naddress = \"10.0.0.2\"", "name = \"mcc-3\"\naddress = \"10.0.0.3\"");
  const ReloadPlan p = plan(kBase, next);
  CHECK(p.devices_changed == std::vector<std::string>{"mcc-1"});
  CHECK(p.devices_added == std::vector<std::string>{"mcc-3"});
  CHECK(p.devices_removed == std::vector<std::string>{"mcc-2"});
  CHECK(p.restart_needed.empty());
  CHECK(p.devices_change());
}

TEST_CASE("devices: a changed profile or asset applies live; in durable mode too, and devices are added") {
  const ReloadPlan p = plan(kBase, replaced(kBase, "ct = \"400:5\"", "ct = \"400:5\"\nprofile = \"x.toml\"\nasset = \"a\""));
  CHECK(p.devices_changed == std::vector<std::string>{"mcc-1"});
  CHECK(p.restart_needed.empty());
  const std::string journal = kBase + "[pipeline]\ndurability = \"journal\"\n";
  const ReloadPlan q = plan(journal, journal + "[[devices]]\nname = \"mcc-9\"\naddress = \"10.0.0.9\"\n");
  CHECK(q.devices_added == std::vector<std::string>{"mcc-9"});
  CHECK(q.restart_needed.empty());
}

TEST_CASE("devices in another order are unchanged") {
  const std::string one = "[[devices]]\nname = \"mcc-1\"\naddress = \"10.0.0.1\"\nct = \"400:5\"\n";
  const std::string two = "[[devices]]\nname = \"mcc-2\"\naddress = \"10.0.0.2\"\n";
  CHECK(plan(one + two, two + one).empty());
}

TEST_CASE("sinks: changed table, added, removed; a disabled sink counts as absent") {
  SUBCASE("changed") {
    const ReloadPlan p = plan(kBase, replaced(kBase, "path = \"samples.lp\"", "path = \"other.lp\""));
    CHECK(p.sinks_changed == std::vector<std::string>{"file"});
    CHECK(p.sinks_added.empty());
    CHECK(p.restart_needed.empty());
  }
  SUBCASE("a disabled sink enabled is added") {
    const ReloadPlan p = plan(kBase, replaced(kBase, "enabled = false\n", ""));
    CHECK(p.sinks_added == std::vector<std::string>{"influxdb"});
    CHECK(p.sinks_changed.empty());
  }
  SUBCASE("a disabled sink edited is no change") {
    CHECK(plan(kBase, replaced(kBase, "bucket = \"b\"", "bucket = \"c\"")).empty());
  }
  SUBCASE("removed, and disabled") {
    const ReloadPlan p = plan(kBase, replaced(kBase, "[sinks.file]\npath = \"samples.lp\"\n", ""));
    CHECK(p.sinks_removed == std::vector<std::string>{"file"});
    const ReloadPlan q = plan(kBase, replaced(kBase, "[sinks.file]\n", "[sinks.file]\nenabled = false\n"));
    CHECK(q.sinks_removed == std::vector<std::string>{"file"});
  }
}

TEST_CASE("durable mode: sinks change live (the journal follows the sinks that run)") {
  const std::string journal = kBase + "[pipeline]\ndurability = \"journal\"\n";
  const ReloadPlan p = plan(journal, replaced(journal, "path = \"samples.lp\"", "path = \"other.lp\""));
  CHECK(p.sinks_changed == std::vector<std::string>{"file"});
  CHECK(p.restart_needed.empty());
}

TEST_CASE("the outcome's summary line") {
  pm500::app::ReloadOutcome o;
  CHECK(o.summary() == "no reload yet");
  o.at_ms = 1;
  CHECK(o.summary() == "no change applied");
  o.applied = {"sink file added"};
  o.restart_needed = {"[status] listen", "[scanner] udp_port"};
  CHECK(o.summary() == "applied: sink file added; restart needed for: [status] listen, [scanner] udp_port");
  o.refused = true;
  o.errors = {"gateway.toml:3:1: x"};
  CHECK(o.summary() == "refused: 1 error in the file; the running configuration is kept");
}
