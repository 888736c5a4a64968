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

bool get_string(const toml::node& n, Context& cx, const std::string& key_path, std::string& out, std::size_t max_bytes) {
  if (!expect_type(n, toml::node_type::string, cx, key_path)) return false;
  if (!cx.substitute(n.as_string()->get(), n.source(), key_path, out)) return false;
  if (out.size() > max_bytes) {
    const bool from_env = n.as_string()->get().find("${") != std::string::npos;
    cx.error(n.source(), key_path,
             leaf(key_path) + " = " + preview(out) + " is " + std::to_string(out.size()) + " bytes long" +
                 (from_env ? " (after ${VAR} substitution)" : "") + "; no configuration string may exceed " +
                 std::to_string(max_bytes) +
                 " bytes: shorten it (a file's content pasted in by mistake? name the file instead)");
    out.clear();
    return false;
  }
  return true;
}

std::string preview(std::string_view v) {
  // Cut at a character boundary, never inside a UTF-8 sequence.
  constexpr std::size_t keep = 24;
  std::size_t cut = 0, chars = 0;
  while (cut < v.size() && chars < keep) {
    ++cut;
    while (cut < v.size() && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) ++cut;
    ++chars;
  }
  return cut < v.size() ? quote(v.substr(0, cut)) + "..." : quote(v);
}

namespace {

// Decodes one UTF-8 character at v[i] (advancing i); false on an invalid sequence (overlong,
// surrogate, above U+10FFFF, truncated).
bool next_char(std::string_view v, std::size_t& i, std::uint32_t& cp) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(v[k]); };
  const unsigned char c = b(i);
  std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > v.size()) return false;
  cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b(i + k) & 0x3Fu);
  }
  static constexpr std::uint32_t min_of_len[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_of_len[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  i += len;
  return true;
}

std::string code_point(std::uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

bool is_control(std::uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

std::string name_problem(const std::string& key_path, std::string_view v, std::size_t max_chars, bool allow_empty,
                         std::string_view example) {
  const std::string key = leaf(key_path);
  const std::string fix_example = "; for example " + quote(example);
  if (v.empty()) {
    if (allow_empty) return {};
    return key + " is empty: every sample is tagged with it and MQTT topics contain it" + fix_example;
  }
  std::size_t chars = 0;
  for (std::size_t i = 0; i < v.size();) {
    const std::size_t at = i;
    std::uint32_t cp = 0;
    if (!next_char(v, i, cp)) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(v[at])));
      return key + " = " + preview(v) + " is not valid UTF-8 (byte " + hex + " at byte " + std::to_string(at + 1) +
             "): write it in UTF-8";
    }
    ++chars;
    if (is_control(cp)) {
      return key + " = " + preview(v) + " contains the control character " + code_point(cp) + " (character " +
             std::to_string(chars) +
             "): line feeds, tabs and other control characters break InfluxDB line protocol and log lines; "
             "remove it";
    }
    if (cp == '/' || cp == '+' || cp == '#') {
      return key + " = " + preview(v) + " contains \"" + std::string(1, static_cast<char>(cp)) + "\" (character " +
             std::to_string(chars) + "): " +
             (cp == '/' ? "it separates MQTT topic levels" : "it is an MQTT topic wildcard") +
             ", so the MQTT sinks would publish \"_\" instead and two names could share a topic; use letters, "
             "digits, spaces and - _ . : instead" + fix_example;
    }
    if (cp == '\\') {
      return key + " = " + preview(v) + " contains a backslash (character " + std::to_string(chars) +
             "): it is the escape character of InfluxDB line protocol and of Prometheus labels; use letters, "
             "digits, spaces and - _ . : instead" + fix_example;
    }
  }
  if (chars > max_chars) {
    return key + " = " + preview(v) + " is " + std::to_string(chars) + " characters long; at most " +
           std::to_string(max_chars) +
           " are allowed, because it is written as a tag on every sample and into MQTT topics (AWS IoT Core "
           "allows 256 bytes per topic) and metrics labels: shorten it" + fix_example;
  }
  if (v.front() == ' ' || v.back() == ' ') {
    return key + " = " + quote(v) + " " + (v.front() == ' ' ? "starts" : "ends") +
           " with a space, which tags and topics would carry invisibly: remove it";
  }
  return {};
}

std::string single_line_problem(const std::string& key_path, std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7F) {
      return leaf(key_path) + " = " + preview(v) + " contains the control character " + code_point(c) +
             " (byte " + std::to_string(i + 1) + "): it must be one line of text (it is sent as an HTTP header); "
             "remove it";
    }
  }
  return {};
}

}  // namespace detail
}  // namespace pm500::config
