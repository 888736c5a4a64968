// ProgressWatch: which worker threads count as stuck for the service watchdog.
#include <doctest/doctest.h>

#include "app/service.hpp"

using namespace pm500::app;
using namespace std::chrono_literals;

TEST_CASE("a thread whose loop count moves is alive however long it waits for data; a still one is stuck") {
  ProgressWatch w(2s);
  const auto t0 = ProgressWatch::Clock::now();
  CHECK(w.update({{"scanner", 10}, {"sink file", 5}}, t0).empty());
  // The sink's count moves (an idle loop turning), the scanner's does not: stuck only after 2 s.
  CHECK(w.update({{"scanner", 10}, {"sink file", 6}}, t0 + 1900ms).empty());
  auto stalled = w.update({{"scanner", 10}, {"sink file", 7}}, t0 + 2100ms);
  REQUIRE(stalled.size() == 1);
  CHECK(stalled[0].name == "scanner");
  CHECK(stalled[0].still_for == 2100ms);
  CHECK(describe(stalled) == "scanner (2 s)");
  // It moves again: alive, and its still time starts over.
  CHECK(w.update({{"scanner", 11}, {"sink file", 7}}, t0 + 3s).empty());
  CHECK(w.update({{"scanner", 11}, {"sink file", 7}}, t0 + 4s).empty());
  stalled = w.update({{"scanner", 11}, {"sink file", 7}}, t0 + 5s);
  CHECK(describe(stalled) == "scanner (2 s), sink file (2 s)");
}

TEST_CASE("a thread seen for the first time counts as moving; one that went away is forgotten") {
  ProgressWatch w(2s);
  const auto t0 = ProgressWatch::Clock::now();
  CHECK(w.update({{"scanner", 1}}, t0).empty());
  CHECK(w.update({{"scanner", 2}, {"sink mqtt", 0}}, t0 + 3s).empty());
  CHECK(w.update({{"scanner", 3}}, t0 + 6s).empty());
  CHECK(w.update({{"scanner", 4}, {"sink mqtt", 0}}, t0 + 7s).empty());
}

TEST_CASE("the stall limit is half the watchdog interval, at least 2 s; 30 s without a watchdog") {
  CHECK(ProgressWatch::stall_limit_for(0us) == 30s);
  CHECK(ProgressWatch::stall_limit_for(60s) == 30s);
  CHECK(ProgressWatch::stall_limit_for(10s) == 5s);
  CHECK(ProgressWatch::stall_limit_for(1500ms) == 2s);
}

TEST_CASE("without NOTIFY_SOCKET nothing is sent and no watchdog is seen") {
  ::unsetenv("NOTIFY_SOCKET");
  ::setenv("WATCHDOG_USEC", "1000000", 1);
  ServiceNotifier n;
  CHECK_FALSE(n.enabled());
  CHECK(n.watchdog_interval().count() == 0);
  n.ready("x");  // no socket: a no-op, not an error
  n.watchdog();
  ::unsetenv("WATCHDOG_USEC");
}
