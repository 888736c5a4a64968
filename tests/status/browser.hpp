// Headless Chromium for the status page tests: one run per page load with a fresh profile and
// loopback traffic only, in Chromium's virtual time (the page's timers run; its clocks stand
// still while it works). Screenshots go to ${PM500_BINARY_DIR}/artifacts/.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "support/support.hpp"

namespace pm500::test {

inline std::optional<std::string> chromium() {
  if (fs::exists("/usr/bin/chromium")) return "/usr/bin/chromium";
  return which("chromium");
}

struct BrowserRun {
  int code = -1;
  std::string out, log;  // stdout (the DOM for --dump-dom), stderr (Chromium's log and console)
};

// One headless Chromium run with a fresh profile, nothing but loopback traffic, and a virtual
// time budget long enough for the first poll and two more.
inline BrowserRun browse_once(const std::string& url, const std::vector<std::string>& extra, const std::string& size) {
  TempDir profile;
  std::string cmd = *chromium() +
                    " --headless --no-sandbox --disable-gpu --disable-background-networking"
                    " --disable-component-update --disable-sync --no-first-run --disable-quic"
                    " --disable-extensions --disable-default-apps --mute-audio --hide-scrollbars"
                    " --enable-logging=stderr --v=0 --virtual-time-budget=5000"
                    " --window-size=" + size + " --user-data-dir=" + profile.path().string();
  for (const auto& e : extra) cmd += " " + e;
  cmd += " '" + url + "' >" + (profile / "out").string() + " 2>" + (profile / "err").string();
  BrowserRun r;
  r.code = run({"/bin/sh", "-c", cmd}, std::chrono::seconds(90)).code;
  r.out = read_file(profile / "out");
  r.log = read_file(profile / "err");
  return r;
}

// browse_once(), and once more when the browser itself failed (it exited non-zero or was stopped
// after 90 s: on a host loaded by parallel builds Chromium has been seen to hang at start). The
// page's own faults do not make Chromium fail, so they are still seen by the checks that follow.
inline BrowserRun browse(const std::string& url, std::vector<std::string> extra, const std::string& size = "360,1200") {
  BrowserRun r = browse_once(url, extra, size);
  if (r.code != 0) {
    MESSAGE("chromium failed (exit " << r.code << "), one retry; its log:\n" << r.log.substr(0, 2000));
    r = browse_once(url, extra, size);
  }
  return r;
}

// Console messages of the page (Chromium logs them as "CONSOLE" lines); the page itself never
// writes to the console, so any is a failure: an exception, a failed request, a CSP refusal.
inline std::string console_lines(const std::string& log) {
  std::string found;
  std::size_t start = 0;
  while (start < log.size()) {
    std::size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(start, end - start);
    if (line.find("CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("Content Security Policy") != std::string::npos)
      found += line + "\n";
    start = end + 1;
  }
  return found;
}

inline fs::path artifacts() {
  fs::path dir = binary_dir() / "artifacts";
  fs::create_directories(dir);
  return dir;
}

inline bool is_png(const fs::path& p) {
  std::string head = read_file(p).substr(0, 8);
  return head == "\x89PNG\r\n\x1a\n";
}

// Whether the browser is there; under CI=true a missing one fails the test instead of skipping it.
inline bool have_chromium() {
  if (chromium()) return true;
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true") FAIL("chromium is not installed (apt-get install chromium)");
  MESSAGE("chromium is not installed: skipped (apt-get install chromium)");
  return false;
}

// The overview's rows in the DOM, in order: the meter name of each.
inline std::vector<std::string> overview_rows(const std::string& dom) {
  std::vector<std::string> names;
  const auto body = dom.find("<tbody id=\"overview-rows\">");
  const auto end = dom.find("</tbody>", body);
  for (auto at = dom.find("<th scope=\"row\"><a href=\"#dv-", body); at < end;
       at = dom.find("<th scope=\"row\"><a href=\"#dv-", at + 1)) {
    const auto open = dom.find("\">", at + 30) + 2;
    names.push_back(dom.substr(open, dom.find("</a>", open) - open));
  }
  return names;
}

}  // namespace pm500::test
