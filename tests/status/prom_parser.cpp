#include "prom_parser.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

namespace pm500::test::prom {
namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }
bool label_start(char c) { return name_start(c) && c != ':'; }
bool label_char(char c) { return name_char(c) && c != ':'; }

bool valid_metric_name(const std::string& s) {
  if (s.empty() || !name_start(s[0])) return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

// Go's strconv.ParseFloat as Prometheus uses it, minus hex floats: a decimal number, or NaN,
// +Inf, -Inf, Inf.
bool parse_value(const std::string& s, double& out) {
  if (s == "NaN") { out = NAN; return true; }
  if (s == "+Inf" || s == "Inf") { out = INFINITY; return true; }
  if (s == "-Inf") { out = -INFINITY; return true; }
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && errno == 0;
}

struct Parser {
  Exposition ex;
  std::size_t line_no = 0;
  std::string current;               // family whose samples are being read
  std::set<std::string> finished;    // families that had samples and were left
  std::set<std::string> series;      // name + canonical labels, for duplicates

  void error(const std::string& m) { ex.errors.push_back("line " + std::to_string(line_no) + ": " + m); }

  void descriptor(const std::string& line) {
    // "# HELP name text" or "# TYPE name type"; other comments are ignored.
    if (line.size() < 7 || line.compare(0, 2, "# ") != 0) return;
    std::string kind = line.substr(2, 4);
    if ((kind != "HELP" && kind != "TYPE") || line[6] != ' ') return;
    std::size_t p = 7;
    std::size_t e = line.find(' ', p);
    std::string name = line.substr(p, e == std::string::npos ? std::string::npos : e - p);
    std::string rest = e == std::string::npos ? "" : line.substr(e + 1);
    if (!valid_metric_name(name)) return error("bad metric name in " + kind + ": \"" + name + "\"");
    if (finished.count(name) || (ex.families.count(name) && !ex.families[name].samples.empty()))
      return error(kind + " for " + name + " after its samples");
    Family& f = ex.families[name];
    if (kind == "HELP") {
      if (!f.help.empty()) return error("second HELP for " + name);
      std::string text;
      for (std::size_t i = 0; i < rest.size(); ++i) {
        if (rest[i] != '\\') { text += rest[i]; continue; }
        if (++i == rest.size()) return error("HELP of " + name + " ends in a backslash");
        if (rest[i] == '\\') text += '\\';
        else if (rest[i] == 'n') text += '\n';
        else return error(std::string("HELP of ") + name + " has an invalid escape \\" + rest[i]);
      }
      if (text.empty()) return error("empty HELP for " + name);
      f.help = text;
    } else {
      static const std::set<std::string> types{"counter", "gauge", "histogram", "summary", "untyped"};
      if (!f.type.empty()) return error("second TYPE for " + name);
      if (!types.count(rest)) return error("unknown TYPE \"" + rest + "\" for " + name);
      f.type = rest;
    }
  }

  void sample(const std::string& line) {
    std::size_t i = 0;
    while (i < line.size() && name_char(line[i])) ++i;
    std::string name = line.substr(0, i);
    if (!valid_metric_name(name)) return error("bad metric name \"" + name + "\"");
    Labels labels;
    if (i < line.size() && line[i] == '{') {
      ++i;
      for (;;) {
        if (i < line.size() && line[i] == '}') { ++i; break; }
        std::size_t s = i;
        if (i >= line.size() || !label_start(line[i])) return error("bad label name in " + name);
        while (i < line.size() && label_char(line[i])) ++i;
        std::string key = line.substr(s, i - s);
        if (key.rfind("__", 0) == 0) return error("reserved label name " + key);
        if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return error("expected =\" after " + key);
        i += 2;
        std::string value;
        for (;;) {
          if (i >= line.size()) return error("unterminated label value of " + key);
          char c = line[i++];
          if (c == '"') break;
          if (c != '\\') { value += c; continue; }
          if (i >= line.size()) return error("label value of " + key + " ends in a backslash");
          char n = line[i++];
          if (n == '\\') value += '\\';
          else if (n == '"') value += '"';
          else if (n == 'n') value += '\n';
          else return error(std::string("invalid escape \\") + n + " in label " + key);
        }
        if (!labels.emplace(key, value).second) return error("label " + key + " twice in " + name);
        if (i < line.size() && line[i] == ',') ++i;
        else if (i < line.size() && line[i] == '}') { ++i; break; }
        else return error("expected , or } after label " + key);
      }
    }
    if (i >= line.size() || line[i] != ' ') return error("expected a space before the value of " + name);
    std::string rest = line.substr(i + 1);
    std::size_t sp = rest.find(' ');
    std::string value_text = rest.substr(0, sp);
    double value;
    if (!parse_value(value_text, value)) return error("value \"" + value_text + "\" of " + name + " does not parse");
    if (sp != std::string::npos) {
      std::string ts = rest.substr(sp + 1);
      if (ts.empty() || ts.find_first_not_of("-0123456789") != std::string::npos)
        return error("bad timestamp \"" + ts + "\"");
    }

    auto it = ex.families.find(name);
    if (it == ex.families.end() || it->second.type.empty() || it->second.help.empty())
      return error("sample of " + name + " without HELP and TYPE before it");
    Family& f = it->second;
    if (f.type != "counter" && f.type != "gauge")
      return error("type " + f.type + " is not expected in this exposition");
    if (current != name) {
      if (finished.count(name)) return error("samples of " + name + " are not contiguous");
      if (!current.empty()) finished.insert(current);
      current = name;
    }
    if (f.type == "counter" && !(value >= 0)) return error("counter " + name + " is negative or NaN");
    std::string key = name;
    for (const auto& [k, v] : labels) key += "\x1f" + k + "\x1e" + v;
    if (!series.insert(key).second) return error("duplicate series " + line.substr(0, line.rfind(' ')));
    f.samples.push_back({std::move(labels), value});
  }
};

}  // namespace

std::optional<double> Family::value(const Labels& match) const {
  std::optional<double> found;
  for (const auto& s : samples) {
    bool all = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      all = all && it != s.labels.end() && it->second == v;
    }
    if (!all) continue;
    if (found) return std::nullopt;  // ambiguous
    found = s.value;
  }
  return found;
}

const Family* Exposition::family(const std::string& name) const {
  auto it = families.find(name);
  return it == families.end() ? nullptr : &it->second;
}

Exposition parse(const std::string& text) {
  Parser p;
  if (!text.empty() && text.back() != '\n') {
    p.line_no = 0;
    p.error("the text does not end with a line feed");
  }
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++p.line_no;
    if (line.empty()) continue;
    if (line.find('\r') != std::string::npos) p.error("carriage return in line");
    else if (line[0] == '#') p.descriptor(line);
    else p.sample(line);
  }
  for (const auto& [name, f] : p.ex.families)
    if (f.type.empty() || f.help.empty()) p.ex.errors.push_back(name + ": HELP or TYPE missing");
  return p.ex;
}

}  // namespace pm500::test::prom
