#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "helpers.hpp"
#include "pipeline/spool.hpp"
#include "support/support.hpp"

using namespace pm500;
using pm500::test::make_sample;
using pm500::test::sample_number;
namespace fs = std::filesystem;

namespace {

std::vector<Sample> samples(std::uint64_t first, std::uint64_t count) {
  std::vector<Sample> v;
  for (std::uint64_t i = 0; i < count; ++i) v.push_back(make_sample(first + i));
  return v;
}

std::unique_ptr<Spool> open_spool(const fs::path& dir, std::uint64_t max_bytes = 64ull << 20, std::uint64_t segment = 0) {
  auto sp = Spool::open({.dir = dir, .max_bytes = max_bytes, .segment_bytes = segment});
  REQUIRE(sp);
  return std::move(*sp);
}

// Reads everything (acknowledging as it goes); returns the sample numbers.
std::vector<std::uint64_t> read_all(Spool& sp, std::size_t batch = 97) {
  std::vector<std::uint64_t> got;
  std::vector<Sample> buf(batch);
  for (;;) {
    auto r = sp.read(buf);
    REQUIRE(r);
    for (std::size_t i = 0; i < r->count; ++i) got.push_back(sample_number(buf[i]));
    sp.ack(r->end);
    if (r->count == 0 && sp.empty()) break;
  }
  return got;
}

std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> v;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".seg") v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::uint64_t> iota(std::uint64_t first, std::uint64_t count) {
  std::vector<std::uint64_t> v(count);
  for (std::uint64_t i = 0; i < count; ++i) v[i] = first + i;
  return v;
}

}  // namespace

TEST_CASE("spool: replays in order across segments, and shrinks back to nothing once acknowledged") {
  test::TempDir tmp;
  auto sp = open_spool(tmp.path(), 64ull << 20, 64 << 10);  // ~350 records per segment
  for (int b = 0; b < 20; ++b) REQUIRE(sp->append(samples(b * 100, 100)));
  CHECK(sp->stats().segments > 4);
  CHECK(read_all(*sp) == iota(0, 2000));
  CHECK(sp->stats().segments == 0);
  CHECK(sp->stats().bytes == 0);
  CHECK(sp->stats().corrupt_skipped == 0);
}

TEST_CASE("spool: a restart mid-replay resumes at the persisted acknowledged offset") {
  test::TempDir tmp;
  {
    auto sp = open_spool(tmp.path());
    REQUIRE(sp->append(samples(0, 1000)));
    std::vector<Sample> buf(300);
    auto r = sp->read(buf);
    REQUIRE(r);
    CHECK(r->count == 300);
    sp->ack(r->end);
  }  // orderly close: the offset is persisted
  auto sp = open_spool(tmp.path());
  CHECK(sp->backlog() == 700);
  CHECK(read_all(*sp) == iota(300, 700));
}

TEST_CASE("spool: after kill -9, only what was acknowledged since the last sync is sent again") {
  test::TempDir tmp;
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto sp = Spool::open({.dir = tmp.path(), .fsync_interval = std::chrono::hours(1)});
    if (!sp) _exit(1);
    if (!(*sp)->append(samples(0, 1000))) _exit(2);
    std::vector<Sample> buf(300);
    auto r = (*sp)->read(buf);
    (*sp)->ack(r->end);
    if (!(*sp)->sync()) _exit(3);  // acknowledged offset 300 persisted
    r = (*sp)->read(buf);
    (*sp)->ack(r->end);  // 600 acknowledged, but the process dies before the next sync
    if (!(*sp)->append(samples(1000, 10))) _exit(4);
    _exit(0);  // no destructor, no sync: like kill -9
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  auto sp = open_spool(tmp.path());
  // 300..599 go again (at-least-once), nothing before 300, nothing lost after.
  CHECK(read_all(*sp) == iota(300, 710));
}

TEST_CASE("spool: a torn last record is cut off and counted, and appending continues") {
  test::TempDir tmp;
  {
    auto sp = open_spool(tmp.path());
    REQUIRE(sp->append(samples(0, 100)));
  }
  auto segs = segments(tmp.path());
  REQUIRE(segs.size() == 1);
  fs::resize_file(segs[0], fs::file_size(segs[0]) - 50);
  auto sp = open_spool(tmp.path());
  CHECK(sp->stats().corrupt_skipped == 1);
  CHECK(sp->backlog() == 99);
  REQUIRE(sp->append(samples(99, 5)));
  CHECK(read_all(*sp) == iota(0, 104));
  CHECK(sp->stats().corrupt_skipped == 1);
}

TEST_CASE("spool: a corrupt record in the middle is skipped and counted, the rest arrives") {
  test::TempDir tmp;
  {
    auto sp = open_spool(tmp.path());
    REQUIRE(sp->append(samples(0, 100)));
  }
  auto segs = segments(tmp.path());
  REQUIRE(segs.size() == 1);
  {
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(Spool::kHeaderSize + 50 * Spool::kRecordSize + 40));
    f.put('\x5a');
  }
  auto sp = open_spool(tmp.path());
  auto got = read_all(*sp);
  auto want = iota(0, 100);
  want.erase(want.begin() + 50);
  CHECK(got == want);
  CHECK(sp->stats().corrupt_skipped == 1);
}

