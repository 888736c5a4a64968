#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "test_sinks.hpp"
#include "pipeline/crc32c.hpp"
#include "pipeline/pipeline.hpp"
#include "support/support.hpp"

using namespace pm500;
using namespace std::chrono_literals;
using pm500::test::make_sample;
using pm500::test::Recorder;
using pm500::test::sample_number;
using pm500::test::StreamingTestSink;
using pm500::test::TestSink;

namespace {

SinkDelivery::Options fast_options(const std::filesystem::path& state, Recorder* rec = nullptr) {
  SinkDelivery::Options o;
  o.name = "test";
  o.state_dir = state;
  o.delivery.batch_size = 100;
  o.delivery.flush_interval_ms = 5;
  o.delivery.retry_initial_ms = 2;
  o.delivery.retry_max_ms = 20;
  o.delivery.spool_fsync_interval_ms = 50;
  o.delivery.replay_rate = 0;  // unlimited unless a test sets it
  o.delivery.spool_max_mb = 64;
  o.poll_interval = 1ms;
  o.spool_after = 20ms;
  o.stop_timeout = 2s;
  o.condition_hold = 10s;
  o.conditions = rec;
  o.jitter_seed = 42;
  return o;
}

std::vector<std::uint64_t> iota(std::uint64_t first, std::uint64_t count) {
  std::vector<std::uint64_t> v(count);
  for (std::uint64_t i = 0; i < count; ++i) v[i] = first + i;
  return v;
}

}  // namespace

TEST_CASE("delivery: an outage, then recovery: every sample arrives exactly once, in order") {
  test::TempDir tmp;
  Recorder rec;
  // The ring holds ~0.15 s of this producer: a realistic margin (the gateway's default ring
  // holds minutes), so that this test checks the outage path and not an overrun.
  Ring ring(16384);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path(), &rec));
  REQUIRE(d);
  (*d)->start();
  constexpr std::uint64_t kTotal = 20'000;
  for (std::uint64_t i = 0; i < kTotal; ++i) {
    if (i == 3'000) ts->mode = TestSink::retry;     // destination goes down
    if (i == 15'000) {
      // During the outage the sink says why; once it delivers again the text goes.
      CHECK((*d)->stats().last_error.find("HTTP 503") != std::string::npos);
      ts->mode = TestSink::accept;  // and comes back
    }
    ring.push(make_sample(i));
    if (i % 100 == 0) std::this_thread::sleep_for(1ms);  // at most ~100 k samples/s
  }
  REQUIRE(test::eventually([&] { return ts->count() >= kTotal; }, 10s));
  (*d)->stop();
  const SinkStats st = (*d)->stats();
  CHECK(ts->received() == iota(0, kTotal));
  CHECK(st.delivered == kTotal);
  CHECK(st.spooled > 0);
  CHECK(st.replayed > 0);
  CHECK(st.replayed <= st.spooled);
  CHECK(st.dropped_overrun == 0);
  CHECK(st.dropped_spool_full == 0);
  CHECK(st.spool_backlog == 0);
  CHECK(st.state == SinkState::stopped);
  CHECK(ts->refusals > 0);
  CHECK_FALSE(ts->bad_batch);
  CHECK(st.last_error.empty());
  CHECK(rec.has("raise pipeline.sink_unavailable test"));
  CHECK(rec.has("clear pipeline.sink_unavailable test"));
}

TEST_CASE("delivery: stop with a full ring and a healthy sink delivers everything") {
  test::TempDir tmp;
  Ring ring(8192);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path()));
  REQUIRE(d);
  for (std::uint64_t i = 0; i < 5000; ++i) ring.push(make_sample(i));
  (*d)->start();
  (*d)->stop();  // immediately: the thread drains on the way out
  CHECK(ts->received() == iota(0, 5000));
  CHECK((*d)->stats().delivered == 5000);
}

