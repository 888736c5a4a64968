// Durable mode: every received sample is journaled before any sink reads it, so kill -9 loses
// nothing that was received -- not even what a healthy sink held in memory.
#include <doctest/doctest.h>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.hpp"
#include "pipeline/delivery.hpp"
#include "pipeline/journal.hpp"
#include "pipeline/layout.hpp"
#include "support/support.hpp"
#include "test_sinks.hpp"

using namespace pm500;
using namespace std::chrono_literals;
using pm500::test::make_sample;
using pm500::test::TestSink;

namespace {

Catalog one_device() {
  Catalog c;
  DeviceMeta d;
  d.name = "mcc-1";
  d.fields[1] = {"a", "b"};
  c.devices.push_back(d);
  return c;
}

Journal::Options journal_options(const std::filesystem::path& state, const Catalog& c) {
  Journal::Options o;
  o.dir = state / "journal";
  o.fsync_interval = 50ms;
  o.layout = layout::encode(c);
  return o;
}

// In a child process: a gateway's pipeline whose one sink holds what it reads in memory (its
// destination is slow), fed `count` samples in batches as the scanner does; then it reports
// "ready" on the pipe and waits to be killed.
[[noreturn]] void child(const std::filesystem::path& state, bool durable, std::uint64_t count, bool accept, int ready_fd) {
  const Catalog c = one_device();
  std::unique_ptr<Journal> journal;
  if (durable) {
    auto j = Journal::open(journal_options(state, c));
    if (!j) _exit(10);
    journal = std::move(*j);
  }
  Ring ring(1u << 14);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  if (!accept) ts->delay_ms = 100'000;  // the first batch never comes back before the kill
  auto o = test::quick_options(state);
  o.catalog = &c;
  o.journal = journal.get();
  o.delivery.flush_interval_ms = 1000;  // a sink that batches in memory, as the file sink does
  o.delivery.spool_fsync_interval_ms = 50;
  auto d = SinkDelivery::create(ring, std::move(sink), o);
  if (!d) _exit(11);
  if (journal) {
    if (!journal->recovered()) _exit(12);
    journal->track("test", &(*d)->custody_position());
    journal->start();
  }
  (*d)->start();
  for (std::uint64_t i = 0; i < count; ++i) {
    ring.push(make_sample(i));
    if (journal) journal->stage(make_sample(i));
    if (i % 100 == 99 && journal) journal->commit();
  }
  if (journal) journal->commit();
  if (accept)
    while (ts->count() < count) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(300ms);  // several sync rounds
  const char ok = 'r';
  if (::write(ready_fd, &ok, 1) != 1) _exit(13);
  for (;;) pause();
}

// Runs child(), kills it with SIGKILL once it is ready.
void run_and_kill(const std::filesystem::path& state, bool durable, std::uint64_t count, bool accept) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    child(state, durable, count, accept, fds[1]);
  }
  ::close(fds[1]);
  char c = 0;
  const bool ready = ::read(fds[0], &c, 1) == 1;
  ::close(fds[0]);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(ready);
}

struct Restarted {
  std::unique_ptr<Journal> journal;
  std::unique_ptr<SinkDelivery> delivery;
  TestSink* sink = nullptr;
};

Restarted restart(const std::filesystem::path& state, const Catalog& c, bool durable) {
  Restarted r;
  if (durable) {
    auto j = Journal::open(journal_options(state, c));
    REQUIRE(j);
    r.journal = std::move(*j);
  }
  static Ring ring(1024);
  auto sink = std::make_unique<TestSink>();
  r.sink = sink.get();
  auto o = test::quick_options(state);
  o.catalog = &c;
  o.journal = r.journal.get();
  auto d = SinkDelivery::create(ring, std::move(sink), o);
  REQUIRE(d);
  r.delivery = std::move(*d);
  if (r.journal) REQUIRE(r.journal->recovered());
  r.delivery->start();
  return r;
}

}  // namespace

TEST_CASE("journal: kill -9 loses nothing received, though the sink held it in memory") {
  test::TempDir tmp;
  const Catalog c = one_device();
  constexpr std::uint64_t kCount = 5000;
  run_and_kill(tmp.path(), true, kCount, false);
  auto r = restart(tmp.path(), c, true);
  REQUIRE(test::eventually([&] { return r.sink->count() >= kCount; }, 10s));
  r.delivery->stop();
  CHECK(r.sink->received() == [] {
    std::vector<std::uint64_t> v(kCount);
    for (std::uint64_t i = 0; i < kCount; ++i) v[i] = i;
    return v;
  }());
  CHECK(r.journal->stats().recovered == kCount);
  r.journal->stop();
}

TEST_CASE("journal: without it (memory mode) the same kill loses what the sink held -- the documented default") {
  test::TempDir tmp;
  const Catalog c = one_device();
  run_and_kill(tmp.path(), false, 5000, false);
  auto r = restart(tmp.path(), c, false);
  std::this_thread::sleep_for(200ms);
  r.delivery->stop();
  CHECK(r.sink->count() == 0);
}

TEST_CASE("journal: what a sink delivered and synced is not sent again after kill -9, and the journal shrinks") {
  test::TempDir tmp;
  const Catalog c = one_device();
  run_and_kill(tmp.path(), true, 3000, true);
  auto r = restart(tmp.path(), c, true);
  std::this_thread::sleep_for(200ms);
  r.delivery->stop();
  // Everything was delivered and secured several sync rounds before the kill: nothing comes back.
  CHECK(r.journal->stats().recovered == 0);
  CHECK(r.sink->count() == 0);
  CHECK(r.journal->stats().backlog == 0);
  r.journal->stop();
}
