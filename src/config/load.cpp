#include <algorithm>
#include <cmath>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "config/config.hpp"

namespace pm500::config {
namespace {

const toml::table* sub_table(TableReader& parent, std::string_view key) {
  parent.claim(key);
  const toml::node* n = parent.table().get(key);
  if (!n) return nullptr;
  if (!n->is_table()) {
    parent.context().error(n->source(), parent.join(key), "\"" + std::string(key) + "\" must be a table ([" +
                                                              parent.join(key) + "])");
    return nullptr;
  }
  return n->as_table();
}

template <class T>
void read_section(TableReader& root, std::string_view key, const Options<T>& opts, T& out) {
  if (const toml::table* t = sub_table(root, key)) {
    TableReader r(root.context(), *t, std::string(key));
    r.read(opts, out);
    r.finish();
  }
}

void read_devices(TableReader& root, GatewayConfig& cfg) {
  Context& cx = root.context();
  root.claim("devices");
  const toml::node* n = root.table().get("devices");
  if (!n) return;
  const toml::array* arr = n->as_array();
  if (!arr || !arr->is_array_of_tables()) {
    cx.error(n->source(), "devices", "\"devices\" must be an array of tables: write each meter as [[devices]]");
    return;
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::table& t = *arr->get(i)->as_table();
    TableReader r(cx, t, "devices[" + std::to_string(i) + "]");
    DeviceSection d;
    r.read(device_options(), d);
    r.finish();
    if (!d.name.empty() && !names.insert(d.name).second)
      cx.error(t.source(), r.join("name"), "device name \"" + d.name + "\" is used twice; names must be unique");
    if (d.asset.empty()) d.asset = d.name;
    // A relative profile path is relative to this file, wherever the gateway runs.
    if (const auto dir = std::filesystem::path(cx.file()).parent_path();
        !d.profile.empty() && std::filesystem::path(d.profile).is_relative() && !dir.empty())
      d.profile = std::filesystem::absolute(dir / d.profile).lexically_normal().string();
    if (d.input_only_point != 0 && d.input_only_point == d.listen_only_point)
      cx.error(t.source(), r.join("listen_only_point"),
               "input_only_point and listen_only_point are both " + std::to_string(d.input_only_point) +
                   ": the device tells input-only and listen-only connections apart by them");
    if (d.poll_interval_ms == 0) d.poll_interval_ms = d.rpi_ms;
    if (d.assemblies.empty())
      cx.error(t.source(), r.join("assemblies"), "\"assemblies\" is empty: name at least one assembly to read");
    if (d.connection == "listen-only" && d.transport == "point-to-point") {
      // Allowed (some owners produce point-to-point), but the common Rockwell case is multicast.
    }
    cfg.devices.push_back(std::move(d));
  }
}

void read_sinks(TableReader& root, GatewayConfig& cfg, std::span<const SinkSchema> schemas) {
  Context& cx = root.context();
  const toml::table* sinks = sub_table(root, "sinks");
  if (!sinks) return;
  std::vector<std::string> names;
  for (const auto& s : schemas) names.push_back(s.name);
  for (const auto& [k, node] : *sinks) {
    std::string name(k.str());
    std::string path = "sinks." + name;
    const SinkSchema* schema = nullptr;
    for (const auto& s : schemas)
      if (s.name == name) schema = &s;
    if (!schema) {
      std::string list;
      for (const auto& s : names) list += (list.empty() ? "" : ", ") + s;
      cx.error(k.source(), path, "unknown sink \"" + name + "\"" + suggestion(name, names) + "; sinks: " + list);
      continue;
    }
    if (!node.is_table()) {
      cx.error(node.source(), path, "\"" + path + "\" must be a table ([" + path + "])");
      continue;
    }
    TableReader r(cx, *node.as_table(), path);
    SinkSection s;
    s.type = name;
    s.delivery = schema->delivery_defaults;
    r.read(delivery_options(), s.delivery);
    s.settings = schema->read(r);
    r.finish();
    cfg.sinks.push_back(std::move(s));
  }
}

LoadResult load_table(const toml::table& root_table, Context& cx, std::span<const SinkSchema> sinks) {
  GatewayConfig cfg;
  cfg.source_file = cx.file();
  TableReader root(cx, root_table, "");
  read_section(root, "gateway", gateway_options(), cfg.gateway);
  read_section(root, "logging", logging_options(), cfg.logging);
  read_section(root, "scanner", scanner_options(), cfg.scanner);
  read_section(root, "pipeline", pipeline_options(), cfg.pipeline);
  read_section(root, "simulator", simulator_options(), cfg.simulator);
  read_section(root, "status", status_options(), cfg.status);
  read_section(root, "alerts", alerts_options(), cfg.alerts);
  if (cfg.alerts.enabled && cfg.alerts.url.empty())
    cx.error(root_table.source(), "alerts.url",
             "[alerts] is enabled but has no url: set url to the webhook, or enabled = false");
  if (cfg.alerts.retry_initial_ms > cfg.alerts.retry_max_ms)
    cx.error(root_table.source(), "alerts.retry_initial_ms", "retry_initial_ms is larger than retry_max_ms");
  read_devices(root, cfg);
  read_sinks(root, cfg, sinks);
  root.finish();
  if (cfg.scanner.reconnect_initial_ms > cfg.scanner.reconnect_max_ms)
    cx.error(root_table.source(), "scanner.reconnect_initial_ms",
             "reconnect_initial_ms is larger than reconnect_max_ms");
  if (!cx.ok()) return pm500::unexpected(cx.errors());
  return cfg;
}

}  // namespace

LoadResult load_string(std::string_view text, const std::string& name, std::span<const SinkSchema> sinks,
                       EnvLookup env) {
  Context cx(name, std::move(env));
#if TOML_EXCEPTIONS
  try {
    toml::table t = toml::parse(text, name);
    return load_table(t, cx, sinks);
  } catch (const toml::parse_error& e) {
    cx.error(e.source(), "", std::string(e.description()));
    return pm500::unexpected(cx.errors());
  }
#else
  toml::parse_result r = toml::parse(text, name);
  if (!r) {
    cx.error(r.error().source(), "", std::string(r.error().description()));
    return pm500::unexpected(cx.errors());
  }
  return load_table(r.table(), cx, sinks);
#endif
}

LoadResult load_file(const std::string& path, std::span<const SinkSchema> sinks, EnvLookup env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Diagnostic d;
    d.file = path;
    d.message = "cannot read the configuration file (" + std::string(std::strerror(errno)) +
                "); pass an existing file with -c";
    return pm500::unexpected(std::vector<Diagnostic>{d});
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path, sinks, std::move(env));
}