TEST_CASE("delivery: a sink restarted at start_position continues where its previous instance stopped") {
  // A configuration reload changes a sink's settings while samples keep arriving: the new
  // instance reads the ring from the old one's ring_position(), so together they receive every
  // sample exactly once.
  test::TempDir tmp;
  Ring ring(16384);
  auto first_sink = std::make_unique<TestSink>();
  TestSink* first = first_sink.get();
  auto a = SinkDelivery::create(ring, std::move(first_sink), fast_options(tmp.path()));
  REQUIRE(a);
  (*a)->start();
  constexpr std::uint64_t kTotal = 10'000;
  std::atomic<bool> switching{false};
  std::jthread producer([&] {
    for (std::uint64_t i = 0; i < kTotal; ++i) {
      // The second half goes in while the sink is switched.
      if (i == kTotal / 2) test::eventually([&] { return switching.load(); }, 10s);
      ring.push(make_sample(i));
      if (i % 50 == 0) std::this_thread::sleep_for(1ms);
    }
  });
  REQUIRE(test::eventually([&] { return first->count() >= 1000; }, 10s));
  switching = true;
  (*a)->stop();
  auto second_sink = std::make_unique<TestSink>();
  TestSink* second = second_sink.get();
  auto o = fast_options(tmp.path());
  o.start_position = (*a)->ring_position();
  auto b = SinkDelivery::create(ring, std::move(second_sink), std::move(o));
  REQUIRE(b);
  (*b)->start();
  producer.join();
  (*b)->stop();
  std::vector<std::uint64_t> all = first->received();
  const std::vector<std::uint64_t> rest = second->received();
  all.insert(all.end(), rest.begin(), rest.end());
  CHECK(all == iota(0, kTotal));
  CHECK((*a)->stats().delivered + (*b)->stats().delivered == kTotal);
  CHECK((*b)->stats().dropped_overrun == 0);
}

TEST_CASE("delivery: stop while the destination is down spools everything; the next run sends it") {
  test::TempDir tmp;
  {
    Ring ring(8192);
    auto sink = std::make_unique<TestSink>();
    sink->mode = TestSink::retry;
    auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path()));
    REQUIRE(d);
    (*d)->start();
    for (std::uint64_t i = 0; i < 3000; ++i) ring.push(make_sample(i));
    std::this_thread::sleep_for(30ms);
    (*d)->stop();
    const SinkStats st = (*d)->stats();
    CHECK(st.delivered == 0);
    CHECK(st.spool_backlog == 3000);
    CHECK(st.dropped_overrun == 0);
  }
  Ring ring(8192);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path()));
  REQUIRE(d);
  CHECK((*d)->stats().state == SinkState::replaying);
  (*d)->start();
  for (std::uint64_t i = 3000; i < 3500; ++i) ring.push(make_sample(i));  // live, after the backlog
  REQUIRE(test::eventually([&] { return ts->count() >= 3500; }, 5s));
  (*d)->stop();
  CHECK(ts->received() == iota(0, 3500));
  CHECK((*d)->stats().replayed >= 3000);
}

TEST_CASE("delivery: a restart mid-replay neither loses nor re-sends the whole spool") {
  test::TempDir tmp;
  {  // run 1: everything spooled
    Ring ring(8192);
    auto sink = std::make_unique<TestSink>();
    sink->mode = TestSink::retry;
    auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path()));
    for (std::uint64_t i = 0; i < 4000; ++i) ring.push(make_sample(i));
    (*d)->stop();
    REQUIRE((*d)->stats().spool_backlog == 4000);
  }
  std::vector<std::uint64_t> first_run;
  {  // run 2: replays slowly, stopped half-way
    Ring ring(64);
    auto opt = fast_options(tmp.path());
    opt.delivery.replay_rate = 10'000;
    auto sink = std::make_unique<TestSink>();
    TestSink* ts = sink.get();
    auto d = SinkDelivery::create(ring, std::move(sink), opt);
    (*d)->start();
    REQUIRE(test::eventually([&] { return ts->count() >= 1000; }, 5s));
    (*d)->stop();
    first_run = ts->received();
    REQUIRE(first_run.size() < 4000);
  }
  Ring ring(64);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path()));
  (*d)->start();
  REQUIRE(test::eventually([&] { return (*d)->stats().spool_backlog == 0; }, 5s));
  (*d)->stop();
  const auto second = ts->received();
  REQUIRE(!second.empty());
  // Together: every sample, in order; the second run starts where the first stopped.
  std::vector<std::uint64_t> all = first_run;
  all.insert(all.end(), second.begin(), second.end());
  CHECK(all == iota(0, 4000));
}