TEST_CASE("spool: a zeroed tail (file system crash) is skipped record by record") {
  test::TempDir tmp;
  {
    auto sp = open_spool(tmp.path());
    REQUIRE(sp->append(samples(0, 10)));
  }
  auto segs = segments(tmp.path());
  fs::resize_file(segs[0], fs::file_size(segs[0]) + 3 * Spool::kRecordSize);  // zeros
  auto sp = open_spool(tmp.path());
  CHECK(read_all(*sp) == iota(0, 10));
  CHECK(sp->stats().corrupt_skipped == 3);
}

TEST_CASE("spool: full spool drops whole oldest segments and counts every dropped sample exactly") {
  test::TempDir tmp;
  const std::uint64_t seg = Spool::kHeaderSize + 100 * Spool::kRecordSize;  // 100 records
  auto sp = open_spool(tmp.path(), 4 * seg, seg);
  std::uint64_t dropped_reported = 0;
  for (int b = 0; b < 30; ++b) {
    REQUIRE(sp->append(samples(b * 50, 50)));
    dropped_reported += sp->last_dropped();
    CHECK(sp->stats().bytes <= 4 * seg);
  }
  const auto st = sp->stats();
  CHECK(st.dropped_full == dropped_reported);
  CHECK(st.dropped_full > 0);
  const auto got = read_all(*sp);
  // What survives is the newest, contiguous and in order; survivors + dropped == appended.
  CHECK(got.size() + st.dropped_full == 1500);
  CHECK(got == iota(1500 - got.size(), got.size()));
  CHECK(st.dropped_full % 100 == 0);  // whole segments
}

TEST_CASE("spool: a batch already read is not counted as dropped when its segment goes") {
  test::TempDir tmp;
  const std::uint64_t seg = Spool::kHeaderSize + 100 * Spool::kRecordSize;
  auto sp = open_spool(tmp.path(), 3 * seg, seg);
  REQUIRE(sp->append(samples(0, 100)));
  std::vector<Sample> held(40);
  auto r = sp->read(held);  // 0..39 in memory, not acknowledged
  REQUIRE(r->count == 40);
  for (int b = 0; b < 3; ++b) REQUIRE(sp->append(samples(100 + b * 100, 100)));
  // Segment 0..99 was dropped: 60 unread samples lost, the 40 held ones still deliverable.
  CHECK(sp->stats().dropped_full == 60);
  sp->ack(r->end);
  const auto got = read_all(*sp);
  CHECK(got.size() + 40 + 60 == 400);
  CHECK(got.front() == 100);
}

TEST_CASE("spool: replay memory stays bounded by the read size whatever the backlog") {
  test::TempDir tmp;
  auto sp = open_spool(tmp.path(), 256ull << 20, 4 << 20);
  constexpr std::uint64_t kBacklog = 100'000;  // 18 MB on disk
  for (std::uint64_t b = 0; b < kBacklog / 1000; ++b) REQUIRE(sp->append(samples(b * 1000, 1000)));
  std::vector<Sample> buf(500);
  std::uint64_t n = 0, max_held = 0, next = 0;
  bool ordered = true;
  while (!sp->empty()) {
    auto r = sp->read(buf);
    REQUIRE(r);
    for (std::size_t i = 0; i < r->count; ++i) ordered = ordered && sample_number(buf[i]) == next++;
    n += r->count;
    sp->ack(r->end);
    max_held = std::max(max_held, sp->stats().read_buffer_bytes);
  }
  CHECK(ordered);
  CHECK(n == kBacklog);
  CHECK(max_held <= 500 * Spool::kRecordSize);
}

TEST_CASE("spool: an unreadable segment header is set aside and its records counted") {
  test::TempDir tmp;
  {
    auto sp = open_spool(tmp.path());
    REQUIRE(sp->append(samples(0, 10)));
  }
  auto segs = segments(tmp.path());
  {
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.put('X');
  }
  auto sp = open_spool(tmp.path());
  CHECK(sp->stats().corrupt_skipped == 10);
  CHECK(sp->empty());
  CHECK(fs::exists(fs::path(segs[0]).concat(".unreadable")));
}

TEST_CASE("spool: the parts of an assembly of more than 18 elements come back whole, part numbers kept") {
  test::TempDir tmp;
  std::vector<Sample> in;
  for (std::uint16_t seq = 1; seq <= 3; ++seq)
    for (std::uint8_t part = 0; part < 3; ++part) {  // 40 elements: 18 + 18 + 4
      Sample s;
      s.source_time_ns = 1'000'000'000LL * seq;
      s.assembly = 100;
      s.sequence = seq;
      s.connection = 7;
      s.part = part;
      s.count = part < 2 ? 18 : 4;
      for (std::size_t i = 0; i < s.count; ++i) s.values[i] = seq * 1000.0 + part * 18 + static_cast<double>(i);
      in.push_back(s);
    }
  {
    auto sp = open_spool(tmp.path());
    REQUIRE(sp->append(in));
  }  // reopened: what a restart reads
  auto sp = open_spool(tmp.path());
  std::vector<Sample> out(in.size() + 1);
  auto r = sp->read(out);
  REQUIRE(r);
  REQUIRE(r->count == in.size());
  for (std::size_t k = 0; k < in.size(); ++k) {
    CHECK(out[k].part == in[k].part);
    CHECK(out[k].sequence == in[k].sequence);
    CHECK(out[k].count == in[k].count);
    CHECK(std::memcmp(&out[k], &in[k], sizeof(Sample)) == 0);
  }
}
