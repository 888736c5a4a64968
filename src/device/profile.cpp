#include "device/profile.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include <toml++/toml.h>

namespace pm500::device {

namespace {

template <class E, std::size_t N>
using Names = std::array<std::pair<std::string_view, E>, N>;

constexpr Names<WireType, 10> kTypes{{{"SINT", WireType::SINT},
                                      {"INT", WireType::INT},
                                      {"DINT", WireType::DINT},
                                      {"LINT", WireType::LINT},
                                      {"USINT", WireType::USINT},
                                      {"UINT", WireType::UINT},
                                      {"UDINT", WireType::UDINT},
                                      {"ULINT", WireType::ULINT},
                                      {"REAL", WireType::REAL},
                                      {"LREAL", WireType::LREAL}}};

constexpr Names<Quantity, 15> kKinds{{{"voltage_ln", Quantity::voltage_ln},
                                      {"voltage_ll", Quantity::voltage_ll},
                                      {"current", Quantity::current},
                                      {"active_power", Quantity::active_power},
                                      {"reactive_power", Quantity::reactive_power},
                                      {"apparent_power", Quantity::apparent_power},
                                      {"power_factor", Quantity::power_factor},
                                      {"frequency", Quantity::frequency},
                                      {"active_energy", Quantity::active_energy},
                                      {"reactive_energy", Quantity::reactive_energy},
                                      {"apparent_energy", Quantity::apparent_energy},
                                      {"counter", Quantity::counter},
                                      {"bit_field", Quantity::bit_field},
                                      {"info", Quantity::info},
                                      {"indicator", Quantity::indicator}}};

constexpr Names<Phase, 9> kPhases{{{"L1", Phase::l1},
                                   {"L2", Phase::l2},
                                   {"L3", Phase::l3},
                                   {"N", Phase::n},
                                   {"L1-L2", Phase::l1_l2},
                                   {"L2-L3", Phase::l2_l3},
                                   {"L3-L1", Phase::l3_l1},
                                   {"total", Phase::total},
                                   {"average", Phase::average}}};

constexpr Names<Direction, 2> kDirections{{{"import", Direction::import}, {"export", Direction::export_}}};

constexpr Names<Role, 6> kRoles{{{"realtime", Role::realtime},
                                 {"maximum", Role::maximum},
                                 {"demand", Role::demand},
                                 {"energy", Role::energy},
                                 {"info", Role::info},
                                 {"status", Role::status}}};

template <class E, std::size_t N>
std::string_view name_of(const Names<E, N>& names, E v) {
  for (const auto& [n, e] : names)
    if (e == v) return n;
  return "?";
}

template <class E, std::size_t N>
bool lookup(const Names<E, N>& names, std::string_view s, E& out) {
  for (const auto& [n, e] : names)
    if (n == s) {
      out = e;
      return true;
    }
  return false;
}

template <class E, std::size_t N>
std::string choices(const Names<E, N>& names) {
  std::string s;
  for (const auto& [n, e] : names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

struct UnitInfo {
  Quantity kind;
  std::string_view unit;
  double si;
};

// Units accepted per kind, with the factor to SI; plausibility works in SI so that a site
// profile in W or MW is checked as well as one in kW.
constexpr std::array<UnitInfo, 27> kUnits{{
    {Quantity::voltage_ln, "V", 1},
    {Quantity::voltage_ln, "kV", 1e3},
    {Quantity::voltage_ll, "V", 1},
    {Quantity::voltage_ll, "kV", 1e3},
    {Quantity::current, "A", 1},
    {Quantity::current, "kA", 1e3},
    {Quantity::active_power, "W", 1},
    {Quantity::active_power, "kW", 1e3},
    {Quantity::active_power, "MW", 1e6},
    {Quantity::reactive_power, "var", 1},
    {Quantity::reactive_power, "kvar", 1e3},
    {Quantity::reactive_power, "Mvar", 1e6},
    {Quantity::apparent_power, "VA", 1},
    {Quantity::apparent_power, "kVA", 1e3},
    {Quantity::apparent_power, "MVA", 1e6},
    {Quantity::power_factor, "", 1},
    {Quantity::frequency, "Hz", 1},
    {Quantity::active_energy, "Wh", 1},
    {Quantity::active_energy, "kWh", 1e3},
    {Quantity::active_energy, "MWh", 1e6},
    {Quantity::reactive_energy, "kvarh", 1e3},
    {Quantity::reactive_energy, "Mvarh", 1e6},
    {Quantity::apparent_energy, "kVAh", 1e3},
    {Quantity::apparent_energy, "MVAh", 1e6},
    {Quantity::counter, "h", 1},
    {Quantity::counter, "s", 1},
    {Quantity::counter, "", 1},
}};

bool unitless_kind(Quantity k) {
  return k == Quantity::bit_field || k == Quantity::info || k == Quantity::indicator;
}

// Phases an element of this kind may name; `required` when the kind must name one.
bool phase_allowed(Quantity k, Phase p, bool& required) {
  required = false;
  switch (k) {
    case Quantity::voltage_ln:
      required = true;
      return p == Phase::l1 || p == Phase::l2 || p == Phase::l3 || p == Phase::average;
    case Quantity::voltage_ll:
      required = true;
      return p == Phase::l1_l2 || p == Phase::l2_l3 || p == Phase::l3_l1 || p == Phase::average;
    case Quantity::current:
      required = true;
      return p == Phase::l1 || p == Phase::l2 || p == Phase::l3 || p == Phase::n || p == Phase::average;
    case Quantity::active_power:
    case Quantity::reactive_power:
    case Quantity::apparent_power:
    case Quantity::power_factor:
      required = true;
      return p == Phase::l1 || p == Phase::l2 || p == Phase::l3 || p == Phase::total;
    case Quantity::active_energy:
    case Quantity::reactive_energy:
    case Quantity::apparent_energy:
      return p == Phase::none || p == Phase::l1 || p == Phase::l2 || p == Phase::l3 || p == Phase::total;
    default:
      return p == Phase::none;
  }
}

bool is_energy(Quantity k) {
  return k == Quantity::active_energy || k == Quantity::reactive_energy || k == Quantity::apparent_energy;
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (char& c : o)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return o;
}

bool snake_case(std::string_view s) {
  if (s.empty() || s.size() > 63 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return s.back() != '_' && s.find("__") == std::string_view::npos;
}

constexpr Names<RealTimeHeader, 2> kHeaders{{{"none", RealTimeHeader::none}, {"run_idle", RealTimeHeader::run_idle}}};

class Loader {
 public:
  explicit Loader(std::string file) : file_(std::move(file)) {}

  void error(const toml::source_region& at, std::string key, std::string message) {
    errors_.push_back({file_, at.begin.line, at.begin.column, std::move(key), std::move(message)});
  }

  // Reports every key of `t` not in `known`.
  void unknown_keys(const toml::table& t, const std::string& path, std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : t) {
      bool ok = false;
      for (auto kk : known) ok = ok || kk == k.str();
      if (ok) continue;
      std::string list;
      for (auto kk : known) list += (list.empty() ? "" : ", ") + std::string(kk);
      error(k.source(), join(path, k.str()), "unknown key \"" + std::string(k.str()) + "\" (known: " + list + ")");
    }
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  const toml::node* get(const toml::table& t, std::string_view key, toml::node_type type, const std::string& path,
                        bool required) {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) error(t.source(), join(path, key), "missing required key \"" + std::string(key) + "\"");
      return nullptr;
    }
    if (n->type() != type && !(type == toml::node_type::floating_point && n->type() == toml::node_type::integer)) {
      std::ostringstream os;
      os << "must be a " << type << ", not a " << n->type();
      error(n->source(), join(path, key), os.str());
      return nullptr;
    }
    return n;
  }

  bool get_string(const toml::table& t, std::string_view key, const std::string& path, bool required,
                  std::string& out) {
    auto* n = get(t, key, toml::node_type::string, path, required);
    if (!n) return false;
    out = n->as_string()->get();
    return true;
  }

  template <class E, std::size_t N>
  bool get_word(const toml::table& t, std::string_view key, const std::string& path, bool required,
                const Names<E, N>& names, const char* what, E& out) {
    std::string s;
    if (!get_string(t, key, path, required, s)) return false;
    if (lookup(names, s, out)) return true;
    error(t.get(key)->source(), join(path, key), "\"" + s + "\" is not " + what + " (one of: " + choices(names) + ")");
    return false;
  }

  void element(const toml::table& t, const std::string& path, Assembly& a, std::set<std::string>& names) {
    unknown_keys(t, path, {"name", "type", "kind", "unit", "phase", "direction", "partial", "scale"});
    Element e;
    bool ok = get_string(t, "name", path, true, e.name);
    if (ok && !snake_case(e.name)) {
      error(t.get("name")->source(), join(path, "name"),
            "\"" + e.name + "\" is not a snake_case field name (a-z, 0-9, single '_', starting with a letter)");
      ok = false;
    }
    ok &= get_word(t, "type", path, true, kTypes, "a CIP data type", e.type);
    bool kind_ok = get_word(t, "kind", path, true, kKinds, "a quantity kind", e.kind);
    ok &= kind_ok;
    if (!get_string(t, "unit", path, true, e.unit)) ok = false;
    if (kind_ok && t.get("unit")) {
      bool found = false;
      std::string allowed;
      for (const auto& u : kUnits) {
        if (u.kind != e.kind) continue;
        allowed += (allowed.empty() ? "\"" : ", \"") + std::string(u.unit) + "\"";
        if (u.unit == e.unit) {
          e.si = u.si;
          found = true;
        }
      }
      if (unitless_kind(e.kind)) {
        found = e.unit.empty();
        allowed = "\"\"";
      }
      if (!found) {
        error(t.get("unit")->source(), join(path, "unit"),
              "unit \"" + e.unit + "\" does not fit kind " + std::string(to_string(e.kind)) + " (allowed: " + allowed +
                  ")");
        ok = false;
      } else if (!e.unit.empty() && ok) {
        // The unit is part of the stable field name, so a sink's user never guesses kW vs W.
        const std::string suffix = "_" + lower(e.unit);
        if (e.name.size() <= suffix.size() ||
            e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) != 0) {
          error(t.get("name")->source(), join(path, "name"),
                "\"" + e.name + "\" must end with \"" + suffix + "\" (its unit), e.g. \"voltage_l1_n_v\"");
          ok = false;
        }
      }
    }
    if (t.get("phase")) ok &= get_word(t, "phase", path, false, kPhases, "a phase", e.phase);
    if (kind_ok) {
      bool required = false;
      const bool allowed = phase_allowed(e.kind, e.phase, required);
      if (!t.get("phase") && required) {
        error(t.source(), join(path, "phase"), "kind " + std::string(to_string(e.kind)) + " needs a phase");
        ok = false;
      } else if (t.get("phase") && !allowed) {
        error(t.get("phase")->source(), join(path, "phase"),
              "phase \"" + std::string(to_string(e.phase)) + "\" does not fit kind " + std::string(to_string(e.kind)));
        ok = false;
      }
      if (is_energy(e.kind) && e.phase == Phase::none) e.phase = Phase::total;
    }
    if (t.get("direction")) {
      ok &= get_word(t, "direction", path, false, kDirections, "a direction", e.direction);
      if (kind_ok && e.kind != Quantity::active_energy && e.kind != Quantity::reactive_energy) {
        error(t.get("direction")->source(), join(path, "direction"),
              "only active_energy and reactive_energy have a direction");
        ok = false;
      }
    } else if (kind_ok && (e.kind == Quantity::active_energy || e.kind == Quantity::reactive_energy)) {
      error(t.source(), join(path, "direction"), "an energy counter needs direction = \"import\" or \"export\"");
      ok = false;
    }
    if (auto* n = get(t, "partial", toml::node_type::boolean, path, false)) {
      e.partial = n->as_boolean()->get();
      if (kind_ok && e.partial && !is_energy(e.kind) && e.kind != Quantity::counter) {
        error(n->source(), join(path, "partial"), "only energy and counter elements can be partial");
        ok = false;
      }
    }
    if (auto* n = get(t, "scale", toml::node_type::floating_point, path, false)) {
      e.scale = n->value<double>().value_or(0);
      if (!(e.scale > 0) || e.scale > 1e9) {
        error(n->source(), join(path, "scale"), "scale must be a positive number");
        ok = false;
      }
    }
    if (ok && !names.insert(e.name).second) {
      error(t.get("name")->source(), join(path, "name"), "duplicate element name \"" + e.name + "\"");
      ok = false;
    }
    if (ok && !unitless_kind(e.kind)) {
      // The model and the plausibility checks find a quantity by (kind, phase, direction,
      // partial); two elements with the same key would make one of them unreachable.
      for (const auto& o : a.elements) {
        if (o.kind == e.kind && o.phase == e.phase && o.direction == e.direction && o.partial == e.partial &&
            o.kind != Quantity::counter) {
          error(t.source(), path,
                "\"" + e.name + "\" measures the same quantity as \"" + o.name + "\" (" +
                    std::string(to_string(e.kind)) + " " + std::string(to_string(e.phase)) + ")");
          ok = false;
        }
      }
    }
    e.offset = a.size_bytes;
    a.size_bytes += static_cast<std::uint32_t>(wire_size(e.type));
    a.elements.push_back(std::move(e));
  }

  // An integer key in lo..hi; false (and an error naming the key and the range) otherwise.
  template <class T>
  bool get_uint(const toml::table& t, std::string_view key, const std::string& path, std::int64_t lo, std::int64_t hi,
                T& out) {
    auto* n = get(t, key, toml::node_type::integer, path, false);
    if (!n) return false;
    const auto v = n->as_integer()->get();
    if (v < lo || v > hi) {
      error(n->source(), join(path, key),
            std::to_string(v) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
      return false;
    }
    out = static_cast<T>(v);
    return true;
  }

  void identity(const toml::table& t, DeviceIdentity& id) {
    const std::string path = "identity";
    unknown_keys(t, path, {"vendor", "device_type", "product_codes", "product_name"});
    get_uint(t, "vendor", path, 1, 0xFFFF, id.vendor);
    get_uint(t, "device_type", path, 0, 0xFFFF, id.device_type);
    get_string(t, "product_name", path, false, id.product_name);
    if (auto* n = get(t, "product_codes", toml::node_type::array, path, false)) {
      id.product_codes.clear();
      std::size_t i = 0;
      for (const auto& c : *n->as_array()) {
        const std::string key = path + ".product_codes[" + std::to_string(i++) + "]";
        auto v = c.value<std::int64_t>();
        if (!c.is_integer() || !v || *v < 0 || *v > 0xFFFF) {
          error(c.source(), key, "a product code is an integer 0..65535");
          continue;
        }
        id.product_codes.push_back(static_cast<std::uint16_t>(*v));
      }
    }
  }

  void connection(const toml::table& t, ConnectionFormat& c) {
    const std::string path = "connection";
    unknown_keys(t, path, {"config_instance", "input_only_point", "listen_only_point", "t_o_header", "o_t_header"});
    get_uint(t, "config_instance", path, 1, 0xFFFF, c.config_instance);
    get_uint(t, "input_only_point", path, 1, 0xFFFF, c.input_only_point);
    get_uint(t, "listen_only_point", path, 1, 0xFFFF, c.listen_only_point);
    get_word(t, "t_o_header", path, false, kHeaders, "a real-time header", c.t_o_header);
    get_word(t, "o_t_header", path, false, kHeaders, "a real-time header", c.o_t_header);
    if (c.input_only_point == c.listen_only_point)
      error(t.source(), path + ".listen_only_point",
            "input_only_point and listen_only_point are both " + std::to_string(c.input_only_point) +
                ": a device tells the two kinds of connection apart by them");
  }

  // After the assemblies: every name must be one of their elements.
  void trend(const toml::table& t, Profile& p, const std::set<std::string>& names) {
    const std::string path = "trend";
    unknown_keys(t, path, {"values"});
    auto* n = get(t, "values", toml::node_type::array, path, true);
    if (!n) return;
    std::vector<std::string> values;
    std::size_t i = 0;
    for (const auto& v : *n->as_array()) {
      const std::string key = path + ".values[" + std::to_string(i++) + "]";
      const auto* s = v.as_string();
      if (!s) {
        error(v.source(), key, "a trended value is an element name (a string)");
        continue;
      }
      const std::string& name = s->get();
      if (!names.contains(name))
        error(v.source(), key, "\"" + name + "\" is no element of this profile's assemblies: add the element, or take the name out of the list");
      else if (std::find(values.begin(), values.end(), name) != values.end())
        error(v.source(), key, "\"" + name + "\" is listed twice");
      else
        values.push_back(name);
    }
    if (n->as_array()->size() > kMaxTrendValues)
      error(n->source(), path + ".values",
            std::to_string(n->as_array()->size()) + " values, more than the limit of " +
                std::to_string(kMaxTrendValues) + " per meter (each keeps 4.9 KB of history)");
    p.trend = std::move(values);
  }

  void assembly(const toml::key& key, const toml::table& t, Profile& p, std::set<std::string>& names) {
    const std::string path = "assembly." + std::string(key.str());
    unsigned inst = 0;
    auto ks = key.str();
    auto [ptr, ec] = std::from_chars(ks.data(), ks.data() + ks.size(), inst);
    if (ec != std::errc() || ptr != ks.data() + ks.size() || inst < kFirstAssembly || inst > kLastAssembly) {
      error(key.source(), path,
            "assembly instance \"" + std::string(ks) +
                "\" must be a number 100..108 (the PowerMonitor 500's data assemblies)");
      return;
    }
    unknown_keys(t, path, {"title", "role", "size_bytes", "elements"});
    Assembly& a = p.assemblies[inst - kFirstAssembly];
    a.instance = static_cast<std::uint16_t>(inst);
    get_string(t, "title", path, false, a.title);
    get_word(t, "role", path, true, kRoles, "an assembly role", a.role);
    const toml::node* elems = get(t, "elements", toml::node_type::array, path, true);
    if (elems) {
      std::size_t i = 0;
      for (const auto& n : *elems->as_array()) {
        const std::string ep = path + ".elements[" + std::to_string(i++) + "]";
        if (!n.is_table()) {
          error(n.source(), ep, "an element must be a table { name = ..., type = ..., kind = ..., unit = ... }");
          continue;
        }
        element(*n.as_table(), ep, a, names);
      }
      if (a.elements.empty()) error(elems->source(), path + ".elements", "an assembly needs at least one element");
      if (a.elements.size() > kMaxSampleValues * kMaxSampleParts)
        error(elems->source(), path + ".elements",
              std::to_string(a.elements.size()) + " elements, more than the limit of " +
                  std::to_string(kMaxSampleValues * kMaxSampleParts) +
                  " per assembly (" + std::to_string(kMaxSampleParts) + " records of " +
                  std::to_string(kMaxSampleValues) + " values); describe the data as more than one assembly");
      a.plain_real = !a.elements.empty() && std::all_of(a.elements.begin(), a.elements.end(), [](const Element& e) {
        return e.type == WireType::REAL && e.scale == 1.0;
      });
      if (a.elements.size() <= kMaxSampleValues * kMaxSampleParts) split_parts(a);
    }
    if (auto* n = get(t, "size_bytes", toml::node_type::integer, path, false)) {
      const auto declared = n->as_integer()->get();
      if (elems && declared != static_cast<std::int64_t>(a.size_bytes))
        error(n->source(), path + ".size_bytes",
              "declared " + std::to_string(declared) + " bytes but the elements add up to " +
                  std::to_string(a.size_bytes) + " bytes (" + std::to_string(a.elements.size()) +
                  " elements): an element is missing, extra, or of the wrong type");
    }
  }

  ProfileResult load(std::string_view text) {
    Profile p;
    p.source = file_;
    toml::table root;
#if TOML_EXCEPTIONS
    try {
      root = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      error(e.source(), "", std::string(e.description()));
      return pm500::unexpected(std::move(errors_));
    }
#else
    toml::parse_result r = toml::parse(text, file_);
    if (!r) {
      error(r.error().source(), "", std::string(r.error().description()));
      return pm500::unexpected(std::move(errors_));
    }
    root = std::move(r).table();
#endif
    unknown_keys(root, "", {"format", "name", "description", "identity", "connection", "assembly", "trend"});
    if (auto* n = get(root, "format", toml::node_type::integer, "", true); n && n->as_integer()->get() != 1)
      error(n->source(), "format",
            "unsupported profile format " + std::to_string(n->as_integer()->get()) + " (this gateway reads format 1)");
    get_string(root, "name", "", true, p.name);
    std::string description;  // for people reading the file; checked so a typo in its type is caught
    get_string(root, "description", "", false, description);
    if (auto* n = get(root, "identity", toml::node_type::table, "", false)) identity(*n->as_table(), p.identity);
    if (auto* n = get(root, "connection", toml::node_type::table, "", false))
      connection(*n->as_table(), p.connection);
    std::set<std::string> names;
    if (auto* n = get(root, "assembly", toml::node_type::table, "", true)) {
      for (const auto& [k, v] : *n->as_table()) {
        if (!v.is_table()) {
          error(v.source(), "assembly." + std::string(k.str()),
                "must be a table [assembly." + std::string(k.str()) + "]");
          continue;
        }
        assembly(k, *v.as_table(), p, names);
      }
    }
    if (auto* n = get(root, "trend", toml::node_type::table, "", false)) trend(*n->as_table(), p, names);
    if (!errors_.empty()) return pm500::unexpected(std::move(errors_));
    return p;
  }

 private:
  std::string file_;
  std::vector<ProfileError> errors_;
};

}  // namespace

std::string_view to_string(WireType t) {
  return name_of(kTypes, t);
}
std::string_view to_string(Quantity q) {
  return name_of(kKinds, q);
}
std::string_view to_string(Phase p) {
  return p == Phase::none ? "" : name_of(kPhases, p);
}
std::string_view to_string(Direction d) {
  return d == Direction::none ? "" : name_of(kDirections, d);
}
std::string_view to_string(Role r) {
  return name_of(kRoles, r);
}
std::string_view to_string(RealTimeHeader h) {
  return name_of(kHeaders, h);
}

std::size_t wire_size(WireType t) {
  switch (t) {
    case WireType::SINT:
    case WireType::USINT:
      return 1;
    case WireType::INT:
    case WireType::UINT:
      return 2;
    case WireType::DINT:
    case WireType::UDINT:
    case WireType::REAL:
      return 4;
    case WireType::LINT:
    case WireType::ULINT:
    case WireType::LREAL:
      return 8;
  }
  return 0;
}

RatioUse ratio_use(Quantity q) {
  switch (q) {
    case Quantity::voltage_ln:
    case Quantity::voltage_ll:
      return RatioUse::pt;
    case Quantity::current:
      return RatioUse::ct;
    case Quantity::active_power:
    case Quantity::reactive_power:
    case Quantity::apparent_power:
    case Quantity::active_energy:
    case Quantity::reactive_energy:
    case Quantity::apparent_energy:
      return RatioUse::ct_pt;
    default:
      return RatioUse::none;
  }
}

bool keeps_double_after_scaling(Quantity q) {
  return q == Quantity::active_energy || q == Quantity::reactive_energy || q == Quantity::apparent_energy;
}

bool float_after_scaling(const Element& e) { return e.type == WireType::REAL && !keeps_double_after_scaling(e.kind); }

std::string ProfileError::str() const {
  std::string s = file;
  if (line) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

ProfileResult load_profile_string(std::string_view text, const std::string& source_name) {
  return Loader(source_name).load(text);
}

ProfileResult load_profile_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return pm500::unexpected(
        std::vector<ProfileError>{{path, 0, 0, "", "cannot read the device profile (missing file or no permission)"}});
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_profile_string(ss.str(), path);
}

ProfileResult load_profile_for(const std::string& path_or_empty) {
  if (path_or_empty.empty()) return builtin_profile();
  return load_profile_file(path_or_empty);
}

const Profile& builtin_profile() {
  static const Profile p = [] {
    auto r = load_profile_string(builtin_profile_text(), "<built-in powermonitor500.toml>");
    // The built-in text is tested; a broken one must not start a gateway that decodes garbage.
    if (!r) {
      for (const auto& e : r.error()) std::fprintf(stderr, "%s\n", e.str().c_str());
      std::abort();
    }
    return std::move(*r);
  }();
  return p;
}

pm500::expected<void, std::string> check_assembly_size(const Profile& p, std::uint16_t assembly,
                                                       std::uint32_t meter_size_bytes, std::string_view device) {
  const Assembly* a = p.assembly(assembly);
  const std::string who = std::string(device) + ": assembly " + std::to_string(assembly);
  if (!a)
    return pm500::unexpected(who + " is not described by the profile " + p.source +
                             ": remove it from the device's assemblies or add it to the profile");
  if (a->size_bytes == meter_size_bytes) return {};
  return pm500::unexpected(
      who + " is " + std::to_string(meter_size_bytes) + " bytes on the meter (attribute 4) but the profile " +
      p.source + " describes " + std::to_string(a->size_bytes) + " bytes (" + std::to_string(a->elements.size()) +
      " elements): the profile does not match this meter's firmware; its values are not decoded until the "
      "profile's element list is corrected against the meter manual (1420-UM001, Appendix A)");
}

namespace {

pm500::FieldInfo field_info(const Element& e) {
  using T = pm500::FieldInfo::Type;
  pm500::FieldInfo f;
  f.unit = e.unit;
  switch (ratio_use(e.kind)) {
    case RatioUse::none: f.ratio = pm500::FieldInfo::Ratio::none; break;
    case RatioUse::pt: f.ratio = pm500::FieldInfo::Ratio::pt; break;
    case RatioUse::ct: f.ratio = pm500::FieldInfo::Ratio::ct; break;
    case RatioUse::ct_pt: f.ratio = pm500::FieldInfo::Ratio::ct_pt; break;
  }
  // An integer stays one only when nothing multiplies it (no scale, no ratio).
  const bool integral = e.scale == 1.0 && f.ratio == pm500::FieldInfo::Ratio::none;
  switch (e.type) {
    case WireType::REAL: f.type = float_after_scaling(e) ? T::float32 : T::float64; break;
    case WireType::LREAL: f.type = T::float64; break;
    case WireType::SINT: f.type = integral ? T::int8 : T::float64; break;
    case WireType::INT: f.type = integral ? T::int16 : T::float64; break;
    case WireType::DINT: f.type = integral ? T::int32 : T::float64; break;
    case WireType::LINT: f.type = integral ? T::int64 : T::float64; break;
    case WireType::USINT: f.type = integral ? T::uint8 : T::float64; break;
    case WireType::UINT: f.type = integral ? T::uint16 : T::float64; break;
    case WireType::UDINT: f.type = integral ? T::uint32 : T::float64; break;
    case WireType::ULINT: f.type = integral ? T::uint64 : T::float64; break;
  }
  return f;
}

}  // namespace

std::array<pm500::FieldList, kAssemblySlots> field_names(const Profile& p) {
  std::array<pm500::FieldList, kAssemblySlots> out;
  for (std::size_t i = 0; i < kAssemblySlots; ++i) {
    std::vector<std::string> names;
    for (const auto& e : p.assemblies[i].elements) names.push_back(e.name);
    out[i] = std::move(names);
  }
  return out;
}

void fill_field_names(const Profile& p, pm500::DeviceMeta& meta,
                      const std::array<pm500::FieldList, kAssemblySlots>* names) {
  meta.fields = names ? *names : field_names(p);
  for (std::size_t i = 0; i < kAssemblySlots; ++i) {
    auto& info = meta.info[i];
    info.clear();
    meta.titles[i] = p.assemblies[i].title;
    for (const auto& e : p.assemblies[i].elements) info.push_back(field_info(e));
  }
}

void split_parts(Assembly& a) {
  a.parts.clear();
  const std::size_t n = sample_parts(a.elements.size());
  if (n <= 1) return;
  a.parts.reserve(n);
  for (std::size_t p = 0; p < n; ++p) {
    Assembly& v = a.parts.emplace_back();
    v.instance = a.instance;
    v.title = a.title;
    v.role = a.role;
    v.plain_real = a.plain_real;
    v.size_bytes = a.size_bytes;
    const std::size_t first = p * kMaxSampleValues;
    const std::size_t last = std::min(a.elements.size(), first + kMaxSampleValues);
    v.elements.assign(a.elements.begin() + static_cast<std::ptrdiff_t>(first),
                      a.elements.begin() + static_cast<std::ptrdiff_t>(last));
  }
}

}  // namespace pm500::device