TEST_CASE("delivery: replay is rate-limited") {
  test::TempDir tmp;
  {
    Ring ring(4096);
    auto sink = std::make_unique<TestSink>();
    sink->mode = TestSink::retry;
    auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path()));
    for (std::uint64_t i = 0; i < 1000; ++i) ring.push(make_sample(i));
    (*d)->stop();
  }
  Ring ring(64);
  auto opt = fast_options(tmp.path());
  opt.delivery.replay_rate = 4000;  // 1000 samples: at least 0.2 s after the first batch
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), opt);
  const auto t0 = std::chrono::steady_clock::now();
  (*d)->start();
  REQUIRE(test::eventually([&] { return ts->count() >= 1000; }, 5s));
  const auto took = std::chrono::steady_clock::now() - t0;
  (*d)->stop();
  CHECK(took >= 180ms);
  CHECK(ts->received() == iota(0, 1000));
  CHECK((*d)->stats().replay_bytes_held_max <= 100 * (Spool::kRecordSize + sizeof(Sample)));
}

TEST_CASE("delivery: rejected samples go to the dead-letter file with the reason") {
  test::TempDir tmp;
  Recorder rec;
  Ring ring(1024);
  auto sink = std::make_unique<TestSink>();
  sink->mode = TestSink::reject;
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path(), &rec));
  (*d)->start();
  for (std::uint64_t i = 0; i < 10; ++i) ring.push(make_sample(i));
  REQUIRE(test::eventually([&] { return (*d)->stats().rejected == 10; }, 5s));
  (*d)->stop();
  const std::string dl = test::read_file(tmp.path() / "sinks/test/dead-letter.jsonl");
  CHECK(std::count(dl.begin(), dl.end(), '\n') == 10);
  CHECK(dl.find("\"reason\":\"test destination refuses\"") != std::string::npos);
  CHECK(dl.find("\"evidence\":\"HTTP 400\"") != std::string::npos);
  CHECK(rec.has("raise pipeline.dead_letter test"));
}

TEST_CASE("delivery: a sink stuck longer than the ring lasts counts its overrun and raises it") {
  test::TempDir tmp;
  Recorder rec;
  Ring ring(64);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  ts->delay_ms = 300;  // one slow delivery while 5000 samples go by
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path(), &rec));
  (*d)->start();
  ring.push(make_sample(0));
  std::this_thread::sleep_for(50ms);  // the thread is now inside the slow deliver()
  for (std::uint64_t i = 1; i < 5000; ++i) ring.push(make_sample(i));
  ts->delay_ms = 0;
  (*d)->stop();
  const SinkStats st = (*d)->stats();
  CHECK(st.dropped_overrun > 0);
  // Every sample is accounted for: delivered, or counted as overwritten.
  CHECK(st.delivered + st.dropped_overrun + st.spool_backlog == 5000);
  const auto got = ts->received();
  CHECK(std::is_sorted(got.begin(), got.end()));
  CHECK(rec.has("raise pipeline.overrun test"));
}

