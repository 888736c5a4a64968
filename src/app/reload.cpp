#include "app/reload.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "pipeline/sink_plugin.hpp"

namespace pm500::app {

std::optional<toml::table> parse_toml(const std::string& text, const std::string& name) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error&) {
    return std::nullopt;
  }
#else
  toml::parse_result r = toml::parse(text, name);
  if (!r) return std::nullopt;
  return std::move(r).table();
#endif
}

namespace {

bool same(const toml::node* a, const toml::node* b) {
  if (!a || !b) return a == b;
  return toml::node_view<const toml::node>(a) == toml::node_view<const toml::node>(b);
}

// The effective configuration (defaults filled in) as tables: a key written with its default
// value, or a ${VAR} naming another variable with the same value, is no change.
toml::table effective(const config::GatewayConfig& cfg) {
  return parse_toml(config::dump(cfg, sink_schemas()), cfg.source_file).value_or(toml::table{});
}

// Secrets are dumped as "<redacted>": for them the file's text decides.
bool redacted(const toml::node* n) {
  if (!n) return false;
  if (auto s = n->value<std::string_view>()) return *s == "<redacted>";
  if (const toml::table* t = n->as_table())
    for (const auto& [k, v] : *t)
      if (redacted(&v)) return true;
  if (const toml::array* a = n->as_array())
    for (const auto& v : *a)
      if (redacted(&v)) return true;
  return false;
}

// A value changed: its text in the file differs, and so does its effective value.
bool changed(const toml::node* raw_a, const toml::node* raw_b, const toml::node* eff_a, const toml::node* eff_b) {
  if (same(raw_a, raw_b)) return false;
  if (!eff_a || !eff_b || redacted(eff_a) || redacted(eff_b)) return true;
  return !same(eff_a, eff_b);
}

const toml::node* get(const toml::table* t, std::string_view key) {
  return t ? t->get(key) : nullptr;
}

const toml::table* table_at(const toml::table& root, std::string_view key) {
  const toml::node* n = root.get(key);
  return n ? n->as_table() : nullptr;
}

// The keys whose values changed between two tables of the files (either may be absent: no
// keys), judged with the effective tables ea and eb.
std::vector<std::string> changed_keys(const toml::table* a, const toml::table* b, const toml::table* ea,
                                      const toml::table* eb) {
  std::set<std::string> keys;
  for (const toml::table* t : {a, b})
    if (t)
      for (const auto& [k, v] : *t) keys.emplace(k.str());
  std::vector<std::string> out;
  for (const auto& k : keys)
    if (changed(get(a, k), get(b, k), get(ea, k), get(eb, k))) out.push_back(k);
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string s;
  for (const auto& e : v) s += (s.empty() ? "" : std::string(sep)) + e;
  return s;
}

// [[devices]] tables by their name.
std::map<std::string, const toml::table*> devices_by_name(const toml::table& root) {
  std::map<std::string, const toml::table*> out;
  const toml::node* n = root.get("devices");
  const toml::array* arr = n ? n->as_array() : nullptr;
  if (!arr) return out;
  for (const toml::node& e : *arr)
    if (const toml::table* t = e.as_table())
      if (auto name = (*t)["name"].value<std::string>()) out.emplace(*name, t);
  return out;
}

std::set<std::string> enabled_sinks(const config::GatewayConfig& cfg) {
  std::set<std::string> out;
  for (const auto& s : cfg.sinks)
    if (s.delivery.enabled) out.insert(s.type);
  return out;
}

const toml::table* sink_table(const toml::table& root, const std::string& name) {
  const toml::table* sinks = table_at(root, "sinks");
  return sinks ? table_at(*sinks, name) : nullptr;
}

}  // namespace

ReloadPlan plan_reload(const config::GatewayConfig& running, const toml::table& running_table,
                       const config::GatewayConfig& next, const toml::table& next_table) {
  ReloadPlan plan;
  const toml::table eff_a = effective(running), eff_b = effective(next);
  // The core sections: applied at start only, but for the log level.
  std::set<std::string> sections;
  for (const toml::table* t : {&running_table, &next_table})
    for (const auto& [k, v] : *t)
      if (k.str() != "devices" && k.str() != "sinks") sections.emplace(k.str());
  for (const auto& s : sections) {
    const toml::node* a = running_table.get(s);
    const toml::node* b = next_table.get(s);
    if (same(a, b)) continue;
    const toml::table* ta = a ? a->as_table() : nullptr;
    const toml::table* tb = b ? b->as_table() : nullptr;
    if ((a && !ta) || (b && !tb)) {
      plan.restart_needed.push_back(s);
      continue;
    }
    for (const auto& k : changed_keys(ta, tb, table_at(eff_a, s), table_at(eff_b, s))) {
      if (s == "logging" && k == "level")
        plan.log_level = next.logging.level;  // applies live
      else
        plan.restart_needed.push_back("[" + s + "] " + k);
    }
  }

  // Devices, by name (their order in the file does not matter).
  const auto was = devices_by_name(running_table), now = devices_by_name(next_table);
  const auto eff_was = devices_by_name(eff_a), eff_now = devices_by_name(eff_b);
  auto effective_device = [](const auto& by_name, const std::string& name) -> const toml::table* {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  };
  for (const auto& [name, t] : now) {
    auto it = was.find(name);
    if (it == was.end())
      plan.devices_added.push_back(name);
    else if (!changed_keys(it->second, t, effective_device(eff_was, name), effective_device(eff_now, name)).empty())
      plan.devices_changed.push_back(name);
  }
  for (const auto& [name, t] : was)
    if (!now.contains(name)) plan.devices_removed.push_back(name);

  // Sinks: a running sink whose table is unchanged keeps running.
  const auto before = enabled_sinks(running), after = enabled_sinks(next);
  for (const auto& name : after) {
    if (!before.contains(name))
      plan.sinks_added.push_back(name);
    else if (changed(sink_table(running_table, name), sink_table(next_table, name), sink_table(eff_a, name),
                     sink_table(eff_b, name)))
      plan.sinks_changed.push_back(name);
  }
  for (const auto& name : before)
    if (!after.contains(name)) plan.sinks_removed.push_back(name);
  return plan;
}

std::string ReloadOutcome::summary() const {
  if (at_ms == 0) return "no reload yet";
  if (refused)
    return "refused: " + std::to_string(errors.size()) + (errors.size() == 1 ? " error" : " errors") +
           " in the file; the running configuration is kept";
  std::string s = applied.empty() ? std::string("no change applied") : "applied: " + join(applied, "; ");
  if (!errors.empty()) s += "; failed: " + join(errors, "; ");
  if (!restart_needed.empty()) s += "; restart needed for: " + join(restart_needed, ", ");
  return s;
}

}  // namespace pm500::app
