// A configuration change between spooling and replay: every spooled sample is delivered under
// the device it came from, or dead-lettered with the reason -- never under another device.
#include <doctest/doctest.h>

#include <map>

#include "helpers.hpp"
#include "pipeline/delivery.hpp"
#include "pipeline/layout.hpp"
#include "support/support.hpp"
#include "test_sinks.hpp"

using namespace pm500;
using namespace std::chrono_literals;
using pm500::test::make_sample;
using pm500::test::Recorder;
using pm500::test::TestSink;

namespace {

DeviceMeta meta(const std::string& name, std::vector<std::string> fields101) {
  DeviceMeta d;
  d.name = name;
  d.site = "plant";
  d.asset = name;
  d.fields[1] = std::move(fields101);
  return d;
}

std::vector<std::string> fields(const std::string& first = "voltage_l1_n_v") {
  std::vector<std::string> f{first};
  for (std::size_t i = 1; i < kMaxSampleValues; ++i) f.push_back("value_" + std::to_string(i));
  return f;
}

SinkDelivery::Options options(const std::filesystem::path& state, const Catalog* catalog, Recorder* rec) {
  SinkDelivery::Options o = test::quick_options(state, rec);
  o.catalog = catalog;
  o.delivery.batch_size = 50;
  return o;
}

}  // namespace

TEST_CASE("layout: encode and decode keep device names and field lists; the id follows the content") {
  Catalog c;
  c.devices.push_back(meta("mcc-1", fields()));
  c.devices.push_back(meta("feeder 2", fields("current_l1_a")));
  const std::string text = layout::encode(c);
  auto back = layout::decode(text);
  REQUIRE(back);
  REQUIRE(back->devices.size() == 2);
  CHECK(back->devices[1].name == "feeder 2");
  CHECK(back->devices[1].fields[1] == fields("current_l1_a"));
  CHECK(back->devices[0].fields[2].empty());
  CHECK(layout::id_of(text) == layout::id_of(layout::encode(*back)));
  std::swap(c.devices[0], c.devices[1]);
  CHECK(layout::id_of(layout::encode(c)) != layout::id_of(text));
  CHECK_FALSE(layout::decode("not a layout"));
  CHECK_FALSE(layout::decode("pm500-layout 1\nassembly\t101\ta\n"));  // an assembly before any device
}

TEST_CASE("spool: devices reordered, added, removed and changed between spooling and replay") {
  test::TempDir tmp;
  Recorder rec;
  // Spooled under: a (index 0), b (1), gone (2), changed (3).
  Catalog before;
  before.devices = {meta("a", fields()), meta("b", fields()), meta("gone", fields()), meta("changed", fields())};
  // Replayed under: new (0), b (1 -> 1), a (0 -> 2), changed with another first field (3).
  Catalog after;
  after.devices = {meta("new", fields()), meta("b", fields()), meta("a", fields()), meta("changed", fields("other"))};

  constexpr std::uint64_t kPerDevice = 300;
  {
    Ring ring(4096);
    auto sink = std::make_unique<TestSink>();
    sink->mode = TestSink::retry;  // destination down: everything goes to the spool
    auto d = SinkDelivery::create(ring, std::move(sink), options(tmp.path(), &before, &rec));
    REQUIRE(d);
    (*d)->start();
    // Sample numbers say where a sample came from: device k sends k*1000 + i.
    for (std::uint64_t i = 0; i < kPerDevice; ++i)
      for (std::uint32_t dev = 0; dev < 4; ++dev) ring.push(make_sample(dev * 1000 + i, dev));
    (*d)->stop();
    CHECK((*d)->stats().spool_backlog == 4 * kPerDevice);
  }
  Ring ring(4096);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), options(tmp.path(), &after, &rec));
  REQUIRE(d);
  (*d)->start();
  // New samples under the new configuration arrive behind the backlog.
  for (std::uint64_t i = 0; i < 10; ++i) ring.push(make_sample(9000 + i, 0));
  REQUIRE(test::eventually([&] { return ts->count() >= 2 * kPerDevice + 10; }, 10s));
  (*d)->stop();

  const auto numbers = ts->received();
  const auto devices = ts->received_devices();
  std::map<std::uint32_t, std::uint64_t> per_device;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const std::uint64_t from = numbers[i] / 1000;
    ++per_device[devices[i]];
    // a's samples (0xxx) under a's new index 2, b's (1xxx) under 1, the new device's (9xxx) under 0.
    if (from == 0) CHECK(devices[i] == 2);
    else if (from == 1) CHECK(devices[i] == 1);
    else if (from == 9) CHECK(devices[i] == 0);
    else FAIL("a sample of a removed or changed device was delivered: ", numbers[i]);
  }
  CHECK(per_device[2] == kPerDevice);
  CHECK(per_device[1] == kPerDevice);
  CHECK(per_device[0] == 10);

  const SinkStats st = (*d)->stats();
  CHECK(st.unattributable == 2 * kPerDevice);
  CHECK(st.spool_backlog == 0);
  // The dead-letter file names them by their old names, with the reason.
  const std::string dl = test::read_file(tmp / "sinks/test/dead-letter.jsonl");
  CHECK(dl.find("\"device\":\"gone\"") != std::string::npos);
  CHECK(dl.find("\"device\":\"changed\"") != std::string::npos);
  CHECK(dl.find("is no longer configured") != std::string::npos);
  CHECK(dl.find("changed since the sample was spooled") != std::string::npos);
  CHECK(dl.find("\"device\":\"a\"") == std::string::npos);
  std::size_t lines = 0;
  for (char c : dl) lines += c == '\n';
  CHECK(lines == 2 * kPerDevice);
  const std::string e = rec.find("raise pipeline.unattributable test");
  INFO(e);
  CHECK(!e.empty());
}