double samples_per_second(const GatewayConfig& cfg) {
  double per_second = 0;
  for (const auto& d : cfg.devices) {
    const std::int64_t period = d.connection == "explicit" && d.poll_interval_ms > 0 ? d.poll_interval_ms : d.rpi_ms;
    if (period > 0) per_second += static_cast<double>(d.assemblies.size()) * 1000.0 / static_cast<double>(period);
  }
  return per_second;
}

std::size_t ring_capacity_for(const GatewayConfig& cfg) {
  if (cfg.pipeline.ring_capacity > 0) return static_cast<std::size_t>(cfg.pipeline.ring_capacity);
  const auto want = static_cast<std::uint64_t>(std::ceil(samples_per_second(cfg) * 2.0));
  return static_cast<std::size_t>(std::bit_ceil(std::clamp<std::uint64_t>(want, 4096, 4194304)));
}

std::string state_dir_hint(const std::string& path) {
  std::string dir = GatewaySection{}.state_dir;
  std::optional<std::string> v;
#if TOML_EXCEPTIONS
  try {
    toml::table t = toml::parse_file(path);
    v = t["gateway"]["state_dir"].value<std::string>();
  } catch (const toml::parse_error&) {
  }
#else
  toml::parse_result r = toml::parse_file(path);
  if (r) v = r.table()["gateway"]["state_dir"].value<std::string>();
#endif
  if (v) {
    // ${VAR} and ${VAR:-default} as the loader resolves them; a missing variable leaves the default.
    Context cx(path);
    std::string out;
    if (cx.substitute(*v, toml::source_region{}, "gateway.state_dir", out)) dir = out;
  }
  return dir;
}

std::string dump(const GatewayConfig& cfg, std::span<const SinkSchema> sinks) {
  std::string s = "# Effective configuration of " + cfg.source_file + " (defaults filled in, secrets redacted)\n";
  s += "\n[gateway]\n" + dump(gateway_options(), cfg.gateway);
  s += "\n[logging]\n" + dump(logging_options(), cfg.logging);
  s += "\n[scanner]\n" + dump(scanner_options(), cfg.scanner);
  s += "\n[pipeline]\n" + dump(pipeline_options(), cfg.pipeline);
  s += "\n[simulator]\n" + dump(simulator_options(), cfg.simulator);
  s += "\n[status]\n" + dump(status_options(), cfg.status);
  s += "\n[alerts]\n" + dump(alerts_options(), cfg.alerts);
  for (const auto& d : cfg.devices) s += "\n[[devices]]\n" + dump(device_options(), d);
  for (const auto& k : cfg.sinks) {
    s += "\n[sinks." + k.type + "]\n" + dump(delivery_options(), k.delivery);
    for (const auto& sc : sinks)
      if (sc.name == k.type) s += sc.dump(k.settings);
  }
  return s;
}

}  // namespace pm500::config
