// The Sparkplug sink's options table and factory. The broker keys are the MQTT sink's own
// options (same checks, same documentation), less its topic and status keys.
#include <any>
#include <cstdlib>

#include "pipeline/sink_plugin.hpp"
#include "sinks/mqtt/probe.hpp"
#include "sinks/sparkplug/sparkplug_sink.hpp"

namespace pm500 {
namespace sinks::sparkplug {

namespace {

// An option of the MQTT sink's table, applied to the MQTT part of a SparkplugConfig.
config::Option<SparkplugConfig> broker_option(const config::Option<mqtt::MqttSinkConfig>& o) {
  config::Option<SparkplugConfig> r;
  r.key = o.key;
  r.type = o.type;
  r.help = o.help;
  r.secret = o.secret;
  r.required = o.required;
  r.example = o.example;
  r.bind = [b = o.bind](SparkplugConfig& c, const toml::node& n, config::Context& cx, const std::string& kp) {
    return b(c, n, cx, kp);
  };
  r.show = [s = o.show](const SparkplugConfig& c) { return s(c); };
  return r;
}

}  // namespace

const config::Options<SparkplugConfig>& sparkplug_options() {
  using C = SparkplugConfig;
  static const config::Options<C> o = [] {
    config::Options<C> v{
        config::name_string("group_id", &C::group_id, true, "\"plant-a\"",
                            "Sparkplug group id (topic spBv1.0/{group_id}/...); \"\" = the gateway's site."),
        config::name_string("edge_node_id", &C::edge_node_id, true, "\"pm500-gw-1\"",
                            "Sparkplug edge node id: the gateway; each meter is a device named by its device name. "
                            "\"\" = the gateway's site."),
        config::name_string("primary_host_id", &C::primary_host_id, true, "\"ignition-1\"",
                            "Primary host application: nothing is published until its STATE "
                            "(spBv1.0/STATE/{primary_host_id}) says online; while it is offline samples are "
                            "spooled and sent later with is_historical. \"\" = none."),
        config::choice("report", &C::report, {"exception", "all"},
                       "\"exception\": DDATA carries the values that changed beyond their unit's deadband; "
                       "\"all\": every value of every sample (every RPI)."),
        config::string_list("deadband", &C::deadband,
                            "Per unit, the change a value must exceed to be reported by exception, as "
                            "\"UNIT=AMOUNT\", e.g. [\"V=0.5\", \"A=0.05\", \"kW=0.5\"]; units not listed: any change."),
        config::integer("device_timeout_ms", &C::device_timeout_ms, 0, 3600000,
                        "A meter gets a DDEATH when the scanner reports its connection lost, or when it sends no "
                        "sample for this long (a connection that opens but stays silent); a DBIRTH when it returns. "
                        "0 = 4 x its RPI, at least 2000."),
        config::integer("host_offline_alert_s", &C::host_offline_alert_s, 1, 86400,
                        "A primary host offline this long raises mqtt.publish_failure on the status page."),
    };
    for (const auto& b : mqtt::mqtt_sink_options()) {
      if (b.key == "topic" || b.key == "pack" || b.key.starts_with("status_")) continue;
      auto x = broker_option(b);
      if (x.key == "client_id") x.help = "MQTT client id (not the Sparkplug edge node id).";
      if (x.key == "qos")
        x.help = "1 (default): a sample counts as delivered once the broker acknowledged it, so a broker restart "
                 "loses nothing; 0: as Sparkplug 3.0 asks for NBIRTH, DBIRTH, DDATA and DDEATH.";
      v.push_back(std::move(x));
    }
    return v;
  }();
  return o;
}

pm500::expected<std::map<std::string, double>, std::string> parse_deadbands(const std::vector<std::string>& entries) {
  std::map<std::string, double> out;
  for (const auto& e : entries) {
    const auto eq = e.find('=');
    char* end = nullptr;
    const std::string amount = eq == std::string::npos ? "" : e.substr(eq + 1);
    const double v = amount.empty() ? -1 : std::strtod(amount.c_str(), &end);
    if (eq == std::string::npos || amount.empty() || *end != '\0' || !(v >= 0))
      return pm500::unexpected("deadband entry \"" + e + "\": write UNIT=AMOUNT with an amount of 0 or more, e.g. \"V=0.5\"");
    out[e.substr(0, eq)] = v;
  }
  return out;
}

std::string validate(const SparkplugConfig& cfg) {
  if (auto e = mqtt::validate(cfg); !e.empty()) return e;
  if (auto d = parse_deadbands(cfg.deadband); !d) return d.error();
  return {};
}

}  // namespace sinks::sparkplug

extern const SinkPlugin sparkplug_sink_plugin;  // external linkage for the generated registry
const SinkPlugin sparkplug_sink_plugin{
    config::SinkSchema{
        "sparkplug",
        "The meters as Sparkplug B devices (edge node births and deaths, report by exception, primary host STATE).",
        [](config::TableReader& r) {
          sinks::sparkplug::SparkplugConfig c;
          r.read(sinks::sparkplug::sparkplug_options(), c);
          if (!c.url.empty())
            if (auto e = sinks::sparkplug::validate(c); !e.empty()) r.context().error(r.table().source(), r.path(), e);
          return std::any(c);
        },
        [](const std::any& a) {
          return config::dump(sinks::sparkplug::sparkplug_options(),
                              std::any_cast<const sinks::sparkplug::SparkplugConfig&>(a));
        },
        [] { return config::describe(sinks::sparkplug::sparkplug_options()); },
    },
    [](const config::SinkSection& section, const SinkEnv& env) -> pm500::expected<std::unique_ptr<Sink>, std::string> {
      const auto* cfg = std::any_cast<sinks::sparkplug::SparkplugConfig>(&section.settings);
      if (!cfg) return pm500::unexpected(std::string("sinks.sparkplug: settings were not read by the sparkplug sink's schema"));
      if (auto e = sinks::sparkplug::validate(*cfg); !e.empty()) return pm500::unexpected("sinks.sparkplug: " + e);
      return std::unique_ptr<Sink>(std::make_unique<sinks::sparkplug::SparkplugSink>(
          *cfg, env.catalog, env.conditions, env.state_dir, env.gateway_report));
    },
    [](const config::SinkSection& section, const SinkEnv&) -> std::vector<SinkProbeResult> {
      const auto* cfg = std::any_cast<sinks::sparkplug::SparkplugConfig>(&section.settings);
      if (!cfg) return {{SinkProbeResult::Result::fail, "settings", "not read by the sparkplug sink's schema", ""}};
      return sinks::mqtt::probe_mqtt(*cfg);
    },
};

}  // namespace pm500
