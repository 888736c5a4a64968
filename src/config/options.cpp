#include "config/options.hpp"

#include <charconv>
#include <cstdio>

namespace pm500::config {

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

static const char* type_word(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

void TableReader::finish() {
  std::vector<std::string> known(known_.begin(), known_.end());
  for (const auto& [k, node] : table_) {
    std::string key(k.str());
    if (known_.count(key)) continue;
    cx_.error(k.source().begin.line ? k.source() : node.source(), join(key),
              "unknown key \"" + key + "\"" + suggestion(key, known));
  }
}

namespace detail {

bool expect_type(const toml::node& n, toml::node_type want, Context& cx, const std::string& key_path) {
  if (n.type() == want) return true;
  cx.error(n.source(), key_path, "\"" + key_path.substr(key_path.rfind('.') + 1) + "\" must be " + type_word(want) +
                                     ", not " + type_word(n.type()));
  return false;
}

std::string show_double(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a TOML float
  return s;
}

bool get_string(const toml::node& n, Context& cx, const std::string& key_path, std::string& out) {
  if (!expect_type(n, toml::node_type::string, cx, key_path)) return false;
  return cx.substitute(n.as_string()->get(), n.source(), key_path, out);
}

}  // namespace detail
}  // namespace pm500::config
