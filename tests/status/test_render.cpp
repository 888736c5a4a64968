// The renderers behind /api/status, /metrics and /health/*, fed hand-built views: JSON that is
// valid and escaped whatever the texts hold, a documented and stable schema, metrics a strict
// exposition parser accepts, and the readiness rule.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include <simdjson.h>

#include "config/config.hpp"
#include "prom_parser.hpp"
#include "status/detail/text.hpp"
#include "status/render.hpp"
#include "support/support.hpp"
#include "views.hpp"

using namespace pm500;
using namespace pm500::test;
using simdjson::dom::element;

namespace {

struct Json {
  simdjson::dom::parser parser;
  element root;
  explicit Json(const std::string& text) {
    auto r = parser.parse(simdjson::padded_string(text));
    REQUIRE_MESSAGE(r.error() == simdjson::SUCCESS, "invalid JSON: " << simdjson::error_message(r.error()) << "\n"
                                                                     << text);
    root = r.value();
  }
};

std::string str(element e) { return std::string(std::string_view(e)); }

void collect_keys(element e, std::set<std::string>& keys, bool under_keyed_map = false) {
  if (e.is_object()) {
    for (auto field : e.get_object()) {
      if (!under_keyed_map) keys.insert(std::string(field.key));
      collect_keys(field.value, keys);
    }
  } else if (e.is_array()) {
    for (auto x : e.get_array()) collect_keys(x, keys);
  }
}

}  // namespace

