// Configuration diagnostics: every problem names file:line:column, the key path, and what to do.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

namespace pm500::config {

struct Diagnostic {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string key_path;  // "sinks.influxdb.token"; "" for syntax errors
  std::string message;

  // `gateway.toml:14:1: [sinks.influxdb] unknown key "tokne" (did you mean "token"?)`
  std::string str() const;
};

// Looks up environment variables; tests pass their own.
using EnvLookup = std::function<const char*(const char*)>;

// State shared while one file is loaded: where errors go and how ${VAR} resolves.
class Context {
 public:
  explicit Context(std::string file, EnvLookup env = nullptr);

  void error(const toml::source_region& at, std::string key_path, std::string message);
  const std::vector<Diagnostic>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }
  const std::string& file() const { return file_; }

  // Substitutes ${VAR} and ${VAR:-default}; "$$" is a literal "$". Reports a missing variable
  // naming it and the key, and returns false.
  bool substitute(std::string_view in, const toml::source_region& at, const std::string& key_path, std::string& out);

 private:
  std::string file_;
  EnvLookup env_;
  std::vector<Diagnostic> errors_;
};

// " (did you mean \"token\"?)" when a candidate is close enough, else "".
std::string suggestion(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace pm500::config
