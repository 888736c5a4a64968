// /health/live and /health/ready. Readiness is what a container HEALTHCHECK and an orchestrator
// act on, so its rule is explicit, configurable ([status] ready_*) and every failed check is
// spelled out in "reasons" with the number that crossed the limit.
#include <string>
#include <vector>

#include "status/detail/text.hpp"
#include "status/render.hpp"

namespace pm500::status {
namespace {

using detail::JsonWriter;

// How long the sink has been in its current state, in ms; 0 when not known.
std::int64_t state_age_ms(const SinkView& s, std::int64_t now_ms) {
  return s.state_since_ms > 0 && now_ms > s.state_since_ms ? now_ms - s.state_since_ms : 0;
}

struct SinkCheck {
  bool ok = true;
  std::string reason;
};

SinkCheck check_sink(const SinkView& s, std::int64_t now_ms, const ReadyRule& rule) {
  if (!sink_delivering(s.state) && rule.max_not_delivering_ms > 0) {
    std::int64_t age = state_age_ms(s, now_ms);
    if (age > rule.max_not_delivering_ms)
      return {false, "sink " + s.name + " has been " + s.state + " for " + std::to_string(age / 1000) +
                         " s (limit " + std::to_string(rule.max_not_delivering_ms / 1000) +
                         " s, [status] ready_max_spooling_s)" + (s.last_error.empty() ? "" : ": " + s.last_error)};
  }
  if (rule.max_backlog > 0 && s.spool_backlog > rule.max_backlog)
    return {false, "sink " + s.name + " has " + std::to_string(s.spool_backlog) + " samples in its spool (limit " +
                       std::to_string(rule.max_backlog) + ", [status] ready_max_backlog)"};
  return {};
}

// The dependency listing shared by both endpoints.
void write_dependencies(JsonWriter& w, const GatewayView& v, const ReadyRule* rule) {
  w.key("config");
  w.begin_object();
  w.field("state", v.config_file.empty() ? "not_loaded" : "loaded");
  w.field("ok", !v.config_file.empty());
  w.field("file", v.config_file);
  w.end_object();

  w.key("scanner");
  w.begin_object();
  w.field("state", v.scanner_running ? "running" : "stopped");
  w.field("ok", v.scanner_running);
  w.end_object();

  w.key("devices");
  w.begin_object();
  for (const auto& d : v.devices) {
    w.key(d.name);
    w.begin_object();
    w.field("state", d.state);
    w.field("ok", d.state == "running");
    w.field("connection", d.connection);
    w.end_object();
  }
  w.end_object();

  w.key("sinks");
  w.begin_object();
  for (const auto& s : v.sinks) {
    w.key(s.name);
    w.begin_object();
    w.field("state", s.state);
    w.field("ok", rule ? check_sink(s, v.now_ms, *rule).ok : sink_delivering(s.state));
    w.field("state_for_s", state_age_ms(s, v.now_ms) / 1000);
    w.field("spool_backlog", s.spool_backlog);
    w.end_object();
  }
  w.end_object();

  w.key("failures");
  w.begin_object();
  for (const auto& f : v.failures) {
    // Several subjects can share one failure mode; the listing names each mode once.
    bool seen = false;
    for (const auto& g : v.failures) {
      if (&g == &f) break;
      seen = seen || g.id == f.id;
    }
    if (!seen) w.field(f.id, f.level);
  }
  w.end_object();
}

}  // namespace

bool sink_delivering(std::string_view state) {
  return state == "delivering" || state == "replaying" || state == "idle";
}

HealthReport render_live(const GatewayView& v) {
  JsonWriter w;
  w.begin_object();
  w.field("status", "alive");
  w.field("uptime_s", v.now_ms > v.started_ms && v.started_ms > 0 ? (v.now_ms - v.started_ms) / 1000 : 0);
  write_dependencies(w, v, nullptr);
  w.end_object();
  return {true, w.take()};
}

HealthReport render_ready(const GatewayView& v, const ReadyRule& rule) {
  std::vector<std::string> reasons;
  if (v.config_file.empty()) reasons.push_back("the configuration is not loaded");
  if (rule.requires_scanner && !v.scanner_running)
    reasons.push_back("the EtherNet/IP scanner is not running ([status] ready_requires_scanner)");
  for (const auto& s : v.sinks)
    if (auto c = check_sink(s, v.now_ms, rule); !c.ok) reasons.push_back(std::move(c.reason));

  JsonWriter w;
  w.begin_object();
  w.field("status", reasons.empty() ? "ready" : "not_ready");
  w.key("reasons");
  w.begin_array();
  for (const auto& r : reasons) w.value(r);
  w.end_array();
  w.key("rule");
  w.begin_object();
  w.field("requires_scanner", rule.requires_scanner);
  w.field("max_not_delivering_s", rule.max_not_delivering_ms / 1000);
  w.field("max_backlog", rule.max_backlog);
  w.end_object();
  write_dependencies(w, v, &rule);
  w.end_object();
  return {reasons.empty(), w.take()};
}

}  // namespace pm500::status
