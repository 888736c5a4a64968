// A full disk under state_dir: spools drop their oldest samples, counted exactly, raise
// pipeline.disk_full with the counter's number, and never stall a sink whose destination is up.
// Runs on a small tmpfs the test mounts (needs root, as CI runs).
#include <doctest/doctest.h>

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <numeric>
#include <unistd.h>

#include "helpers.hpp"
#include "pipeline/delivery.hpp"
#include "sinks/file/file_sink.hpp"
#include "support/support.hpp"
#include "test_sinks.hpp"

using namespace pm500;
using namespace std::chrono_literals;
using pm500::test::make_sample;
using pm500::test::Recorder;
using pm500::test::TestSink;

namespace {

// A tmpfs of the given size, unmounted (lazily) when the object goes.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& size) {
    REQUIRE_MESSAGE(::geteuid() == 0, "this test mounts a tmpfs: run it as root (CI does)");
    dir_ = tmp_.path() / "disk";
    std::filesystem::create_directories(dir_);
    const auto r = test::run({"mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0700", "tmpfs", dir_.string()});
    INFO("mount tmpfs: ", r.output);
    REQUIRE(r.code == 0);
    mounted_ = true;
  }
  ~SmallDisk() {
    if (mounted_) (void)test::run({"umount", "-l", dir_.string()});
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  test::TempDir tmp_;
  std::filesystem::path dir_;
  bool mounted_ = false;
};

// Writes a file until the filesystem says ENOSPC; returns its path.
std::filesystem::path fill(const std::filesystem::path& dir) {
  const auto path = dir / "filler";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  std::vector<char> block(4096, 'x');
  while (::write(fd, block.data(), block.size()) > 0) {
  }
  CHECK(errno == ENOSPC);
  ::close(fd);
  return path;
}

SinkDelivery::Options options(const std::filesystem::path& state, DiskSpace* disk, Recorder* rec) {
  SinkDelivery::Options o = test::quick_options(state, rec);
  o.disk = disk;  // spool_max_mb (64) is more than the disk: the disk is the bound here
  return o;
}

std::vector<std::uint64_t> iota(std::uint64_t first, std::uint64_t count) {
  std::vector<std::uint64_t> v(count);
  std::iota(v.begin(), v.end(), first);
  return v;
}

}  // namespace

