// Headless Chromium driven over the DevTools protocol, for page tests that act as an operator
// would (type, click, submit) rather than only load the page. The protocol runs over two pipes
// (--remote-debugging-pipe: commands on the browser's fd 3, answers on its fd 4, each message
// JSON ended by a NUL byte), so no port and no WebSocket are needed. Real time, not virtual:
// the page's timers and polls run as they would on a panel PC.
//
//   DevTools b;                                // a fresh profile, loopback only
//   b.open(url);
//   b.until("document.body.dataset.updates > 0", 10s);
//   std::string dom = b.eval("document.documentElement.outerHTML");
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "browser.hpp"

namespace pm500::test {

class DevTools {
 public:
  DevTools() {
    int to[2], from[2];
    REQUIRE(::pipe2(to, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(from, O_CLOEXEC) == 0);
    const std::string binary = *chromium(), dir = "--user-data-dir=" + profile_.path().string();
    const std::string log = (profile_ / "err").string();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::dup2(to[0], 3);  // dup2 clears close-on-exec on the copies
      ::dup2(from[1], 4);
      int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err, 1);
      ::dup2(err, 2);
      ::execl(binary.c_str(), binary.c_str(), "--headless", "--no-sandbox", "--disable-gpu",
              "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
              "--disable-extensions", "--mute-audio", "--remote-debugging-pipe", "--window-size=1280,1400",
              dir.c_str(), "about:blank", static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(to[0]);
    ::close(from[1]);
    out_ = to[1];
    in_ = from[0];
    auto targets = call("Target.getTargets", "{}");
    for (auto t : targets["targetInfos"].get_array())
      if (std::string_view(t["type"]) == "page") {
        auto attached = call("Target.attachToTarget",
                             "{\"targetId\":\"" + std::string(std::string_view(t["targetId"])) + "\",\"flatten\":true}");
        session_ = std::string(std::string_view(attached["sessionId"]));
        break;
      }
    REQUIRE_MESSAGE(!session_.empty(), "no page target in Chromium");
  }
  ~DevTools() {
    ::close(out_);
    ::close(in_);
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  DevTools(const DevTools&) = delete;
  DevTools& operator=(const DevTools&) = delete;

  void open(const std::string& url) { call("Page.navigate", "{\"url\":\"" + url + "\"}", session_); }

  // The value of a JavaScript expression (a promise is awaited), as a string ("" for
  // undefined); an exception in the page fails the test with its text.
  std::string eval(const std::string& expression) {
    std::string quoted = "\"";
    for (char c : expression) {
      if (c == '"' || c == '\\') quoted += '\\';
      if (c == '\n') {
        quoted += "\\n";
        continue;
      }
      quoted += c;
    }
    quoted += '"';
    auto r = call("Runtime.evaluate", "{\"expression\":" + quoted + ",\"awaitPromise\":true,\"returnByValue\":true}",
                  session_);
    simdjson::dom::element ex;
    if (r["exceptionDetails"].get(ex) == simdjson::SUCCESS) FAIL("page exception: " << simdjson::to_string(ex));
    simdjson::dom::element v;
    if (r["result"]["value"].get(v) != simdjson::SUCCESS) return "";
    if (v.is_string()) return std::string(std::string_view(v));
    return std::string(simdjson::to_string(v));
  }

  // Polls a boolean expression until it holds (an exception, as while the page loads, counts
  // as false); false after the timeout.
  bool until(const std::string& expression, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (eval("(() => { try { return !!(" + expression + "); } catch (e) { return false; } })()") == "true") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string log() const { return read_file(profile_ / "err"); }

 private:
  // Sends one command and returns its "result", skipping the events that arrive meanwhile.
  simdjson::dom::element call(const std::string& method, const std::string& params, const std::string& session = "") {
    const int id = ++next_id_;
    std::string msg = "{\"id\":" + std::to_string(id) + ",\"method\":\"" + method + "\",\"params\":" + params +
                      (session.empty() ? "" : ",\"sessionId\":\"" + session + "\"") + "}";
    msg.push_back('\0');
    REQUIRE(::write(out_, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
      std::size_t nul;
      while ((nul = buffer_.find('\0')) == std::string::npos) {
        pollfd p{in_, POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
        REQUIRE_MESSAGE((left.count() > 0 && ::poll(&p, 1, static_cast<int>(left.count())) == 1),
                        "no answer from Chromium to " << method << "\n" << log());
        char chunk[65536];
        const ssize_t n = ::read(in_, chunk, sizeof chunk);
        REQUIRE_MESSAGE(n > 0, "Chromium closed its pipe\n" << log());
        buffer_.append(chunk, static_cast<std::size_t>(n));
      }
      answer_ = simdjson::padded_string(buffer_.substr(0, nul));
      buffer_.erase(0, nul + 1);
      simdjson::dom::element doc;
      REQUIRE(parser_.parse(answer_).get(doc) == simdjson::SUCCESS);
      std::int64_t got = 0;
      if (doc["id"].get(got) != simdjson::SUCCESS || got != id) continue;  // an event
      simdjson::dom::element error;
      if (doc["error"].get(error) == simdjson::SUCCESS) FAIL(method << ": " << simdjson::to_string(error));
      return doc["result"];
    }
  }

  TempDir profile_;
  pid_t pid_ = -1;
  int out_ = -1, in_ = -1;
  int next_id_ = 0;
  std::string session_, buffer_;
  simdjson::padded_string answer_;
  simdjson::dom::parser parser_;
};

}  // namespace pm500::test
