// decode, scale and check run per datagram on the scanner thread: they must not allocate,
// healthy or not, and must not format text except for the sample that raises a finding.
// Global operator new is replaced to count allocations; format_counter.cpp counts snprintf
// and its family.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "rig.hpp"
#include "support/format_counter.hpp"

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
  // Failing checks format their messages into fixed buffers, raising included; the device's
  // store for the texts of raised findings is allocated at its first raise, once.
  model.faults().ct_applied_twice = true;
  model.faults().nan_values = true;
  model.faults().energy_backwards = true;
  for (int i = 50; i < 100; ++i) total += round(std::int64_t{i} * 1'000'000'000);
  CHECK(total == 1);
  CHECK(check.active(FindingKind::current_vs_ct));
  CHECK(check.active(FindingKind::non_finite));
  CHECK(check.active(FindingKind::energy_backwards));
  // Cleared and raised again: nothing more.
  model.faults() = {};
  for (int i = 100; i < 150; ++i) total += round(std::int64_t{i} * 1'000'000'000);
  CHECK(!check.active(FindingKind::current_vs_ct));
  model.faults().ct_applied_twice = true;
  for (int i = 150; i < 200; ++i) total += round(std::int64_t{i} * 1'000'000'000);
  CHECK(check.active(FindingKind::current_vs_ct));
  CHECK(total == 1);
  // A wrong-size datagram is an error value, not an allocation.
  pm500::Sample s{};
  const long before = g_allocations.load();
  CHECK(!decode(p, 101, std::span<const std::uint8_t>(bytes[1].data(), 47), s));
  CHECK(g_allocations.load() == before);
}

TEST_CASE("decode, scale and plausibility format text only for the sample that raises a finding") {
  pm500::test::watch_formatting();
  {  // the counter sees this executable's formatting at all
    char buf[8];
    volatile int one = 1;
    const long before = pm500::test::formatting_calls();
    std::snprintf(buf, sizeof buf, "%d", one);
    REQUIRE(pm500::test::formatting_calls() == before + 1);
  }
  Rig rig(builtin_profile(), meter(settings("gateway")), 3, Thresholds{.raise_after = 3, .clear_after = 3});
  // One RPI (9 assemblies); returns the formatting calls it made and the findings it raised.
  auto round = [&] {
    const long calls = pm500::test::formatting_calls();
    const std::size_t events = rig.recorder.events.size();
    rig.run(1);
    int raised = 0;
    for (std::size_t i = events; i < rig.recorder.events.size(); ++i) raised += rig.recorder.events[i].raised;
    return std::pair{pm500::test::formatting_calls() - calls, raised};
  };

  long healthy = 0;
  for (int i = 0; i < 200; ++i) healthy += round().first;
  CHECK(healthy == 0);
  CHECK(rig.recorder.events.empty());

  // Failing samples that do not raise, the raising one, then failing samples while raised.
  rig.model.faults().ct_applied_twice = true;
  rig.model.faults().nan_values = true;
  rig.model.faults().energy_backwards = true;
  int raising_rounds = 0;
  long quiet_while_failing = 0;
  for (int i = 0; i < 100; ++i) {
    const auto [calls, raised] = round();
    CAPTURE(i);
    if (raised > 0) {
      ++raising_rounds;
      CHECK(calls >= 2 * raised);  // a message and its evidence per finding
    } else {
      quiet_while_failing += calls;
    }
  }
  CHECK(raising_rounds >= 1);
  CHECK(quiet_while_failing == 0);
  CHECK(rig.check.active(FindingKind::current_vs_ct));
  CHECK(rig.check.active(FindingKind::non_finite));
  CHECK(rig.check.active(FindingKind::energy_backwards));
  const Event* ct = rig.recorder.first(FindingKind::current_vs_ct);
  REQUIRE(ct != nullptr);
  CHECK(ct->message.find("CT ratio 400:5 applied by both meter and gateway?") != std::string::npos);
  CHECK(ct->evidence.find("quantity=current phase=") == 0);
  // The status page's copy is the text made when raised, not formatted again.
  const long before_snapshot = pm500::test::formatting_calls();
  bool found = false;
  for (const auto& f : rig.check.snapshot())
    if (f.kind == FindingKind::current_vs_ct) {
      found = true;
      CHECK(f.message == ct->message);
      CHECK(f.evidence == ct->evidence);
    }
  CHECK(found);
  CHECK(pm500::test::formatting_calls() == before_snapshot);

  // Clearing formats nothing either.
  rig.model.faults() = Faults{};
  long clearing = 0;
  for (int i = 0; i < 50; ++i) clearing += round().first;
  CHECK(clearing == 0);
  CHECK(rig.check.snapshot().empty());
  CHECK(rig.recorder.events.back().raised == false);
}