TEST_CASE("delivery: a full spool drops oldest, counts exactly, and raises pipeline.spool_full") {
  test::TempDir tmp;
  Recorder rec;
  Ring ring(16384);
  auto opt = fast_options(tmp.path(), &rec);
  opt.delivery.spool_max_mb = 1;  // ~5600 records
  opt.spool_segment_bytes = 64 << 10;
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  ts->mode = TestSink::retry;
  auto d = SinkDelivery::create(ring, std::move(sink), opt);
  (*d)->start();
  constexpr std::uint64_t kTotal = 20'000;
  for (std::uint64_t i = 0; i < kTotal; ++i) {
    ring.push(make_sample(i));
    if (i % 100 == 0) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(test::eventually([&] {
    auto s = (*d)->stats();
    return s.ring_lag == 0 && s.spooled + s.delivered + s.dropped_overrun >= kTotal;
  }, 5s));
  ts->mode = TestSink::accept;
  REQUIRE(test::eventually([&] {
    auto s = (*d)->stats();
    return s.spool_backlog == 0 && s.state == SinkState::delivering;
  }, 5s));
  (*d)->stop();
  const SinkStats st = (*d)->stats();
  CHECK(st.dropped_spool_full > 0);
  CHECK(st.dropped_overrun == 0);
  CHECK(st.delivered + st.dropped_spool_full == kTotal);
  const auto got = ts->received();
  CHECK(std::is_sorted(got.begin(), got.end()));
  CHECK(got.back() == kTotal - 1);
  // The warning's number is the counter's, not the first drop's.
  const std::string e = rec.find_last("raise pipeline.spool_full test");
  INFO(e);
  CHECK(e.find(": " + std::to_string(st.dropped_spool_full) + " unsent samples deleted") != std::string::npos);
}

TEST_CASE("delivery: corrupt spool records are counted as dropped, and the warning says how many") {
  test::TempDir tmp;
  Recorder rec;
  {
    Ring ring(1024);
    auto sink = std::make_unique<TestSink>();
    sink->mode = TestSink::retry;
    auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path(), &rec));
    (*d)->start();
    for (std::uint64_t i = 0; i < 300; ++i) ring.push(make_sample(i));
    (*d)->stop();
  }
  // Damage 11 records spread over the segment (one byte of each sample).
  std::filesystem::path seg;
  for (const auto& e : std::filesystem::directory_iterator(tmp / "sinks/test/spool"))
    if (e.path().extension() == ".seg") seg = e.path();
  REQUIRE(!seg.empty());
  std::string bytes = test::read_file(seg);
  for (std::size_t k = 0; k < 11; ++k) bytes[Spool::kHeaderSize + (5 + k * 25) * Spool::kRecordSize + 40] ^= 0x5a;
  test::write_file(seg, bytes);

  Ring ring(1024);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path(), &rec));
  (*d)->start();
  REQUIRE(test::eventually([&] { return ts->count() == 289; }, 5s));
  (*d)->stop();
  const SinkStats st = (*d)->stats();
  CHECK(st.corrupt_skipped == 11);
  CHECK(st.delivered + st.corrupt_skipped == 300);
  const std::string e = rec.find_last("raise pipeline.spool_corrupt test");
  INFO(e);
  CHECK(e.find(": 11 torn or corrupt spool records skipped") != std::string::npos);
}

TEST_CASE("delivery: the restart reports the gap it can see per device") {
  test::TempDir tmp;
  Recorder rec;
  {
    Ring ring(1024);
    auto d = SinkDelivery::create(ring, std::make_unique<TestSink>(), fast_options(tmp.path(), &rec));
    for (std::uint64_t i = 0; i < 100; ++i) ring.push(make_sample(i));
    (*d)->stop();
  }
  CHECK_FALSE(rec.has("raise pipeline.restart_gap"));
  Ring ring(1024);
  auto d = SinkDelivery::create(ring, std::make_unique<TestSink>(), fast_options(tmp.path(), &rec));
  (*d)->start();
  ring.push(make_sample(150));  // 100..149 never reached the gateway (or died in its ring)
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered == 1; }, 5s));
  (*d)->stop();
  CHECK((*d)->stats().restart_gaps == 1);
  const std::string e = rec.find("raise pipeline.restart_gap test");
  INFO(e);
  CHECK(e.find("sequence 99") != std::string::npos);
  CHECK(e.find("sequence 150") != std::string::npos);
  CHECK(e.find("50 samples missing (by sequence count)") != std::string::npos);
}

