// Docs that cannot rot: every file, command and configuration key that README.md,
// ARCHITECTURE.md and docs/*.md name must exist. The rules are narrow on purpose, so prose
// never trips them; what they do not cover is said here.
//
// Files
//   - A Markdown link target that is not a URL or an anchor ([text](target)) is a file or
//     folder relative to the document's own folder ("#section" is cut off).
//   - A word that starts with one of the repository's top-level folders and a slash
//     (src/..., sinks/..., tools/..., packaging/...) is a path relative to the repository: it
//     must exist; a `*` in it is a glob that must match at least one file. Words with a
//     placeholder (<name>, {x}) are skipped; absolute paths (/etc/..., installed locations) and
//     build/ (made by the build) are not looked at.
//   - A plain file name ending in .md (pm500-facts.md) must be a file somewhere in the
//     repository.
// Commands (inline code spans and fenced code blocks only, where commands are written)
//   - `pm500-gateway WORD` at the start of a code span or of a line in a fenced block: WORD is
//     one of its subcommands or options; elsewhere (an image name: `podman run ... pm500-gateway
//     check`) it is a command only when WORD is a subcommand. After a subcommand, every
//     -x/--option up to a |, ;, & or the end of the line is an option that subcommand's --help
//     lists. The program's own --help is the source.
//   - An inline code span that is only an option (`--offline`, `--seconds N`) must be an option
//     of some subcommand, in a paragraph about the gateway (one with a code span that starts
//     with pm500-gateway or a subcommand and its arguments); other paragraphs and table rows
//     name other programs' options (podman's `--env-file`).
// Configuration (inline code spans and prose; not fenced blocks, which quote error messages)
//   - `[table] key` (also followed by "= value") in a code span names a key of that table,
//     checked against the options tables the configuration loader reads (src/config and each
//     sink's schema); in prose only `[table] key =` is read as a key ("in [sinks.mqtt] and").
//   - `[table]`, `[[devices]]` or `[sinks.name]` alone must be a table; the placeholders
//     [table] and [section] are skipped.
//   - A bare `key` is not checked: the same snake_case words name JSON fields and metrics.
#include <doctest/doctest.h>

#include <fnmatch.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "config/config.hpp"
#include "pipeline/sink_plugin.hpp"
#include "support/support.hpp"

using namespace pm500::test;

namespace {

const std::vector<std::string> kTopFolders{"bench",   "cip",     "cmake", "docs",  "etc",   "fuzz",  "include",
                                           "packaging", "scripts", "sinks", "src", "tests", "tools"};

struct Doc {
  fs::path path;
  std::string rel;  // for messages
  std::vector<std::string> lines;
  std::vector<bool> fenced;  // inside a ``` block (the fence lines included)
};

Doc load_doc(const fs::path& p) {
  Doc d{p, fs::relative(p, source_dir()).string(), {}, {}};
  std::istringstream in(read_file(p));
  bool in_fence = false;
  for (std::string line; std::getline(in, line);) {
    const bool fence = line.rfind("```", 0) == 0;
    d.lines.push_back(line);
    d.fenced.push_back(in_fence || fence);
    if (fence) in_fence = !in_fence;
  }
  return d;
}

std::vector<Doc> documents() {
  std::vector<Doc> docs{load_doc(source_dir() / "README.md"), load_doc(source_dir() / "ARCHITECTURE.md")};
  for (const auto& e : fs::directory_iterator(source_dir() / "docs"))
    if (e.path().extension() == ".md") docs.push_back(load_doc(e.path()));
  return docs;
}

std::vector<std::string> code_spans(const std::string& line) {
  std::vector<std::string> spans;
  std::size_t p = 0;
  while ((p = line.find('`', p)) != std::string::npos) {
    const auto e = line.find('`', p + 1);
    if (e == std::string::npos) break;
    spans.push_back(line.substr(p + 1, e - p - 1));
    p = e + 1;
  }
  return spans;
}

// Every file under the repository (build trees and .git left out), relative paths.
const std::vector<std::string>& repository_files() {
  static const std::vector<std::string> files = [] {
    std::vector<std::string> out;
    for (auto it = fs::recursive_directory_iterator(source_dir()); it != fs::recursive_directory_iterator(); ++it) {
      const std::string name = it->path().filename().string();
      if (it->is_directory() && (name == ".git" || name == "build" || name.rfind("build-", 0) == 0)) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) out.push_back(fs::relative(it->path(), source_dir()).string());
    }
    return out;
  }();
  return files;
}

