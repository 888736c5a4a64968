#include "config/diagnostics.hpp"

#include <algorithm>
#include <cstdlib>

namespace pm500::config {

std::string Diagnostic::str() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  // Show the table the key belongs to in brackets, the way it is written in the file.
  if (auto dot = key_path.rfind('.'); dot != std::string::npos) s += "[" + key_path.substr(0, dot) + "] ";
  return s + message;
}

Context::Context(std::string file, EnvLookup env) : file_(std::move(file)), env_(std::move(env)) {
  if (!env_) env_ = [](const char* name) -> const char* { return std::getenv(name); };
}

void Context::error(const toml::source_region& at, std::string key_path, std::string message) {
  errors_.push_back({file_, at.begin.line, at.begin.column, std::move(key_path), std::move(message)});
}

bool Context::substitute(std::string_view in, const toml::source_region& at, const std::string& key_path,
                         std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '$' || i + 1 >= in.size()) {
      out += c;
      continue;
    }
    if (in[i + 1] == '$') {  // "$$" is a literal dollar sign
      out += '$';
      ++i;
      continue;
    }
    if (in[i + 1] != '{') {
      out += c;
      continue;
    }
    auto close = in.find('}', i + 2);
    if (close == std::string_view::npos) {
      error(at, key_path, "unterminated \"${\" in value; write \"$$\" for a literal dollar sign");
      return false;
    }
    std::string_view body = in.substr(i + 2, close - i - 2);
    std::string_view name = body;
    std::string_view fallback;
    bool has_default = false;
    if (auto d = body.find(":-"); d != std::string_view::npos) {
      name = body.substr(0, d);
      fallback = body.substr(d + 2);
      has_default = true;
    }
    bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
      return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    });
    if (!valid) {
      error(at, key_path, "\"${" + std::string(body) + "}\" is not a valid variable reference; use ${NAME} or ${NAME:-default}");
      return false;
    }
    std::string n(name);
    const char* v = env_(n.c_str());
    if (v && *v) {
      out += v;
    } else if (has_default) {
      out += fallback;
    } else {
      error(at, key_path,
            "environment variable " + n + " is not set (needed by \"" + key_path + "\"); set it (in a container: in "
            "the .env file or the service's environment), or write ${" + n + ":-default}");
      return false;
    }
    i = close;
  }
  return true;
}

static std::size_t damerau(std::string_view a, std::string_view b) {
  // Optimal string alignment distance: edit distance plus adjacent transpositions.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string suggestion(std::string_view word, const std::vector<std::string>& candidates) {
  std::size_t best = std::string_view::npos;
  const std::string* pick = nullptr;
  for (const auto& c : candidates) {
    std::size_t d = damerau(word, c);
    if (d < best) {
      best = d;
      pick = &c;
    }
  }
  // Close enough: at most a third of the word's letters differ (and at least one may).
  std::size_t limit = std::max<std::size_t>(1, word.size() / 3);
  if (!pick || best > limit) return {};
  return " (did you mean \"" + *pick + "\"?)";
}

}  // namespace pm500::config
