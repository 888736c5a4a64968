// decode, scale and check run per datagram on the scanner thread: they must not allocate,
// healthy or not. Global operator new is replaced to count.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "rig.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

using namespace pm500::device;
using namespace pm500::device::test;

TEST_CASE("decode, scale and plausibility allocate nothing per sample") {
  const Profile& p = builtin_profile();
  const DeviceSettings d = settings("gateway");
  FeederSettings fs = meter(d);
  FeederModel model(p, fs, 9);
  Scaler scaler(p, d);
  Plausibility check(p, d, Thresholds{.raise_after = 3, .clear_after = 3});  // no listener: the registry may allocate
  std::array<std::array<std::uint8_t, 128>, 9> bytes{};
  std::array<std::size_t, 9> len{};

  auto round = [&](std::int64_t t) {
    model.step(t);
    for (std::uint16_t a = 100; a <= 108; ++a) len[a - 100] = model.encode(a, bytes[a - 100]).value_or(0);
    const long before = g_allocations.load();
    for (std::uint16_t a = 100; a <= 108; ++a) {
      pm500::Sample s{};
      s.source_time_ns = t;
      (void)decode(p, a, std::span<const std::uint8_t>(bytes[a - 100].data(), len[a - 100]), s);
      scaler.apply(s);
      check.check(s);
    }
    return g_allocations.load() - before;
  };
  long total = 0;
  for (int i = 0; i < 50; ++i) total += round(std::int64_t{i} * 1'000'000'000);
  CHECK(total == 0);
  // Failing checks format their messages into fixed buffers, raising included.
  model.faults().ct_applied_twice = true;
  model.faults().nan_values = true;
  model.faults().energy_backwards = true;
  for (int i = 50; i < 100; ++i) total += round(std::int64_t{i} * 1'000'000'000);
  CHECK(total == 0);
  CHECK(check.active(FindingKind::current_vs_ct));
  CHECK(check.active(FindingKind::non_finite));
  CHECK(check.active(FindingKind::energy_backwards));
  // A wrong-size datagram is an error value, not an allocation.
  pm500::Sample s{};
  const long before = g_allocations.load();
  CHECK(!decode(p, 101, std::span<const std::uint8_t>(bytes[1].data(), 47), s));
  CHECK(g_allocations.load() == before);
}
