// The limit on open files: raised to the hard limit at start, and an error that names the need
// and the fix when even the hard limit is too low (src/app/fd_limit.hpp).
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <string>

#include "app/fd_limit.hpp"

using namespace pm500::app;

TEST_CASE("open files: the soft limit is raised to the hard limit, never lowered") {
  rlimit rl{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  REQUIRE(rl.rlim_max > 700);
  rlimit low = rl;
  low.rlim_cur = 600;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
  auto r = raise_fd_limit(10);
  REQUIRE(r);
  CHECK(r->before == 600);
  CHECK(r->now == rl.rlim_max);
  CHECK(r->needed == fds_needed(10));
  REQUIRE(getrlimit(RLIMIT_NOFILE, &low) == 0);
  CHECK(low.rlim_cur == rl.rlim_max);
  // Already at the hard limit: nothing changes.
  auto again = raise_fd_limit(10);
  REQUIRE(again);
  CHECK(again->before == again->now);
}

TEST_CASE("open files: a hard limit below the need is an error naming the need and how to raise it") {
  // Last in this file: a process cannot raise its hard limit again without privilege.
  const std::size_t devices = 2000;
  const std::string need = std::to_string(fds_needed(devices));
  CHECK(fds_needed(devices) > 4000);  // two per meter
  rlimit tight{1000, 1000};
  REQUIRE(setrlimit(RLIMIT_NOFILE, &tight) == 0);
  auto r = raise_fd_limit(devices);
  REQUIRE_FALSE(r);
  CHECK(r.error().find("2000 device(s) need up to " + need + " open files") != std::string::npos);
  CHECK(r.error().find("the limit is 1000 (hard limit 1000)") != std::string::npos);
  CHECK(r.error().find("LimitNOFILE=" + need) != std::string::npos);
  CHECK(r.error().find("--ulimit nofile=" + need + ":" + need) != std::string::npos);
  auto fits = raise_fd_limit(100, 300);  // 100 meters fit, 300 more would not
  REQUIRE(fits);
  CHECK_FALSE(fits->room_for_reload);
  CHECK(raise_fd_limit(100, 10)->room_for_reload);
}