TEST_CASE("json_escape: quotes, backslashes, control characters and invalid UTF-8") {
  std::string out;
  status::detail::json_escape("a\"b\\c\nd\te\x01\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x8c", out);
  CHECK(out == "a\\\"b\\\\c\\nd\\te\\u0001\\u007f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x8c");
  out.clear();
  // A lone continuation byte, a truncated sequence, an overlong '/', a UTF-16 surrogate.
  status::detail::json_escape("x\x80y\xe2\x82z\xc0\xaf\xed\xa0\x80", out);
  CHECK(out == "x\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("render_json: valid JSON whose texts read back exactly") {
  auto v = sample_view();
  v.devices[0].identity = std::string("bad \xff byte, tab\t, nul-free \x02 control");
  v.devices[0].values.push_back({"broken_v", "V", std::nan("")});
  Json j(status::render_json(v));

  CHECK(int64_t(j.root["schema"]) == 1);
  CHECK(str(j.root["gateway"]["site"]) == "plant-7");
  CHECK(int64_t(j.root["gateway"]["uptime_s"]) == 3723);
  element devices = j.root["devices"];
  CHECK(simdjson::dom::array(devices).size() == 2);
  CHECK(str(devices.at(1)["name"]) == "feeder-\"B\" <img src=x onerror=alert(1)>");
  CHECK(str(devices.at(0)["identity"]) == "bad \xEF\xBF\xBD byte, tab\t, nul-free \x02 control");
  CHECK(devices.at(1)["last_packet_age_ms"].is_null());
  CHECK(int64_t(devices.at(0)["last_packet_age_ms"]) == 420);
  CHECK(bool(devices.at(0)["ok"]));
  CHECK_FALSE(bool(devices.at(1)["ok"]));
  CHECK(str(devices.at(0)["connection"]) == "listen-only");

  element values = devices.at(0)["values"];
  CHECK(str(values.at(0)["name"]) == "voltage_ll_avg_v");
  CHECK(double(values.at(0)["value"]) == doctest::Approx(480.3));
  CHECK(str(values.at(0)["unit"]) == "V");
  auto n = simdjson::dom::array(values).size();
  CHECK(values.at(n - 1)["value"].is_null());  // NaN has no JSON form

  element sinks = j.root["sinks"];
  CHECK(str(sinks.at(1)["name"]) == "influxdb");
  CHECK(str(sinks.at(1)["state"]) == "spooling");
  CHECK(uint64_t(sinks.at(1)["spooled"]) == 1800);
  CHECK(uint64_t(sinks.at(1)["delivered"]) == 9000);
  CHECK(uint64_t(sinks.at(1)["dropped"]) == 0);
  CHECK(int64_t(sinks.at(1)["state_for_s"]) == 60);
  CHECK(str(sinks.at(1)["last_error"]) == "HTTP 401 Unauthorized: token \"ops\" revoked\n(retrying)");
  CHECK(sinks.at(0)["state_since_ms"].is_null());

  element f = j.root["failures"].at(0);
  CHECK(str(f["id"]) == "eip.no_response");
  CHECK(str(f["level"]) == "L1");
  CHECK(int64_t(f["since_ms"]) == kNowMs - 300'000);
  CHECK(str(f["resolution"]).find("front panel") != std::string::npos);
  CHECK(str(f["evidence"]).find("timed out") != std::string::npos);
  CHECK(bool(j.root["events"].at(0)["raised"]));

  element a = j.root["alerts"];
  CHECK(bool(a["enabled"]));
  CHECK(str(a["target"]) == "https://hooks.example.net");
  CHECK(uint64_t(a["queued"]) == 4);
  CHECK(str(a["last_error"]).starts_with("HTTP 401"));
}

TEST_CASE("render_json: every field is documented in docs/status-api.md") {
  auto v = sample_view();
  Json j(status::render_json(v));
  std::set<std::string> keys;
  collect_keys(j.root, keys);
  for (auto h : {status::render_live(v), status::render_ready(v, {})}) {
    Json hj(h.json);
    // "devices", "sinks" and "failures" in the health bodies are keyed by name or id.
    for (auto field : hj.root.get_object()) {
      keys.insert(std::string(field.key));
      if (field.value.is_object() && field.key != "devices" && field.key != "sinks" && field.key != "failures")
        collect_keys(field.value, keys);
      if (field.key == "devices" || field.key == "sinks")
        for (auto item : field.value.get_object()) collect_keys(item.value, keys);
    }
  }
  std::string doc = read_file(source_dir() / "docs/status-api.md");
  for (const auto& k : keys) {
    INFO("key: " << k);
    CHECK((doc.find("`" + k + "`") != std::string::npos || doc.find("`" + k + "[]`") != std::string::npos));
  }
}

TEST_CASE("render_json: a value an active finding affects carries suspect and the finding's id, the others not") {
  auto v = sample_view();
  auto& d = v.devices[0];
  d.findings = {"mcc-1: currents 80x above CT primary 400 A: CT ratio applied twice?"};
  d.finding_kinds = {"current_vs_ct"};
  for (auto& val : d.values)
    if (val.unit == "A" || val.unit == "kW") val.suspect_finding = "current_vs_ct";
  Json j(status::render_json(v));
  element dev = j.root["devices"].at(0);
  CHECK(str(dev["finding_kinds"].at(0)) == "current_vs_ct");
  int suspect = 0, clean = 0;
  for (element val : simdjson::dom::array(dev["values"])) {
    const bool marked = bool(val["suspect"]);
    const std::string unit = str(val["unit"]);
    CHECK(marked == (unit == "A" || unit == "kW"));
    if (marked) CHECK(str(val["suspect_finding"]) == "current_vs_ct");
    else CHECK(val["suspect_finding"].error() == simdjson::NO_SUCH_FIELD);
    (marked ? suspect : clean)++;
  }
  CHECK(suspect == 4);
  CHECK(clean == 4);
  std::string doc = read_file(source_dir() / "docs/status-api.md");
  for (const char* k : {"`suspect`", "`suspect_finding`", "`finding_kinds[]`"}) CHECK(doc.find(k) != std::string::npos);
}

TEST_CASE("render_json: an empty view is still a complete document") {
  Json j(status::render_json(status::GatewayView{}));
  CHECK(simdjson::dom::array(j.root["devices"]).size() == 0);
  CHECK(simdjson::dom::array(j.root["failures"]).size() == 0);
  CHECK(int64_t(j.root["gateway"]["uptime_s"]) == 0);
}

TEST_CASE("render_metrics: passes the strict exposition parser") {
  auto v = sample_view();
  std::string text = status::render_metrics(v);
  auto ex = prom::parse(text);
  INFO(text);
  for (const auto& e : ex.errors) FAIL_CHECK(e);
  REQUIRE(ex.ok());

  CHECK(ex.family("pm500_build_info")->value({{"version", "0.1.0"}}) == 1);
  CHECK(ex.family("process_start_time_seconds")->value().value_or(NAN) == doctest::Approx((kNowMs - 3'723'000) / 1000.0));
  CHECK(ex.family("process_resident_memory_bytes")->value() == 23.0 * 1024 * 1024);
  CHECK(ex.family("pm500_scanner_running")->value() == 1);
  CHECK(ex.family("pm500_ring_capacity_samples")->value() == 65536);
  CHECK(ex.family("pm500_alerts_sent_total")->value() == 5);
  CHECK(ex.family("pm500_alerts_lost_total")->value() == 3);  // rejected + dropped
  CHECK(ex.family("pm500_alerts_queued")->value() == 4);

  // Devices, with a hostile name escaped and read back intact.
  const std::string hostile = v.devices[1].name;
  CHECK(ex.family("pm500_device_up")->value({{"device", "mcc-1"}}) == 1);
  CHECK(ex.family("pm500_device_up")->value({{"device", hostile}}) == 0);
  CHECK(ex.family("pm500_device_state")->value({{"device", "mcc-1"}, {"state", "running"}}) == 1);
  CHECK(ex.family("pm500_device_state")->value({{"device", "mcc-1"}, {"state", "backoff"}}) == 0);
  CHECK(ex.family("pm500_device_state")->value({{"device", hostile}, {"state", "backoff"}}) == 1);
  CHECK(ex.family("pm500_device_connection_info")->value({{"device", "mcc-1"}, {"connection", "listen-only"}}) == 1);
  CHECK(ex.family("pm500_device_timeouts_total")->value({{"device", hostile}}) == 4);
  CHECK(ex.family("pm500_device_stale_packets_total")->value({{"device", hostile}}) == 3);
  CHECK(ex.family("pm500_device_forward_opens_total")->value({{"device", hostile}}) == 2);
  CHECK(ex.family("pm500_device_forward_open_failures_total")->value({{"device", hostile}}) == 5);
  CHECK(ex.family("pm500_device_forward_open_failures_total")->value({{"device", "mcc-1"}}) == 0);
  CHECK(ex.family("pm500_device_last_packet_age_seconds")->value({{"device", "mcc-1"}}).value_or(NAN) == doctest::Approx(0.42));
  CHECK_FALSE(ex.family("pm500_device_last_packet_age_seconds")->value({{"device", hostile}}).has_value());
  CHECK(ex.family("pm500_device_value")->value({{"device", "mcc-1"}, {"name", "active_power_total_kw"}}).value_or(NAN) ==
        doctest::Approx(221.47));
  CHECK(ex.family("pm500_device_value")->value({{"name", "energy_import_kwh"}, {"unit", "kWh"}}).value_or(NAN) ==
        doctest::Approx(1234567.8));

  // Sinks.
  CHECK(ex.family("pm500_sink_state")->value({{"sink", "influxdb"}, {"state", "spooling"}}) == 1);
  CHECK(ex.family("pm500_sink_state")->value({{"sink", "influxdb"}, {"state", "delivering"}}) == 0);
  CHECK(ex.family("pm500_sink_spool_backlog_samples")->value({{"sink", "influxdb"}}) == 1800);
  CHECK(ex.family("pm500_sink_delivered_total")->value({{"sink", "file"}}) == 10800);
  CHECK(ex.family("pm500_sink_dropped_total")->value({{"sink", "file"}, {"reason", "overrun"}}) == 0);
  CHECK(ex.family("pm500_sink_dropped_total")->value({{"sink", "file"}, {"reason", "disk_full"}}) == 0);

  // Every known failure mode has a series, active or not.
  const auto* active = ex.family("pm500_failure_active");
  REQUIRE(active);
  CHECK(active->samples.size() == 3);
  CHECK(active->value({{"id", "eip.no_response"}}) == 1);
  CHECK(active->value({{"id", "eip.ownership_conflict"}}) == 0);
  CHECK(ex.family("pm500_failure_raised_total")->value({{"id", "eip.no_response"}}) == 3);
  CHECK(ex.family("pm500_failure_raised_total")->value({{"id", "influxdb.write_error"}}) == 1);
  CHECK(active->type == "gauge");
  CHECK(ex.family("pm500_failure_raised_total")->type == "counter");
}

TEST_CASE("datagrams the scanner rejected: /api/status by reason and in total, /metrics with a reason label") {
  auto v = sample_view();
  v.datagrams_rejected = {.unknown_connection = 3, .wrong_source = 2, .truncated = 4, .malformed = 1, .oversized = 5};
  Json j(status::render_json(v));
  element g = j.root["gateway"];
  CHECK(uint64_t(g["datagrams_rejected"]) == 15);
  element by = g["datagrams_rejected_by_reason"];
  CHECK(uint64_t(by["unknown_connection"]) == 3);
  CHECK(uint64_t(by["wrong_source"]) == 2);
  CHECK(uint64_t(by["truncated"]) == 4);
  CHECK(uint64_t(by["malformed"]) == 1);
  CHECK(uint64_t(by["oversized"]) == 5);

  std::string text = status::render_metrics(v);
  auto ex = prom::parse(text);
  for (const auto& e : ex.errors) FAIL_CHECK(e);
  const auto* f = ex.family("pm500_scanner_datagrams_rejected_total");
  REQUIRE(f);
  CHECK(f->type == "counter");
  CHECK(f->samples.size() == 5);
  CHECK(f->value({{"reason", "unknown_connection"}}) == 3);
  CHECK(f->value({{"reason", "wrong_source"}}) == 2);
  CHECK(f->value({{"reason", "truncated"}}) == 4);
  CHECK(f->value({{"reason", "malformed"}}) == 1);
  CHECK(f->value({{"reason", "oversized"}}) == 5);

  // Before anything was rejected (or without a scanner) every reason is still there, at 0, so
  // `increase(...) > 0` alerts have a series to start from.
  auto empty = prom::parse(status::render_metrics(status::GatewayView{}));
  REQUIRE(empty.family("pm500_scanner_datagrams_rejected_total"));
  CHECK(empty.family("pm500_scanner_datagrams_rejected_total")->value({{"reason", "wrong_source"}}) == 0);
  CHECK(uint64_t(Json(status::render_json(status::GatewayView{})).root["gateway"]["datagrams_rejected"]) == 0);
}

TEST_CASE("the receive socket: kernel drops, batching, delay and buffer in /api/status and /metrics") {
  auto v = sample_view();
  v.receive = {.kernel_drops = 1234, .receive_calls = 100, .datagrams = 2500, .delay_seconds_sum = 2.5,
               .delay_max_seconds = 0.0019, .cpu_seconds = 3.25, .buffer_bytes = 4194304,
               .buffer_wanted_bytes = 8000000};
  Json j(status::render_json(v));
  element r = j.root["gateway"]["receive"];
  CHECK(uint64_t(r["kernel_drops"]) == 1234);
  CHECK(uint64_t(r["receive_calls"]) == 100);
  CHECK(uint64_t(r["datagrams"]) == 2500);
  CHECK(double(r["datagrams_per_call"]) == doctest::Approx(25.0));
  CHECK(double(r["delay_avg_ms"]) == doctest::Approx(1.0));
  CHECK(double(r["delay_max_ms"]) == doctest::Approx(1.9));
  CHECK(uint64_t(r["buffer_bytes"]) == 4194304);
  CHECK(uint64_t(r["buffer_wanted_bytes"]) == 8000000);

  auto ex = prom::parse(status::render_metrics(v));
  for (const auto& e : ex.errors) FAIL_CHECK(e);
  REQUIRE(ex.family("pm500_scanner_kernel_drops_total"));
  CHECK(ex.family("pm500_scanner_kernel_drops_total")->type == "counter");
  CHECK(ex.family("pm500_scanner_kernel_drops_total")->value() == 1234);
  CHECK(ex.family("pm500_scanner_receive_calls_total")->value() == 100);
  CHECK(ex.family("pm500_scanner_datagrams_received_total")->value() == 2500);
  CHECK(ex.family("pm500_scanner_receive_delay_seconds_total")->value() == doctest::Approx(2.5));
  CHECK(ex.family("pm500_scanner_cpu_seconds_total")->value() == doctest::Approx(3.25));
  CHECK(ex.family("pm500_scanner_receive_buffer_bytes")->value() == 4194304);
  CHECK(ex.family("pm500_scanner_receive_buffer_wanted_bytes")->value() == 8000000);
  // Without a scanner: zeros, and no division by zero in the JSON.
  Json e(status::render_json(status::GatewayView{}));
  CHECK(double(e.root["gateway"]["receive"]["datagrams_per_call"]) == 0.0);
}

TEST_CASE("connection set-ups: in flight, waiting, limit, peak and started in /api/status and /metrics") {
  auto v = sample_view();
  v.setups = {.limit = 64, .in_flight = 17, .waiting = 4936, .peak = 64, .started = 812};
  Json j(status::render_json(v));
  element s = j.root["gateway"]["setups"];
  CHECK(uint64_t(s["limit"]) == 64);
  CHECK(uint64_t(s["in_flight"]) == 17);
  CHECK(uint64_t(s["waiting"]) == 4936);
  CHECK(uint64_t(s["peak"]) == 64);
  CHECK(uint64_t(s["started"]) == 812);

  auto ex = prom::parse(status::render_metrics(v));
  for (const auto& e : ex.errors) FAIL_CHECK(e);
  REQUIRE(ex.family("pm500_scanner_setups_in_flight"));
  CHECK(ex.family("pm500_scanner_setups_in_flight")->type == "gauge");
  CHECK(ex.family("pm500_scanner_setups_in_flight")->value() == 17);
  CHECK(ex.family("pm500_scanner_setups_waiting")->value() == 4936);
  CHECK(ex.family("pm500_scanner_setups_limit")->value() == 64);
  CHECK(ex.family("pm500_scanner_setups_peak")->value() == 64);
  REQUIRE(ex.family("pm500_scanner_setups_started_total"));
  CHECK(ex.family("pm500_scanner_setups_started_total")->type == "counter");
  CHECK(ex.family("pm500_scanner_setups_started_total")->value() == 812);
}

TEST_CASE("render_metrics: label escaping, NaN, duplicates and an active mode missing from the counts") {
  auto v = sample_view();
  v.devices[0].name = "back\\slash \"quoted\"\nnew line";
  v.devices[0].values.push_back({"voltage_ll_avg_v", "V", 1.0});  // same series again: written once
  v.devices[0].values.push_back({"weird_v", "V", std::nan("")});
  v.devices[0].values.push_back({"huge", "", HUGE_VAL});
  v.failure_counts.clear();
  std::string text = status::render_metrics(v);
  CHECK(text.find("device=\"back\\\\slash \\\"quoted\\\"\\nnew line\"") != std::string::npos);
  auto ex = prom::parse(text);
  for (const auto& e : ex.errors) FAIL_CHECK(e);
  const auto* value = ex.family("pm500_device_value");
  CHECK(value->value({{"device", v.devices[0].name}, {"name", "voltage_ll_avg_v"}}).value_or(NAN) == doctest::Approx(480.3));
  CHECK(std::isnan(*value->value({{"name", "weird_v"}})));
  CHECK(std::isinf(*value->value({{"name", "huge"}})));
  CHECK(ex.family("pm500_failure_active")->value({{"id", "eip.no_response"}}) == 1);
}

TEST_CASE("the strict parser rejects what Prometheus would reject or we forbid") {
  auto bad = [](const std::string& t) { return !prom::parse(t).ok(); };
  CHECK(bad("x 1\n"));                                                       // no HELP/TYPE
  CHECK(bad("# HELP x h\n# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n"));    // duplicate series
  CHECK(bad("# HELP x h\n# TYPE x gauge\nx{a=\"\\q\"} 1\n"));               // bad escape
  CHECK(bad("# HELP x h\n# TYPE x gauge\nx{a=\"1} 1\n"));                   // unterminated
  CHECK(bad("# HELP x h\n# TYPE x gauge\nx 1,5\n"));                        // value
  CHECK(bad("# HELP x h\n# TYPE x counter\nx -1\n"));                       // negative counter
  CHECK(bad("# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\nx 1\ny 1\nx{a=\"b\"} 1\n"));  // split
  CHECK(bad("# HELP x h\n# TYPE x gauge\nx 1"));                            // no final LF
  CHECK(bad("# HELP x h\n# TYPE x gauge\n# TYPE x gauge\nx 1\n"));          // TYPE twice
  CHECK(bad("# HELP x h\n# TYPE x gauge\nx{1a=\"b\"} 1\n"));                // label name
  CHECK(bad("# HELP x h\n# TYPE x gauge\nx{a=\"b\",a=\"c\"} 1\n"));         // label twice
  CHECK_FALSE(bad("# HELP x h \\\\ \\n\n# TYPE x gauge\nx{a=\"\\\"\\n\\\\\"} NaN\nx +Inf\n"));
}

TEST_CASE("render_ready: the configured rule, each failed check named") {
  auto v = sample_view();
  status::ReadyRule rule;  // 300 s, backlog 1,000,000, scanner required
  auto r = status::render_ready(v, rule);
  CHECK(r.ok);  // spooling for 60 s only; a meter that is down does not make the gateway unready
  Json ok(r.json);
  CHECK(str(ok.root["status"]) == "ready");
  CHECK(str(ok.root["devices"]["mcc-1"]["state"]) == "running");
  CHECK_FALSE(bool(ok.root["devices"][v.devices[1].name]["ok"]));
  CHECK(str(ok.root["sinks"]["influxdb"]["state"]) == "spooling");
  CHECK(bool(ok.root["scanner"]["ok"]));
  CHECK(str(ok.root["config"]["state"]) == "loaded");

  SUBCASE("a sink not delivering for longer than the limit") {
    rule.max_not_delivering_ms = 30'000;
    auto nr = status::render_ready(v, rule);
    CHECK_FALSE(nr.ok);
    Json j(nr.json);
    CHECK(str(j.root["status"]) == "not_ready");
    CHECK_FALSE(bool(j.root["sinks"]["influxdb"]["ok"]));
    CHECK(bool(j.root["sinks"]["file"]["ok"]));
    CHECK(str(j.root["reasons"].at(0)).find("sink influxdb has been spooling for 60 s (limit 30 s") == 0);
  }
  SUBCASE("a spool backlog above the limit, even while delivering") {
    v.sinks[1].state = "replaying";
    rule.max_backlog = 1000;
    auto nr = status::render_ready(v, rule);
    CHECK_FALSE(nr.ok);
    CHECK(nr.json.find("1800 samples in its spool (limit 1000") != std::string::npos);
    rule.max_backlog = 0;  // no limit
    CHECK(status::render_ready(v, rule).ok);
  }
  SUBCASE("the scanner not running, unless the rule does not require it") {
    v.scanner_running = false;
    CHECK_FALSE(status::render_ready(v, rule).ok);
    rule.requires_scanner = false;
    CHECK(status::render_ready(v, rule).ok);
  }
  SUBCASE("no configuration loaded") {
    v.config_file.clear();
    CHECK_FALSE(status::render_ready(v, rule).ok);
  }
  SUBCASE("live stays healthy whatever the dependencies") {
    v.scanner_running = false;
    v.sinks[1].state_since_ms = 1;
    auto live = status::render_live(v);
    CHECK(live.ok);
    Json j(live.json);
    CHECK(str(j.root["status"]) == "alive");
    CHECK_FALSE(bool(j.root["scanner"]["ok"]));
  }
}

TEST_CASE("[status] configuration: defaults, checks and the token never printed") {
  auto cfg = config::load_string("[status]\nlisten = \"0.0.0.0:9090\"\ntoken = \"s3cret\"\nready_max_spooling_s = 60\n",
                                 "t.toml", {});
  REQUIRE(cfg);
  CHECK(cfg->status.enabled);
  CHECK(cfg->status.listen == "0.0.0.0:9090");
  CHECK(cfg->status.token == "s3cret");
  auto rule = status::ReadyRule{};
  CHECK(rule.max_not_delivering_ms == 300'000);
  std::string dumped = config::dump(*cfg, {});
  CHECK(dumped.find("s3cret") == std::string::npos);
  CHECK(dumped.find("token = \"<redacted>\"") != std::string::npos);

  auto bad = config::load_string("[status]\nlisten = \"8080\"\nthreads = 0\nlisten_port = 1\n", "t.toml", {});
  REQUIRE_FALSE(bad);
  std::string all;
  for (const auto& d : bad.error()) all += d.str() + "\n";
  CHECK(all.find("t.toml:2:10: [status] listen = \"8080\" is not \"host:port\"") != std::string::npos);
  CHECK(all.find("threads = 0 is out of range 1..64") != std::string::npos);
  CHECK(all.find("unknown key \"listen_port\"") != std::string::npos);
  CHECK(config::load_string("[status]\nlisten = \"[::1]:8080\"\n", "t.toml", {}));
  CHECK_FALSE(config::load_string("[status]\nlisten = \"h:70000\"\n", "t.toml", {}));
}