bool path_exists(const std::string& rel) {
  if (rel.find('*') == std::string::npos) return fs::exists(source_dir() / rel);
  for (const auto& f : repository_files())
    if (::fnmatch(rel.c_str(), f.c_str(), FNM_PATHNAME) == 0) return true;
  return false;
}

// ---- the program's commands and options, from its --help ----

std::set<std::string> options_in_help(const std::string& help) {
  // Option lines: "  -c,--config TEXT ..." / "  --json   ...": names up to the first space.
  std::set<std::string> out;
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  -", 0) != 0) continue;
    std::string names = line.substr(2, line.find(' ', 2) - 2);
    std::size_t start = 0;
    while (start < names.size()) {
      auto comma = names.find(',', start);
      out.insert(names.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

struct Program {
  std::set<std::string> global;                           // -h, --help, -V, --version
  std::map<std::string, std::set<std::string>> commands;  // subcommand -> its options
};

const Program& program() {
  static const Program p = [] {
    Program out;
    const std::string gw = binary("pm500-gateway").string();
    const auto help = run({gw, "--help"}, 10s).output;
    out.global = options_in_help(help);
    const auto sub = help.find("Subcommands:");
    REQUIRE(sub != std::string::npos);
    std::istringstream in(help.substr(sub));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line) && line.rfind("  ", 0) == 0) {
      const std::string name = line.substr(2, line.find(' ', 2) - 2);
      out.commands[name] = options_in_help(run({gw, name, "--help"}, 10s).output);
    }
    REQUIRE(out.commands.size() >= 5);
    return out;
  }();
  return p;
}

// ---- configuration tables and keys, from the options tables ----

template <class T>
std::set<std::string> keys_of(const pm500::config::Options<T>& opts) {
  std::set<std::string> out;
  for (const auto& d : pm500::config::describe(opts)) out.insert(d.key);
  return out;
}

const std::map<std::string, std::set<std::string>>& tables() {
  namespace c = pm500::config;
  static const std::map<std::string, std::set<std::string>> t = [] {
    std::map<std::string, std::set<std::string>> out{
        {"gateway", keys_of(c::gateway_options())},     {"logging", keys_of(c::logging_options())},
        {"scanner", keys_of(c::scanner_options())},     {"pipeline", keys_of(c::pipeline_options())},
        {"simulator", keys_of(c::simulator_options())}, {"status", keys_of(c::status_options())},
        {"alerts", keys_of(c::alerts_options())},       {"devices", keys_of(c::device_options())},
    };
    const auto delivery = keys_of(c::delivery_options());
    for (const auto& s : pm500::sink_schemas()) {
      auto keys = delivery;
      for (const auto& d : s.describe()) keys.insert(d.key);
      out["sinks." + s.name] = std::move(keys);
    }
    return out;
  }();
  return t;
}

// Findings: "README.md:12: ..." lines, one per thing that does not exist.
using Findings = std::vector<std::string>;

void check_files(const Doc& d, std::size_t i, Findings& out) {
  const std::string& line = d.lines[i];
  const std::string where = d.rel + ":" + std::to_string(i + 1) + ": ";
  static const std::regex link(R"(\]\(([^)\s]+)\))");
  for (std::sregex_iterator m(line.begin(), line.end(), link), end; m != end; ++m) {
    std::string target = (*m)[1];
    if (target.find("://") != std::string::npos || target.rfind('#', 0) == 0 || target.rfind("mailto:", 0) == 0)
      continue;
    target = target.substr(0, target.find('#'));
    if (!fs::exists(d.path.parent_path() / target)) out.push_back(where + "link to a missing file: " + target);
  }
  std::string folders;
  for (const auto& f : kTopFolders) folders += (folders.empty() ? "" : "|") + f;
  // Not preceded by a character that makes it part of a longer path, a URL or a word.
  static const std::regex repo_path("(^|[^A-Za-z0-9_./:~-])((?:" + folders + R"()/[A-Za-z0-9_.*<>{}/+-]*))");
  for (std::sregex_iterator m(line.begin(), line.end(), repo_path), end; m != end; ++m) {
    std::string p = (*m)[2];
    while (!p.empty() && (p.back() == '.' || p.back() == ',' || p.back() == ':')) p.pop_back();
    if (p.find_first_of("<>{}") != std::string::npos) continue;
    if (!path_exists(p)) out.push_back(where + "path does not exist: " + p);
  }
  static const std::regex md_name(R"((^|[\s`(])([A-Za-z0-9_-]+\.md)\b)");
  const std::string unlinked = std::regex_replace(line, link, "]");
  for (std::sregex_iterator m(unlinked.begin(), unlinked.end(), md_name), end; m != end; ++m) {
    const std::string name = (*m)[2];
    bool found = false;
    for (const auto& f : repository_files()) found = found || fs::path(f).filename() == name;
    if (!found) out.push_back(where + "no file named " + name + " in the repository");
  }
}

// The options after `pm500-gateway` in `text` (a code span or a line of a fenced block).
void check_commands(const std::string& text, const std::string& where, Findings& out) {
  const Program& prog = program();
  std::size_t p = 0;
  while ((p = text.find("pm500-gateway ", p)) != std::string::npos) {
    if (p > 0 && (std::isalnum(static_cast<unsigned char>(text[p - 1])) || text[p - 1] == '/' || text[p - 1] == '-')) {
      p += 14;
      continue;  // part of a path (/usr/bin/pm500-gateway is checked the same way below)
    }
    const bool at_start = text.find_first_not_of(" \t$") == p;
    std::istringstream words(text.substr(p + 14, text.find_first_of("|;&", p + 14) - p - 14));
    p += 14;
    std::string first;
    words >> first;
    auto it = prog.commands.find(first);
    if (it == prog.commands.end()) {
      if (!at_start) continue;  // an image or package name, or prose
      if (first.rfind('-', 0) != 0)
        out.push_back(where + "pm500-gateway has no subcommand \"" + first + "\"");
      else if (!prog.global.contains(first))
        out.push_back(where + "pm500-gateway has no option " + first);
      continue;
    }
    const std::set<std::string>* opts = &it->second;
    for (std::string w; words >> w;)
      if (w.rfind('-', 0) == 0 && w.size() > 1 && !opts->contains(w))
        out.push_back(where + "pm500-gateway " + first + " has no option " + w);
  }
}

void check_config(const std::string& text, const std::string& where, bool prose, Findings& out) {
  static const std::regex table_key(R"((\[\[?)([a-z_]+(?:\.[a-z_]+)?)(\]\]?)(?:\s+([a-z][a-z0-9_]*)(\s*=)?)?)");
  for (std::sregex_iterator m(text.begin(), text.end(), table_key), end; m != end; ++m) {
    const std::string open = (*m)[1], name = (*m)[2], close = (*m)[3];
    if (open.size() != close.size() || name == "table" || name == "section") continue;
    if (open == "[[" && name != "devices") {
      out.push_back(where + "no table [[" + name + "]]");
      continue;
    }
    auto t = tables().find(name);
    if (t == tables().end()) {
      out.push_back(where + "no configuration table [" + name + "]");
      continue;
    }
    const std::string key = prose && !(*m)[5].matched ? std::string() : std::string((*m)[4]);
    if (!key.empty() && !t->second.contains(key))
      out.push_back(where + "[" + name + "] has no key \"" + key + "\"");
  }
}

// Whether a code span shows the gateway's command line: `pm500-gateway ...`, `check -c FILE`.
bool gateway_command(const std::string& span) {
  if (span.rfind("pm500-gateway", 0) == 0) return true;
  const auto sp = span.find(' ');
  return sp != std::string::npos && program().commands.contains(span.substr(0, sp));
}

Findings check_doc(const Doc& d) {
  Findings out;
  // Paragraphs (split by blank lines and fences; table rows stand alone) about the gateway.
  std::vector<bool> about(d.lines.size(), false);
  for (std::size_t i = 0; i < d.lines.size();) {
    std::size_t j = i;
    bool gw = false;
    const bool row = d.lines[i].rfind('|', 0) == 0;
    while (j < d.lines.size() && !d.fenced[j] && !d.lines[j].empty() && (d.lines[j].rfind('|', 0) == 0) == row) {
      for (const auto& span : code_spans(d.lines[j])) gw = gw || gateway_command(span);
      ++j;
    }
    if (j == i) j = i + 1;
    for (std::size_t k = i; k < j; ++k) about[k] = gw && !row;
    i = j;
  }
  for (std::size_t i = 0; i < d.lines.size(); ++i) {
    const std::string& line = d.lines[i];
    const std::string where = d.rel + ":" + std::to_string(i + 1) + ": ";
    check_files(d, i, out);
    if (d.fenced[i]) {
      check_commands(line, where, out);
      continue;
    }
    for (const auto& span : code_spans(line)) {
      check_commands(span, where, out);
      check_config(span, where, false, out);
      // An option alone: some subcommand has it.
      if (about[i] && span.rfind("--", 0) == 0) {
        const std::string opt = span.substr(0, span.find(' '));
        bool known = program().global.contains(opt);
        for (const auto& [name, opts] : program().commands) known = known || opts.contains(opt);
        if (!known) out.push_back(where + "no pm500-gateway subcommand has the option " + opt);
      }
    }
    // Prose: `[table] key` written without code spans, outside them.
    std::string prose;
    bool in_code = false;
    for (char c : line) {
      if (c == '`') in_code = !in_code;
      else if (!in_code) prose += c;
    }
    // Links and tables of the Markdown itself ([text](x), | cells |) are not configuration.
    static const std::regex link_text(R"(\[[^\]]*\]\([^)]*\))");
    prose = std::regex_replace(prose, link_text, " ");
    check_config(prose, where, true, out);
  }
  return out;
}

std::string joined(const Findings& f) {
  std::string s;
  for (const auto& l : f) s += l + "\n";
  return s;
}

}  // namespace