TEST_CASE("watermarks: a meter that restarted its sequence count is measured by time and RPI, and named") {
  // The meter's count went 62,800 -> 1 across the restart, 1.7 s apart at RPI 100 ms: by
  // sequence that would be 2,736 missing; the time allows 16.
  const Watermarks::Mark last{1'000'000'000, 62'800};
  const Watermarks::Mark first{2'700'000'000, 1};
  const auto g = Watermarks::measure("mcc-7", 102, last, first, true, 100);
  CHECK(g.basis == Watermarks::Gap::Basis::time);
  CHECK(g.missing == 16);
  INFO(g.describe());
  CHECK(g.describe().find("device mcc-7 assembly 102") != std::string::npos);
  CHECK(g.describe().find("about 16 samples missing (by time at RPI 100 ms") != std::string::npos);
  // The count agrees with the time (a late packet either way): the exact count is kept.
  const auto exact = Watermarks::measure("mcc-7", 102, {1'000'000'000, 500}, {2'730'000'000, 517}, true, 100);
  CHECK(exact.basis == Watermarks::Gap::Basis::sequence);
  CHECK(exact.missing == 16);
  // Longer than a wrap of the 16-bit count (65,536 x 10 ms = 655 s): wraps come from the time.
  const auto wrapped = Watermarks::measure("m", 101, {0, 10}, {955'260'000'000, 30'000}, true, 10);
  CHECK(wrapped.basis == Watermarks::Gap::Basis::sequence);
  CHECK(wrapped.missing == 65'536 + 30'000 - 10 - 1);
}

TEST_CASE("watermarks: sequence counts are compared within one connection only; a new one is measured by time") {
  // 1.2 s at RPI 100 ms: 11 samples by time. The old connection's last count was 5; the first
  // sample after the restart has count 14. On the same connection (a multicast stream that
  // outlived the restart) that is exactly 8 missing; on a new connection, whose count started
  // over, the 14 says nothing about the old count, and the restart of the count is no loss.
  const Watermarks::Mark last{1'000'000'000, 5, 0x00A1'0001};
  const auto same = Watermarks::measure("mcc-1", 101, last, {2'200'000'000, 14, 0x00A1'0001}, true, 100);
  CHECK(same.basis == Watermarks::Gap::Basis::sequence);
  CHECK(same.missing == 8);
  CHECK_FALSE(same.new_connection);
  const auto fresh = Watermarks::measure("mcc-1", 101, last, {2'200'000'000, 14, 0x00B7'0002}, true, 100);
  CHECK(fresh.new_connection);
  CHECK(fresh.basis == Watermarks::Gap::Basis::time);
  CHECK(fresh.missing == 11);
  INFO(fresh.describe());
  CHECK(fresh.describe().find("about 11 samples missing (by time at RPI 100 ms: a new connection") != std::string::npos);
  // A new connection right after the old one (a fast restart): nothing missing, no gap at all,
  // although the counts 5 -> 1 would be 65,531 by sequence.
  const auto quick = Watermarks::measure("mcc-1", 101, last, {1'100'000'000, 1, 0x00B7'0002}, true, 100);
  CHECK(quick.basis == Watermarks::Gap::Basis::time);
  CHECK(quick.missing == 0);
  // An id not known (an older watermark file, or explicit reads) keeps the count's word.
  const auto unknown = Watermarks::measure("mcc-1", 101, {1'000'000'000, 5, 0}, {2'200'000'000, 14, 0x00B7'0002},
                                           true, 100);
  CHECK(unknown.basis == Watermarks::Gap::Basis::sequence);
}

TEST_CASE("watermarks: the connection is persisted with the mark; the older file format still loads") {
  test::TempDir tmp;
  Catalog cat;
  cat.devices.push_back(DeviceMeta{"mcc-1", "s", "mcc-1", 1, {}});
  auto on = [](std::uint64_t n, std::uint16_t seq, std::uint32_t connection) {
    Sample s = make_sample(n);
    s.sequence = seq;
    s.connection = connection;
    return s;
  };
  {
    Watermarks w(tmp / "wm", &cat);
    CHECK_FALSE(w.update(on(1000, 1000, 7)));
    REQUIRE(w.persist());
  }
  {
    // 12 ms later at RPI 1 ms: 11 by time; count 1009 would say 8 on the same connection.
    Watermarks w(tmp / "wm", &cat);
    w.load();
    auto g = w.update(on(1012, 1009, 8));
    REQUIRE(g);
    CHECK(g->new_connection);
    CHECK(g->basis == Watermarks::Gap::Basis::time);
    CHECK(g->missing == 11);
  }
  {
    Watermarks w(tmp / "wm", &cat);
    w.load();
    auto g = w.update(on(1012, 1009, 7));
    REQUIRE(g);
    CHECK(g->basis == Watermarks::Gap::Basis::sequence);
    CHECK(g->missing == 8);
  }
  // Format 2 (no connection id), as the previous release wrote it: loads, ids not known.
  std::string v2("PM5WMK02", 8);
  std::string entry;
  const std::uint16_t assembly = 101, len = 5;
  const std::int64_t time = make_sample(1000).source_time_ns;
  const std::uint16_t seq = 1000;
  entry.append(reinterpret_cast<const char*>(&assembly), 2).append(reinterpret_cast<const char*>(&len), 2);
  entry.append("mcc-1").append(reinterpret_cast<const char*>(&time), 8).append(reinterpret_cast<const char*>(&seq), 2);
  const std::uint32_t count = 1, crc = crc32c(std::as_bytes(std::span<const char>(entry.data(), entry.size())));
  v2.append(reinterpret_cast<const char*>(&count), 4).append(reinterpret_cast<const char*>(&crc), 4).append(entry);
  test::write_file(tmp / "wm2", v2);
  Watermarks w(tmp / "wm2", &cat);
  w.load();
  auto g = w.update(on(1012, 1009, 9));
  REQUIRE(g);
  CHECK(g->basis == Watermarks::Gap::Basis::sequence);
  CHECK(g->missing == 8);
}

TEST_CASE("watermarks: keyed by device name, so a reordered configuration compares each device with its own") {
  test::TempDir tmp;
  Catalog before, after;
  for (const char* n : {"mcc-1", "mcc-2"}) before.devices.push_back(DeviceMeta{n, "s", n, 1, {}});
  for (const char* n : {"new-0", "mcc-2", "mcc-1"}) after.devices.push_back(DeviceMeta{n, "s", n, 1, {}});
  {
    Watermarks w(tmp / "wm", &before);
    Sample a = make_sample(1000, 0), b = make_sample(5000, 1);
    CHECK_FALSE(w.update(a));
    CHECK_FALSE(w.update(b));
    REQUIRE(w.persist());
  }
  Watermarks w(tmp / "wm", &after);
  w.load();
  // mcc-1 is index 2 now and continues directly after its sample 1000: no gap.
  CHECK_FALSE(w.update(make_sample(1001, 2)));
  // mcc-2 is index 1 and missed 5001..5009.
  auto g = w.update(make_sample(5010, 1));
  REQUIRE(g);
  CHECK(g->device == "mcc-2");
  CHECK(g->missing == 9);
  // A new device has no history: nothing to compare.
  CHECK_FALSE(w.update(make_sample(7, 0)));
}

TEST_CASE("pipeline: several sinks each get every sample; one sink's outage does not affect another") {
  test::TempDir tmp;
  Pipeline pipe(16384);
  auto a = std::make_unique<TestSink>();
  auto b = std::make_unique<TestSink>();
  TestSink* ta = a.get();
  TestSink* tb = b.get();
  tb->mode = TestSink::retry;
  auto oa = fast_options(tmp.path());
  oa.name = "a";
  auto ob = fast_options(tmp.path());
  ob.name = "b";
  REQUIRE(pipe.add_sink(std::move(a), oa));
  REQUIRE(pipe.add_sink(std::move(b), ob));
  CHECK_FALSE(pipe.add_sink(std::make_unique<TestSink>(), oa));  // same name twice
  pipe.start();
  for (std::uint64_t i = 0; i < 5000; ++i) {
    pipe.publish(make_sample(i));
    if (i % 200 == 0) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(test::eventually([&] { return ta->count() == 5000; }, 5s));
  tb->mode = TestSink::accept;
  REQUIRE(test::eventually([&] { return tb->count() == 5000; }, 5s));
  pipe.stop();
  CHECK(ta->received() == iota(0, 5000));
  CHECK(tb->received() == iota(0, 5000));
  auto stats = pipe.stats();
  REQUIRE(stats.size() == 2);
  // b's outage never reached a: no failed attempt, every sample confirmed once. (a may still
  // pass samples through its spool when it reads more slowly than they arrive, as in a
  // ThreadSanitizer build: that is its own catch-up path, not b's outage.)
  CHECK(stats[0].retries == 0);
  CHECK(stats[0].delivered == 5000);
  CHECK(stats[1].retries > 0);
  CHECK(stats[1].spooled > 0);
}

TEST_CASE("delivery: woken by the producer, not by a timer: a notified sample goes out at once") {
  test::TempDir tmp;
  Ring ring(1024);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto o = fast_options(tmp.path());
  o.poll_interval = 10s;  // a timer would take this long
  o.delivery.flush_interval_ms = 0;
  auto d = SinkDelivery::create(ring, std::move(sink), o);
  (*d)->start();
  std::this_thread::sleep_for(50ms);  // asleep now
  for (int k = 0; k < 3; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    ring.push(make_sample(static_cast<std::uint64_t>(k)));
    ring.notify();
    REQUIRE(test::eventually([&] { return ts->count() == static_cast<std::size_t>(k + 1); }, 5s));
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);  // far below the 10 s timer
  }
  // The thread carries the sink's name, for `top -H`, `ps -L` and perf.
  bool named = false;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(t.path() / "comm");
    std::string name;
    std::getline(comm, name);
    named = named || name == "sink-test";
  }
  CHECK(named);
  (*d)->stop();
}

TEST_CASE("delivery: replay is not capped by default, and a sink that stalled catches up while input goes on") {
  CHECK(config::DeliverySection{}.replay_rate == 0);
  test::TempDir tmp;
  Recorder rec;
  Ring ring(1u << 16);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto o = fast_options(tmp.path(), &rec);
  o.delivery.replay_rate = config::DeliverySection{}.replay_rate;
  o.delivery.batch_size = 500;
  auto d = SinkDelivery::create(ring, std::move(sink), o);
  (*d)->start();
  // About 20,000 samples/s for 3 s; the destination is down for the first second.
  ts->mode = TestSink::retry;
  std::uint64_t n = 0;
  const auto start = std::chrono::steady_clock::now();
  bool caught_up = false;
  while (std::chrono::steady_clock::now() - start < 3s) {
    for (int i = 0; i < 20; ++i) ring.push(make_sample(n++));
    ring.notify();
    std::this_thread::sleep_for(1ms);
    if (ts->mode == TestSink::retry && std::chrono::steady_clock::now() - start > 1s) ts->mode = TestSink::accept;
    const SinkStats st = (*d)->stats();
    if (ts->mode == TestSink::accept && st.replayed > 0 && st.state == SinkState::delivering && st.spool_backlog == 0)
      caught_up = true;
  }
  CHECK(caught_up);  // the backlog was gone while samples kept arriving
  REQUIRE(test::eventually([&] { return ts->count() == n; }, 10s));
  (*d)->stop();
  CHECK(ts->received() == iota(0, n));
  CHECK((*d)->stats().spooled > 0);
}

TEST_CASE("delivery: while a backlog drains, the replay rate and the time to catch up are shown") {
  test::TempDir tmp;
  Ring ring(1u << 15);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  ts->mode = TestSink::retry;
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path()));
  (*d)->start();
  for (std::uint64_t i = 0; i < 20'000; ++i) ring.push(make_sample(i));
  REQUIRE(test::eventually([&] { return (*d)->stats().spool_backlog == 20'000; }, 5s));
  // 100 samples per 25 ms: at most 4,000/s, a drain of 5 s or more (the rate is measured over
  // one-second windows, so a drain must last a few of them even in a sanitizer build).
  ts->delay_ms = 25;
  ts->mode = TestSink::accept;
  bool seen = false;
  REQUIRE(test::eventually(
      [&] {
        const SinkStats st = (*d)->stats();
        if (st.spool_backlog > 0 && st.replay_per_s > 100 && st.replay_per_s <= 4'100 && st.catch_up_s > 0 &&
            st.catch_up_s < 120)
          seen = true;
        return st.spool_backlog == 0;
      },
      60s));
  CHECK(seen);
  ts->delay_ms = 0;
  REQUIRE(test::eventually([&] { return (*d)->stats().replay_per_s == 0 && (*d)->stats().catch_up_s == 0; }, 5s));
  (*d)->stop();
}

TEST_CASE("delivery: a streaming sink gets new samples while earlier ones wait for their confirmation") {
  test::TempDir tmp;
  Ring ring(1024);
  auto sink = std::make_unique<StreamingTestSink>();
  StreamingTestSink* ts = sink.get();
  auto o = fast_options(tmp.path());
  o.poll_interval = 10s;  // only the producer's notify() and the sink's waker end a sleep
  o.delivery.flush_interval_ms = 0;
  auto d = SinkDelivery::create(ring, std::move(sink), o);
  REQUIRE(d);
  (*d)->start();
  for (std::uint64_t i = 0; i < 5; ++i) ring.push(make_sample(i));
  ring.notify();
  REQUIRE(test::eventually([&] { return ts->sent_samples().size() == 5; }, 5s));
  // Nothing is confirmed, yet the next samples go out too.
  for (std::uint64_t i = 5; i < 10; ++i) ring.push(make_sample(i));
  ring.notify();
  REQUIRE(test::eventually([&] { return ts->sent_samples().size() == 10; }, 5s));
  CHECK(ts->sends() >= 2);
  CHECK(ts->sent_samples() == iota(0, 10));
  CHECK((*d)->stats().delivered == 0);
  // Confirmations retire the oldest first; the waker reports them without a poll.
  ts->release(4);
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered == 4; }, 5s));
  ts->release(10);
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered == 10; }, 5s));
  (*d)->stop();
  CHECK(ts->received() == iota(0, 10));
  CHECK(ts->retried_samples().empty());
  CHECK((*d)->stats().spooled == 0);
}

