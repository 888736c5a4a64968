#include <doctest/doctest.h>

#include "health/restart_history.hpp"
#include "support/support.hpp"

using pm500::health::RestartHistory;
using namespace std::chrono_literals;

TEST_CASE("restarts without a clean stop are counted within the window") {
  pm500::test::TempDir dir;
  auto file = dir / "restart-history";
  const std::int64_t min = 60'000;
  {
    auto h = RestartHistory::open(file, 0);
    CHECK(h.starts_within(10min) == 0);
    h.record_stop("SIGTERM", 1 * min);
  }
  // Three runs that died (no stop recorded), then this one.
  for (int i = 0; i < 3; ++i) (void)RestartHistory::open(file, (20 + i) * min);
  auto h = RestartHistory::open(file, 24 * min);
  CHECK(h.total_starts() == 5);
  CHECK(h.starts_within(10min) == 3);
  CHECK(h.unclean_within(10min) == 3);
  CHECK(h.starts_within(30min) == 4);
  CHECK(h.unclean_within(30min) == 3);  // the first run stopped cleanly
  CHECK(h.summary(10min).find("3 restart(s) in the last 10 min, 3 after an unclean exit") != std::string::npos);
  CHECK(h.summary(10min).find("last clean stop: SIGTERM") != std::string::npos);
}

TEST_CASE("runs that failed to start count as failed, with the last cause, not as clean stops") {
  pm500::test::TempDir dir;
  auto file = dir / "restart-history";
  const std::int64_t min = 60'000;
  RestartHistory::open(file, 0).record_stop("SIGTERM", 1 * min);
  RestartHistory::open(file, 30 * min)
      .record_stop(std::string(RestartHistory::kStartFailed) + "status page: port 8080 in use", 30 * min);
  RestartHistory::open(file, 31 * min)
      .record_stop(std::string(RestartHistory::kConfigError) + "gateway.toml:3:8: PM500_TOKEN is not set", 31 * min);
  auto h = RestartHistory::open(file, 32 * min);
  CHECK(h.failed_within(10min) == 2);
  CHECK(h.unclean_within(10min) == 0);
  CHECK(h.failed_within(1min) == 1);
  std::string s = h.summary(10min);
  CHECK(s.find("2 failed to start (last: configuration error: gateway.toml:3:8: PM500_TOKEN is not set)") !=
        std::string::npos);
  CHECK(s.find("last clean stop: SIGTERM") != std::string::npos);  // a failure is not a clean stop
}

TEST_CASE("a damaged history file is read as far as it makes sense and bounded") {
  pm500::test::TempDir dir;
  auto file = dir / "restart-history";
  pm500::test::write_file(file, "start 1000\ngarbage line\nstop x\nstop 2000 SIGTERM\n");
  auto h = RestartHistory::open(file, 3000);
  CHECK(h.entries().size() == 3);
  CHECK(h.unclean_within(1h) == 0);
  for (int i = 0; i < 300; ++i) (void)RestartHistory::open(file, 4000 + i);
  CHECK(RestartHistory::open(file, 10'000).entries().size() == RestartHistory::kKeep);
}