TEST_CASE("disk full: the oldest spooled samples go, counted; the sink catches up once its destination is back") {
  SmallDisk disk("4m");
  Recorder rec;
  DiskSpace space(disk.dir(), 1u << 20, &rec);
  Ring ring(1u << 16);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  ts->mode = TestSink::retry;  // the destination is down from the start
  auto d = SinkDelivery::create(ring, std::move(sink), options(disk.dir(), &space, &rec));
  REQUIRE(d);
  (*d)->start();
  // 40,000 records of 184 bytes = 7.4 MB: about twice what the 3 MiB above the reserve holds.
  constexpr std::uint64_t kTotal = 40'000;
  for (std::uint64_t i = 0; i < kTotal; ++i) {
    ring.push(make_sample(i));
    if (i % 200 == 0) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(test::eventually([&] { return (*d)->stats().ring_lag == 0; }, 10s));
  std::this_thread::sleep_for(200ms);
  SinkStats st = (*d)->stats();
  CHECK(st.dropped_disk > 0);
  CHECK(st.dropped_overrun == 0);
  CHECK(space.snapshot().dropped == st.dropped_disk);
  CHECK(space.snapshot().short_of_space);
  // The warning's number is the counter's.
  const std::string raised = rec.find_last("raise pipeline.disk_full state_dir");
  INFO(raised);
  CHECK(raised.find(" " + std::to_string(st.dropped_disk) + " spooled samples dropped") != std::string::npos);
  CHECK(raised.find(disk.dir().string()) != std::string::npos);
  CHECK(raised.find("free of") != std::string::npos);

  ts->mode = TestSink::accept;  // back
  REQUIRE(test::eventually([&] { return (*d)->stats().delivered + (*d)->stats().dropped_disk == kTotal; }, 20s));
  st = (*d)->stats();
  CHECK(st.spool_backlog == 0);
  // What arrived is in order, and what is missing is one run of the oldest: at most the one
  // batch that was already read back into memory when the disk filled precedes it.
  const auto got = ts->received();
  REQUIRE_FALSE(got.empty());
  CHECK(std::is_sorted(got.begin(), got.end()));
  std::size_t gap_at = 0;
  while (gap_at + 1 < got.size() && got[gap_at + 1] == got[gap_at] + 1) ++gap_at;
  INFO("prefix ", gap_at + 1, " gap to ", got[gap_at + 1]);
  const bool prefix = got.front() == 0 && gap_at + 1 < got.size();
  const std::uint64_t first_after = prefix ? got[gap_at + 1] : got.front();
  if (prefix) CHECK(gap_at + 1 <= 200);  // one batch (batch_size)
  CHECK(std::vector<std::uint64_t>(got.begin() + static_cast<std::ptrdiff_t>(prefix ? gap_at + 1 : 0), got.end()) ==
        iota(first_after, kTotal - first_after));
  CHECK(got.size() + st.dropped_disk == kTotal);
  // Live samples flow again, and once the space is back the condition clears.
  for (std::uint64_t i = kTotal; i < kTotal + 100; ++i) ring.push(make_sample(i));
  REQUIRE(test::eventually([&] { return ts->count() == kTotal + 100 - st.dropped_disk; }, 5s));
  CHECK(test::eventually([&] { return rec.has("clear pipeline.disk_full state_dir"); }, 6s));
  (*d)->stop();
}

TEST_CASE("disk full: another program fills the disk (ENOSPC): nothing stalls, losses counted, cleared when freed") {
  SmallDisk disk("2m");
  Recorder rec;
  DiskSpace space(disk.dir(), 0, &rec);
  Ring ring(1u << 14);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), options(disk.dir(), &space, &rec));
  REQUIRE(d);
  (*d)->start();
  const auto filler = fill(disk.dir());

  // Destination up: live delivery needs no disk.
  for (std::uint64_t i = 0; i < 2000; ++i) ring.push(make_sample(i));
  REQUIRE(test::eventually([&] { return ts->count() == 2000; }, 5s));
  // Destination down: the spool cannot be written; the samples it cannot keep are counted.
  ts->mode = TestSink::retry;
  for (std::uint64_t i = 2000; i < 12'000; ++i) {
    ring.push(make_sample(i));
    if (i % 200 == 0) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(test::eventually([&] { return (*d)->stats().dropped_disk > 0 && (*d)->stats().ring_lag == 0; }, 5s));
  CHECK(test::eventually([&] { return rec.has("raise pipeline.disk_full state_dir"); }, 3s));
  // Back: the sink delivers at once, though the disk is still full.
  ts->mode = TestSink::accept;
  for (std::uint64_t i = 12'000; i < 13'000; ++i) ring.push(make_sample(i));
  REQUIRE(test::eventually(
      [&] { return (*d)->stats().delivered + (*d)->stats().dropped_disk >= 13'000 && (*d)->stats().ring_lag == 0; },
      10s));
  const SinkStats st = (*d)->stats();
  CHECK(st.delivered + st.dropped_disk + st.spool_backlog == 13'000);
  const auto got = ts->received();
  CHECK(std::is_sorted(got.begin(), got.end()));
  CHECK(got.back() == 12'999);
  CHECK_FALSE(rec.has("clear pipeline.disk_full"));
  std::filesystem::remove(filler);
  CHECK(test::eventually([&] { return rec.has("clear pipeline.disk_full state_dir"); }, 6s));
  (*d)->stop();
}

TEST_CASE("disk full: the file sink gives up its oldest rotated file and keeps writing the newest samples") {
  SmallDisk disk("3m");
  Catalog catalog;
  DeviceMeta meta;
  meta.name = "mcc-1";
  meta.site = "plant";
  meta.asset = "mcc-1";
  for (std::size_t i = 0; i < kMaxSampleValues; ++i) meta.fields[1].push_back("value_" + std::to_string(i));
  catalog.devices.push_back(meta);
  sinks::FileSinkConfig cfg;
  cfg.max_mb = 1;
  cfg.max_files = 5;  // 6 MiB of files configured on a 3 MiB disk
  cfg.fsync = false;
  const auto path = disk.dir() / "samples.lp";
  sinks::FileSink sink(cfg, catalog, path);
  std::vector<Sample> batch(200);
  std::uint64_t n = 0;
  // Until twice the disk has been written (the first batch tells the size of a batch).
  std::uint64_t written = 0, per_batch = 0;
  for (int b = 0; b < 5000 && written < (6u << 20); ++b) {
    for (auto& s : batch) s = make_sample(n++);
    const DeliveryResult r = sink.deliver(batch);
    INFO("batch ", b, ": ", r.reason);
    REQUIRE(r.kind == DeliveryResult::Kind::ok);
    if (per_batch == 0) per_batch = std::filesystem::file_size(path);
    written += per_batch;
  }
  CHECK(sink.rotated_removed() > 0);
  // The newest sample is in the current file; the oldest rotated file went first.
  const std::string current = test::read_file(path);
  CHECK(current.find(" " + std::to_string(make_sample(n - 1).source_time_ns)) != std::string::npos);
  CHECK(std::filesystem::exists(std::filesystem::path(path).concat(".1")));
}