TEST_CASE("every file, command and configuration key the docs name exists") {
  const auto docs = documents();
  REQUIRE(docs.size() >= 4);
  Findings all;
  for (const auto& d : docs)
    for (auto& f : check_doc(d)) all.push_back(std::move(f));
  INFO(joined(all));
  CHECK(all.empty());
}

// The rules themselves: each must catch what it is for, and leave prose alone.
TEST_CASE("the rules catch a missing file, subcommand, option, table and key, and pass prose") {
  auto findings = [](const std::string& text) {
    const fs::path p = source_dir() / "docs" / "probe.md";  // never written: the folder resolves links
    Doc d{p, "probe.md", {}, {}};
    std::istringstream in(text);
    bool in_fence = false;
    for (std::string line; std::getline(in, line);) {
      const bool fence = line.rfind("```", 0) == 0;
      d.lines.push_back(line);
      d.fenced.push_back(in_fence || fence);
      if (fence) in_fence = !in_fence;
    }
    return check_doc(d);
  };
  // What exists passes.
  CHECK(findings("See [the reference](configuration.md) and `src/pipeline/README.md`, `cip/scanner*.cpp`.\n"
                 "Run `pm500-gateway check --offline -c FILE` or `pm500-gateway --version`; `--seconds N`.\n"
                 "Set `[pipeline] durability = \"journal\"`, `[gateway] clear_hold_ms`, `[sinks.mqtt]`, `[[devices]] name`.\n"
                 "Each `sinks/<name>/CMakeLists.txt`; /etc/pm500-gateway/gateway.toml; `state_dir/journal`.\n"
                 "```\npm500-gateway commission -c gateway.toml --json | jq --raw-output\n"
                 "podman run --name pm500-gateway --network host pm500-gateway check -c /x.toml\n"
                 "gateway.toml:14:1: [sinks.influxdb] unknown key \"tokne\"\n```\n")
            .empty());
  // What does not, is found: one finding each.
  CHECK(findings("[x](missing.md)").size() == 1);
  CHECK(findings("the `tools/pm500-sim/nothing.cpp` file").size() == 1);
  CHECK(findings("from pm500-facts.md, section 1").size() == 1);
  CHECK(findings("`pm500-gateway restart -c FILE`").size() == 1);
  CHECK(findings("```\npm500-gateway check --online\n```").size() == 1);
  CHECK(findings("Use `pm500-gateway check -c F`; `--no-such-option` too.").size() == 1);
  CHECK(findings("| `--env-file x` | podman's |\n\nPodman's `--format docker`.").empty());
  CHECK(findings("`[gateway] restart_history`").size() == 1);
  CHECK(findings("`[terraform]`").size() == 1);
  CHECK(findings("`[sinks.kinesis]`").size() == 1);
  CHECK(findings("set [status] thread_count = 4 in prose").size() == 1);
  CHECK(findings("check `url` in [sinks.mqtt] and [status] for `file:line: [table] message`").empty());
  CHECK(findings("in [sinks.kinesis] prose").size() == 1);
}