TEST_CASE("spool: segments record their layout; a missing layout file dead-letters instead of guessing") {
  test::TempDir tmp;
  Recorder rec;
  Catalog before;
  before.devices = {meta("a", fields()), meta("b", fields())};
  Catalog after;
  after.devices = {meta("b", fields()), meta("a", fields())};
  {
    Ring ring(1024);
    auto sink = std::make_unique<TestSink>();
    sink->mode = TestSink::retry;
    auto d = SinkDelivery::create(ring, std::move(sink), options(tmp.path(), &before, &rec));
    (*d)->start();
    for (std::uint64_t i = 0; i < 20; ++i) ring.push(make_sample(i, 0));
    (*d)->stop();
  }
  const auto folder = tmp / "sinks/test/spool/layouts";
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(folder)) {
    ++files;
    std::filesystem::remove(e.path());
  }
  CHECK(files == 1);
  Ring ring(1024);
  auto sink = std::make_unique<TestSink>();
  TestSink* ts = sink.get();
  auto d = SinkDelivery::create(ring, std::move(sink), options(tmp.path(), &after, &rec));
  (*d)->start();
  REQUIRE(test::eventually([&] { return (*d)->stats().unattributable == 20; }, 5s));
  (*d)->stop();
  CHECK(ts->count() == 0);
  CHECK(rec.find("raise pipeline.unattributable").find("is missing") != std::string::npos);
}

TEST_CASE("field lists: devices share one list, appending to a shared one copies it first") {
  DeviceMeta a = meta("mcc-1", fields());
  DeviceMeta b = a;  // as the gateway copies one profile's lists into each device
  CHECK(b.fields[1].shares(a.fields[1]));
  CHECK(b.fields[1] == a.fields[1]);
  b.fields[1].push_back("extra_v");
  CHECK_FALSE(b.fields[1].shares(a.fields[1]));
  CHECK(a.fields[1].size() == fields().size());
  CHECK(b.fields[1].size() == fields().size() + 1);
  CHECK(b.fields[1][fields().size()] == "extra_v");
  CHECK_FALSE(b.fields[1] == a.fields[1]);
  // Equal names are equal lists, shared or not; an empty list is no list.
  CHECK(FieldList(fields()) == a.fields[1]);
  CHECK(FieldList{} == FieldList(std::vector<std::string>{}));
  CHECK(a.field_names(102).empty());
  CHECK(a.field_names(101).size() == fields().size());
}

TEST_CASE("layout: a device with two entries (a reload changed its profile or asset) maps each to its own") {
  // Within the process: mcc-1 (old fields, entry 0), mcc-2 (asset a, entry 1), mcc-1 (new
  // fields, entry 2), mcc-2 (asset b, entry 3). The layout records the assets.
  Catalog running;
  running.devices = {meta("mcc-1", fields()), meta("mcc-2", fields()), meta("mcc-1", fields("renamed")),
                     meta("mcc-2", fields())};
  running.devices[1].asset = "a";
  running.devices[3].asset = "b";
  auto spooled = layout::decode(layout::encode(running));
  REQUIRE(spooled);
  CHECK(spooled->devices[3].asset == "b");
  {
    // Replayed by the same process (its catalog grew since): every entry to itself.
    Catalog grown = running;
    grown.devices.push_back(meta("mcc-3", fields()));
    layout::Translation t(*spooled, grown);
    for (std::uint32_t i = 0; i < 4; ++i) {
      Sample s = make_sample(i, i);
      CHECK_FALSE(t.map(s));
      CHECK(s.device == i);
    }
  }
  // Replayed by a later process that has only the new ones (mcc-2 with asset b at 0, mcc-1 with
  // the new fields at 1): the new ones by name, fields and asset; mcc-1's old-field samples
  // are dead-lettered (their fields changed); mcc-2's old-asset ones take the configured asset.
  Catalog later;
  later.devices = {meta("mcc-2", fields()), meta("mcc-1", fields("renamed"))};
  later.devices[0].asset = "b";
  layout::Translation t(*spooled, later);
  Sample s = make_sample(1, 2);
  CHECK_FALSE(t.map(s));
  CHECK(s.device == 1);
  s = make_sample(1, 3);
  CHECK_FALSE(t.map(s));
  CHECK(s.device == 0);
  s = make_sample(1, 1);
  CHECK_FALSE(t.map(s));
  CHECK(s.device == 0);
  s = make_sample(1, 0);
  const auto why = t.map(s);
  REQUIRE(why);
  CHECK(why->find("changed since the sample was spooled") != std::string::npos);
  // A layout written before assets were recorded maps by name and fields alone.
  CHECK(layout::decode("pm500-layout 1\ndevice\tmcc-2\n")->devices[0].asset.empty());
}