TEST_CASE("delivery: confirmations behind one not yet taken wake nobody (one wake-up, not one per PUBACK)") {
  // A broker acknowledges every message, on its client library's thread; the ring's wake-up
  // reaches every sink's thread. Only the first confirmation since the delivery thread last
  // looked may cost a system call.
  test::TempDir tmp;
  Ring ring(1024);
  auto sink = std::make_unique<StreamingTestSink>();
  StreamingTestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), fast_options(tmp.path()));
  REQUIRE(d);  // not started: nothing takes the confirmations' flag
  std::atomic<bool> done{false};
  std::thread other_sink([&] {  // another consumer of the ring, asleep
    while (!done.load()) ring.wait(0, [] { return std::uint64_t{0}; }, std::chrono::seconds(5));
  });
  REQUIRE(test::eventually([&] { return ring.sleeping() == 1; }, 5s));
  const std::uint64_t before = ring.wake_ups();
  for (int i = 0; i < 100; ++i) ts->release(0);
  CHECK(ring.wake_ups() - before == 1);
  done = true;
  ring.wake_all();
  other_sink.join();
}

TEST_CASE("delivery: a broken stream hands every unconfirmed sample back, in order, through deliver()") {
  test::TempDir tmp;
  Recorder rec;
  Ring ring(1024);
  auto sink = std::make_unique<StreamingTestSink>();
  StreamingTestSink* ts = sink.get();
  auto o = fast_options(tmp.path(), &rec);
  o.delivery.flush_interval_ms = 0;
  o.spool_after = 10s;  // retried from memory
  auto d = SinkDelivery::create(ring, std::move(sink), o);
  REQUIRE(d);
  (*d)->start();
  for (std::uint64_t i = 0; i < 10; ++i) ring.push(make_sample(i));
  ring.notify();
  REQUIRE(test::eventually([&] { return ts->sent_samples().size() == 10; }, 5s));
  ts->release(3);
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered == 3; }, 5s));
  ts->fail();
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered == 10; }, 5s));
  // Samples pushed after the break stream again once the retry got through.
  for (std::uint64_t i = 10; i < 15; ++i) ring.push(make_sample(i));
  ring.notify();
  REQUIRE(test::eventually([&] { return ts->sent_samples().size() == 15; }, 5s));
  ts->release(15 - 7);  // the 7 retried samples were confirmed by deliver(), not by the stream
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered == 15; }, 5s));
  (*d)->stop();
  const SinkStats st = (*d)->stats();
  CHECK(ts->retried_samples() == iota(3, 7));
  CHECK(ts->received() == iota(0, 15));
  CHECK(st.retries == 1);
  CHECK(st.spooled == 0);
}
