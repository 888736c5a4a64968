// gateway.overload from the scanner's receive counters: raised with drops/s, the scanner's CPU
// and the sysctl to raise while datagrams are dropped or the thread is saturated; not raised
// otherwise. The start-up warning names the cap only when there is one.
#include <doctest/doctest.h>

#include "app/overload.hpp"

using pm500::app::OverloadWatch;

namespace {

cip::ReceiveStats stats(std::uint64_t drops, std::uint64_t cpu_ms, std::uint64_t calls, std::uint64_t dgrams) {
  cip::ReceiveStats r;
  r.kernel_drops = drops;
  r.cpu_ns = cpu_ms * 1'000'000;
  r.receive_calls = calls;
  r.datagrams = dgrams;
  r.buffer_wanted = 48'000'000;
  r.buffer_granted = 4'194'304;
  return r;
}

}  // namespace

TEST_CASE("drops in the last interval raise it with drops/s, CPU and the sysctl; a quiet interval clears it") {
  OverloadWatch w;
  CHECK_FALSE(w.evaluate(stats(0, 0, 0, 0), 1000, 4'194'304));  // first call: the starting point
  CHECK_FALSE(w.evaluate(stats(0, 300, 1000, 30'000), 2000, 4'194'304));  // 30% CPU, no drops
  auto e = w.evaluate(stats(2'500, 700, 2000, 60'000), 4000, 4'194'304);  // 2,500 drops in 2 s
  REQUIRE(e);
  CHECK(e->find("1250 datagrams/s dropped") != std::string::npos);
  CHECK(e->find("over the last 2.0 s") != std::string::npos);
  CHECK(e->find("scanner thread at 20% of a core") != std::string::npos);
  CHECK(e->find("30.0 per call") != std::string::npos);
  CHECK(e->find("net.core.rmem_max = 4194304 caps it") != std::string::npos);
  CHECK(e->find("`sysctl -w net.core.rmem_max=48000000`") != std::string::npos);
  CHECK_FALSE(w.evaluate(stats(2'500, 900, 3000, 90'000), 5000, 4'194'304));  // no new drops, 20% CPU
}

TEST_CASE("a saturated scanner thread raises it without drops") {
  OverloadWatch w;
  w.evaluate(stats(0, 0, 0, 0), 0, 0);
  auto e = w.evaluate(stats(0, 950, 10, 100), 1000, 0);
  REQUIRE(e);
  CHECK(e->find("0 datagrams/s dropped") != std::string::npos);
  CHECK(e->find("95% of a core") != std::string::npos);
  CHECK(e->find("saturated") != std::string::npos);
  CHECK(e->find("net.core.rmem_max caps it") != std::string::npos);  // rmem_max unknown: no value quoted
  CHECK_FALSE(w.evaluate(stats(0, 1000, 20, 200), 2000, 0));            // 5%: over
}

TEST_CASE("the start-up warning names the cap and the sysctl only when the buffer was capped") {
  auto capped = stats(0, 0, 0, 0);
  const std::string w = pm500::app::receive_buffer_warning(capped, 4'194'304);
  CHECK(w.find("4194304 bytes granted of the 48000000 wanted") != std::string::npos);
  CHECK(w.find("sysctl -w net.core.rmem_max=48000000") != std::string::npos);
  auto fine = capped;
  fine.buffer_granted = fine.buffer_wanted;
  CHECK(pm500::app::receive_buffer_warning(fine, 4'194'304).empty());
}
