// Options tables: every configurable component declares its keys once, in one table, and that
// table drives binding from TOML, defaults, range and type checks, unknown-key rejection with a
// suggestion, secret redaction, the effective-config dump and the generated docs.
//
//   struct FileSinkConfig { std::string path = "samples.lp"; std::int64_t max_mb = 64; };
//   const config::Options<FileSinkConfig>& options() {
//     static const config::Options<FileSinkConfig> o{
//         config::string("path", &FileSinkConfig::path, "Where samples are written."),
//         config::integer("max_mb", &FileSinkConfig::max_mb, 1, 4096, "Rotate after this size."),
//     };
//     return o;
//   }
//   config::TableReader r(cx, table, "sinks.file");
//   r.read(options(), cfg);
//   r.finish();  // reports every key no table claimed
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/diagnostics.hpp"

namespace pm500::config {

// One documented key. `bind` converts and checks a TOML node into the target; it reports
// problems through the context and returns false. `show` renders the current value as TOML.
template <class T>
struct Option {
  std::string key;
  std::string type;  // for humans: "string", "integer 1..65535", "one of: a, b"
  std::string help;
  bool secret = false;
  bool required = false;
  std::function<bool(T&, const toml::node&, Context&, const std::string& key_path)> bind;
  std::function<std::string(const T&)> show;
  std::string example;  // TOML text shown in the example file instead of the default

  Option&& secret_value() && { secret = true; return std::move(*this); }
  Option&& must() && { required = true; return std::move(*this); }
  Option&& eg(std::string toml_text) && { example = std::move(toml_text); return std::move(*this); }
};

template <class T>
using Options = std::vector<Option<T>>;

// A key as documentation sees it (type erased), for generated docs and example files.
struct OptionDoc {
  std::string key, type, help, default_value, example;
  bool secret = false, required = false;
};

template <class T>
std::vector<OptionDoc> describe(const Options<T>& opts, const T& defaults = T{}) {
  std::vector<OptionDoc> out;
  for (const auto& o : opts)
    out.push_back({o.key, o.type, o.help, o.required ? std::string() : o.show(defaults), o.example, o.secret, o.required});
  return out;
}

// Renders `key = value` lines for an effective-config dump; secrets become "<redacted>".
template <class T>
std::string dump(const Options<T>& opts, const T& value) {
  std::string s;
  for (const auto& o : opts) {
    std::string v = o.show(value);
    if (v.empty()) continue;  // unset optional value
    // Empty secrets stay visible (it matters that none is set); lists stay lists.
    bool hide = o.secret && v != "\"\"" && v != "[]";
    s += o.key + " = " + (!hide ? v : v.starts_with("[") ? std::string("[\"<redacted>\"]") : std::string("\"<redacted>\"")) + "\n";
  }
  return s;
}

std::string quote(std::string_view s);  // a TOML basic string, escaped

// Reads one TOML table against one or more option tables, remembering which keys were used.
class TableReader {
 public:
  TableReader(Context& cx, const toml::table& table, std::string path)
      : cx_(cx), table_(table), path_(std::move(path)) {}

  template <class T>
  void read(const Options<T>& opts, T& out) {
    for (const auto& o : opts) {
      known_.insert(o.key);
      const toml::node* n = table_.get(o.key);
      if (!n) {
        if (o.required) cx_.error(table_.source(), join(o.key), "missing required key \"" + o.key + "\" (" + o.help + ")");
        continue;
      }
      o.bind(out, *n, cx_, join(o.key));
    }
  }
  // Marks a key as handled by the caller (a sub-table or array read separately).
  void claim(std::string_view key) { known_.insert(std::string(key)); }
  // Reports every key that no option table claimed, with the closest known key as a hint.
  void finish();

  const toml::table& table() const { return table_; }
  const std::string& path() const { return path_; }
  Context& context() { return cx_; }
  std::string join(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }

 private:
  Context& cx_;
  const toml::table& table_;
  std::string path_;
  std::set<std::string> known_;
};

// ---- option constructors -------------------------------------------------------------------

// No configuration string may be longer than this (bytes, after ${VAR} substitution): paths,
// URLs, tokens and templates are far shorter; a longer value is a mistake (a file pasted in, a
// runaway variable), and it would be carried in every sample, log line or request.
inline constexpr std::size_t kMaxStringBytes = 65536;
// Names that become tag values, MQTT topic levels and metrics labels ([gateway] site,
// [[devices]] name and asset): at most this many characters.
inline constexpr std::size_t kMaxNameChars = 64;

namespace detail {
// Why `v` cannot be such a name ("" when it can), for the key `key_path`: valid UTF-8, 1..max_chars
// characters (0 too when allow_empty), no control characters, none of / + # (MQTT topic level
// separator and wildcards, which the MQTT sinks would replace by "_") or \ (line protocol's
// escape), no space at either end. `example` is a good value, shown in the fix.
std::string name_problem(const std::string& key_path, std::string_view v, std::size_t max_chars, bool allow_empty,
                         std::string_view example);
// Why `v` cannot be a one-line value such as an HTTP header field ("" when it can).
std::string single_line_problem(const std::string& key_path, std::string_view v);
// The first characters of `v`, quoted, with "..." when cut: for messages about huge values.
std::string preview(std::string_view v);
bool expect_type(const toml::node& n, toml::node_type want, Context& cx, const std::string& key_path);
std::string show_double(double v);
// The string at `n` after ${VAR} substitution; longer than max_bytes is an error naming the key.
bool get_string(const toml::node& n, Context& cx, const std::string& key_path, std::string& out,
                std::size_t max_bytes = kMaxStringBytes);
// "udp_port" from "scanner.udp_port", "assemblies[1]" from "devices[0].assemblies[1]".
inline std::string leaf(const std::string& key_path) { return key_path.substr(key_path.rfind('.') + 1); }
inline std::string out_of_range(const std::string& kp, const std::string& v, const std::string& lo, const std::string& hi) {
  return leaf(kp) + " = " + v + " is out of range " + lo + ".." + hi;
}
}  // namespace detail

// A string; `${VAR}` and `${VAR:-default}` are substituted from the environment.
template <class T>
Option<T> string(std::string key, std::string T::*m, std::string help) {
  return {key, "string", std::move(help), false, false,
          [m](T& t, const toml::node& n, Context& cx, const std::string& kp) { return detail::get_string(n, cx, kp, t.*m); },
          [m](const T& t) { return quote(t.*m); }, {}};
}

// A name that becomes a tag value, an MQTT topic level and a metrics label (detail::name_problem).
template <class T>
Option<T> name_string(std::string key, std::string T::*m, bool allow_empty, std::string example, std::string help) {
  std::string type = std::string("string of ") + (allow_empty ? "0" : "1") + ".." + std::to_string(kMaxNameChars) +
                     " characters, no control characters, / + # or \\, no space at either end";
  return {key, std::move(type), std::move(help), false, false,
          [m, allow_empty, example](T& t, const toml::node& n, Context& cx, const std::string& kp) {
            std::string v;
            // No byte limit here: the character limit below is far tighter and says why.
            if (!detail::get_string(n, cx, kp, v, std::string::npos)) return false;
            if (auto why = detail::name_problem(kp, v, kMaxNameChars, allow_empty, example); !why.empty()) {
              cx.error(n.source(), kp, std::move(why));
              return false;
            }
            t.*m = std::move(v);
            return true;
          },
          [m](const T& t) { return quote(t.*m); }, {}};
}

// A string restricted to a set of words.
template <class T>
Option<T> choice(std::string key, std::string T::*m, std::vector<std::string> words, std::string help) {
  std::string type = "one of:";
  for (const auto& w : words) type += " " + w;
  return {key, type, std::move(help), false, false,
          [m, words](T& t, const toml::node& n, Context& cx, const std::string& kp) {
            std::string v;
            if (!detail::get_string(n, cx, kp, v)) return false;
            for (const auto& w : words)
              if (w == v) { t.*m = v; return true; }
            std::string list;
            for (const auto& w : words) list += (list.empty() ? "" : ", ") + quote(w);
            cx.error(n.source(), kp, detail::leaf(kp) + " = \"" + v + "\" is not one of " + list + suggestion(v, words));
            return false;
          },
          [m](const T& t) { return quote(t.*m); }, {}};
}

// `why` (optional) follows the range in the error: why the limits are there and what to write.
template <class T, class I>
Option<T> integer(std::string key, I T::*m, std::int64_t lo, std::int64_t hi, std::string help, std::string why = {}) {
  return {key, "integer " + std::to_string(lo) + ".." + std::to_string(hi), std::move(help), false, false,
          [m, lo, hi, why](T& t, const toml::node& n, Context& cx, const std::string& kp) {
            if (!detail::expect_type(n, toml::node_type::integer, cx, kp)) return false;
            std::int64_t v = n.as_integer()->get();
            if (v < lo || v > hi) {
              cx.error(n.source(), kp,
                       detail::out_of_range(kp, std::to_string(v), std::to_string(lo), std::to_string(hi)) +
                           (why.empty() ? "" : ": " + why));
              return false;
            }
            t.*m = static_cast<I>(v);
            return true;
          },
          [m](const T& t) { return std::to_string(static_cast<std::int64_t>(t.*m)); }, {}};
}

// A floating-point number; integers are accepted too ("nominal_voltage = 480").
template <class T>
Option<T> number(std::string key, double T::*m, double lo, double hi, std::string help) {
  return {key, "number " + detail::show_double(lo) + ".." + detail::show_double(hi), std::move(help), false, false,
          [m, lo, hi](T& t, const toml::node& n, Context& cx, const std::string& kp) {
            double v;
            if (auto* i = n.as_integer()) v = static_cast<double>(i->get());
            else if (auto* f = n.as_floating_point()) v = f->get();
            else return detail::expect_type(n, toml::node_type::floating_point, cx, kp);
            if (!(v >= lo && v <= hi)) {
              cx.error(n.source(), kp, detail::out_of_range(kp, detail::show_double(v), detail::show_double(lo), detail::show_double(hi)));
              return false;
            }
            t.*m = v;
            return true;
          },
          [m](const T& t) { return detail::show_double(t.*m); }, {}};
}

template <class T>
Option<T> boolean(std::string key, bool T::*m, std::string help) {
  return {key, "boolean", std::move(help), false, false,
          [m](T& t, const toml::node& n, Context& cx, const std::string& kp) {
            if (!detail::expect_type(n, toml::node_type::boolean, cx, kp)) return false;
            t.*m = n.as_boolean()->get();
            return true;
          },
          [m](const T& t) { return std::string(t.*m ? "true" : "false"); }, {}};
}

template <class T, class I>
Option<T> integer_list(std::string key, std::vector<I> T::*m, std::int64_t lo, std::int64_t hi, std::string help) {
  return {key, "array of integers " + std::to_string(lo) + ".." + std::to_string(hi), std::move(help), false, false,
          [m, lo, hi](T& t, const toml::node& n, Context& cx, const std::string& kp) {
            if (!detail::expect_type(n, toml::node_type::array, cx, kp)) return false;
            std::vector<I> out;
            bool ok = true;
            std::size_t idx = 0;
            for (const auto& e : *n.as_array()) {
              std::string ep = kp + "[" + std::to_string(idx++) + "]";
              if (!detail::expect_type(e, toml::node_type::integer, cx, ep)) { ok = false; continue; }
              std::int64_t v = e.as_integer()->get();
              if (v < lo || v > hi) {
                cx.error(e.source(), ep, detail::out_of_range(ep, std::to_string(v), std::to_string(lo), std::to_string(hi)));
                ok = false;
                continue;
              }
              out.push_back(static_cast<I>(v));
            }
            if (ok) t.*m = std::move(out);
            return ok;
          },
          [m](const T& t) {
            std::string s = "[";
            for (std::size_t i = 0; i < (t.*m).size(); ++i) s += (i ? ", " : "") + std::to_string(static_cast<std::int64_t>((t.*m)[i]));
            return s + "]";
          }, {}};
}

template <class T>
Option<T> string_list(std::string key, std::vector<std::string> T::*m, std::string help) {
  return {key, "array of strings", std::move(help), false, false,
          [m](T& t, const toml::node& n, Context& cx, const std::string& kp) {
            if (!detail::expect_type(n, toml::node_type::array, cx, kp)) return false;
            std::vector<std::string> out;
            bool ok = true;
            std::size_t idx = 0;
            for (const auto& e : *n.as_array()) {
              std::string v;
              if (detail::get_string(e, cx, kp + "[" + std::to_string(idx++) + "]", v)) out.push_back(std::move(v));
              else ok = false;
            }
            if (ok) t.*m = std::move(out);
            return ok;
          },
          [m](const T& t) {
            std::string s = "[";
            for (std::size_t i = 0; i < (t.*m).size(); ++i) s += (i ? ", " : "") + quote((t.*m)[i]);
            return s + "]";
          }, {}};
}

// A key with its own parsing: `parse` gets the string value (after ${VAR} substitution) and
// returns an error message, or "" when it stored the value.
template <class T>
Option<T> custom_string(std::string key, std::string type, std::string help,
                        std::function<std::string(T&, const std::string&)> parse,
                        std::function<std::string(const T&)> show) {
  return {key, std::move(type), std::move(help), false, false,
          [parse](T& t, const toml::node& n, Context& cx, const std::string& kp) {
            std::string v;
            if (!detail::get_string(n, cx, kp, v)) return false;
            std::string err = parse(t, v);
            if (!err.empty()) { cx.error(n.source(), kp, err); return false; }
            return true;
          },
          std::move(show), {}};
}

}  // namespace pm500::config
