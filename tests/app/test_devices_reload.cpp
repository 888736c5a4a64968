// Devices (src/app/devices.hpp) as a reload changes them: more devices added over the life of
// the process than any fixed table held before (256), each decoding at once with its name in the
// catalog; a changed RPI reaching the catalog, so the restart-gap estimate uses it; and history
// spooled while a sink was down across a reload that changed one meter's profile and ratios and
// another's asset: replayed with the names, ratios and asset in force when it was taken.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <mutex>
#include <thread>

#include "app/devices.hpp"
#include "app/scanning.hpp"
#include "config/config.hpp"
#include "pipeline/delivery.hpp"
#include "pipeline/sink_plugin.hpp"
#include "pipeline/watermarks.hpp"
#include "support/support.hpp"

using namespace pm500;
using namespace pm500::app;

namespace {

struct NoConditions : ConditionSink {
  void raise(std::string_view, std::string_view, std::string_view) override {}
  void clear(std::string_view, std::string_view) override {}
};

config::GatewayConfig one_meter() {
  auto cfg = config::load_string("[[devices]]\nname = \"mcc-0\"\naddress = \"127.0.72.1\"\n", "gateway.toml",
                                 sink_schemas());
  REQUIRE(cfg);
  return *cfg;
}

config::DeviceSection meter(std::size_t i) {
  config::DeviceSection dc;
  dc.name = "mcc-" + std::to_string(i);
  dc.address = "127.0.72.1";
  return dc;
}

}  // namespace

TEST_CASE("devices added by reloads: 600 over the life of the process, each decoded and named") {
  Ring ring(4096);
  NoConditions conditions;
  const auto cfg = one_meter();
  auto devices = Devices::create(cfg, ring, conditions);
  REQUIRE(devices);
  ScanEvents events(**devices, conditions, {"mcc-0"});
  auto cursor = ring.subscribe();
  const std::vector<std::uint8_t> payload((*devices)->profile(0).assembly(101)->size_bytes, 0);
  for (std::size_t i = 1; i <= 600; ++i) {
    auto idx = (*devices)->add(cfg, meter(i));
    REQUIRE_MESSAGE(idx, idx.error());
    CHECK(*idx == i);
    events.set_name(*idx, "mcc-" + std::to_string(i));
    if (i % 100 == 0) (*devices)->remove(*idx - 1);  // removed ones keep their index
  }
  REQUIRE((*devices)->size() == 601);
  CHECK((*devices)->catalog().device(600)->name == "mcc-600");
  CHECK((*devices)->index_of("mcc-450") == 450u);
  // The newest one decodes like the first; a removed one decodes nothing.
  (*devices)->on_data(600, 101, payload, 1'000, 7, false);
  (*devices)->on_data(99, 101, payload, 1'000, 8, false);
  (*devices)->on_batch_end();
  Sample s;
  REQUIRE(cursor.try_read(s));
  CHECK(s.device == 600);
  CHECK(s.sequence == 7);
  CHECK_FALSE(cursor.try_read(s));
  CHECK((*devices)->counters(600).samples.load() == 1);
}

TEST_CASE("a reload's new RPI reaches the catalog: the restart gap is estimated at it") {
  Ring ring(4096);
  NoConditions conditions;
  auto cfg = one_meter();
  cfg.devices[0].rpi_ms = 1000;
  auto devices = Devices::create(cfg, ring, conditions);
  REQUIRE(devices);
  const Catalog& catalog = (*devices)->catalog();
  CHECK(catalog.device(0)->rpi_ms == 1000);

  pm500::test::TempDir dir;
  const auto file = dir / "watermarks";
  Sample s;
  s.device = 0;
  s.assembly = 101;
  s.flags = kSampleExplicit;  // no sequence count: the gap is estimated by time at the RPI
  s.source_time_ns = 1'000'000'000;
  {
    Watermarks before(file, &catalog);
    before.update(s);
    REQUIRE(before.persist());
  }
  // The meter now produces every 200 ms (a reload, the same profile): 2 s later 9 samples are missing.
  auto dc = cfg.devices[0];
  dc.rpi_ms = 200;
  REQUIRE((*devices)->update(0, dc));
  CHECK(catalog.device(0)->rpi_ms == 200);
  Watermarks after(file, &catalog);
  after.load();
  s.source_time_ns += 2'000'000'000;
  auto gap = after.update(s);
  REQUIRE(gap);
  CHECK(gap->rpi_ms == 200);
  CHECK(gap->missing == 9);
}

namespace {

// A destination that is down (asks to retry) or up (keeps what it gets, in order).
class Recording : public Sink {
 public:
  std::atomic<bool> down{false};
  DeliveryResult deliver(std::span<const Sample> batch) override {
    if (down) return DeliveryResult::retry("destination down", "test");
    std::lock_guard lk(mu_);
    got_.insert(got_.end(), batch.begin(), batch.end());
    return DeliveryResult::ok();
  }
  std::vector<Sample> got() {
    std::lock_guard lk(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::vector<Sample> got_;
};

SinkDelivery::Options delivery_options(const std::filesystem::path& state, const Catalog& catalog,
                                       std::optional<std::uint64_t> start = {}) {
  SinkDelivery::Options o;
  o.name = "test";
  o.state_dir = state;
  o.catalog = &catalog;
  o.delivery.batch_size = 20;
  o.delivery.flush_interval_ms = 5;
  o.delivery.retry_initial_ms = 2;
  o.delivery.retry_max_ms = 20;
  o.delivery.spool_fsync_interval_ms = 100;
  o.poll_interval = std::chrono::milliseconds(1);
  o.spool_after = std::chrono::milliseconds(10);
  o.stop_timeout = std::chrono::seconds(1);
  o.start_position = start;
  return o;
}

// Assembly 101 with every REAL 1.0: current_l1_a (the 7th) is then the CT ratio applied.
std::vector<std::uint8_t> ones(std::size_t bytes) {
  std::vector<std::uint8_t> p(bytes);
  const float one = 1.0f;
  for (std::size_t i = 0; i + 4 <= bytes; i += 4) std::memcpy(p.data() + i, &one, 4);
  return p;
}

}  // namespace

TEST_CASE("spooled history across a reload that changes a profile, ratios and an asset keeps what was in force") {
  pm500::test::TempDir dir;
  std::string profile = pm500::test::read_file(pm500::test::source_dir() / "etc/profiles/powermonitor500.toml");
  for (auto at = profile.find("current_l1_a"); at != std::string::npos; at = profile.find("current_l1_a", at))
    profile.replace(at, 12, "current_a_a");
  pm500::test::write_file(dir / "renamed.toml", profile);
  const std::string meters =
      "[[devices]]\nname = \"mcc-1\"\naddress = \"127.0.41.30\"\nct = \"400:5\"\nratios_applied_by = \"gateway\"\n"
      "[[devices]]\nname = \"mcc-2\"\naddress = \"127.0.41.31\"\n";
  auto cfg = config::load_string(meters, (dir / "gateway.toml").string(), sink_schemas());
  REQUIRE(cfg);
  // The reload: mcc-1 another profile (a field renamed) and CT 800:5, mcc-2 another asset.
  auto next = config::load_string(
      "[[devices]]\nname = \"mcc-1\"\naddress = \"127.0.41.30\"\nct = \"800:5\"\nratios_applied_by = \"gateway\"\n"
      "profile = \"renamed.toml\"\n[[devices]]\nname = \"mcc-2\"\naddress = \"127.0.41.31\"\nasset = \"feeder-2\"\n",
      (dir / "gateway.toml").string(), sink_schemas());
  REQUIRE(next);

  Ring ring(4096);
  NoConditions conditions;
  auto devices = Devices::create(*cfg, ring, conditions);
  REQUIRE(devices);
  Devices& dev = **devices;
  const Catalog& catalog = dev.catalog();
  const auto payload = ones(dev.profile(0).assembly(101)->size_bytes);
  constexpr std::uint16_t kEach = 50;

  // The destination is down: what the meters send before the reload goes to the spool.
  auto down = std::make_unique<Recording>();
  down->down = true;
  auto first = SinkDelivery::create(ring, std::move(down), delivery_options(dir / "state", catalog));
  REQUIRE(first);
  (*first)->start();
  for (std::uint16_t seq = 1; seq <= kEach; ++seq) {
    dev.on_data(0, 101, payload, seq, seq, false);
    dev.on_data(1, 101, payload, seq, seq, false);
  }
  dev.on_batch_end();
  (*first)->stop();  // as a reload stops every sink before the catalog grows
  CHECK((*first)->stats().spool_backlog == 2 * kEach);
  const std::uint64_t position = (*first)->ring_position();

  // Applied as the gateway applies it: mcc-1 added again with its new profile, the old one
  // removed; mcc-2 takes its new asset (same index, a new catalog entry).
  auto mcc1 = dev.add(*next, next->devices[0]);
  REQUIRE_MESSAGE(mcc1, mcc1.error());
  dev.remove(0);
  REQUIRE(dev.update(1, next->devices[1]));
  CHECK(dev.index_of("mcc-1") == *mcc1);
  CHECK(dev.entry(1) != 1u);

  // The destination is back; the sink reads on from where it stopped and replays the spool.
  auto up = std::make_unique<Recording>();
  Recording* rec = up.get();
  auto second = SinkDelivery::create(ring, std::move(up), delivery_options(dir / "state", catalog, position));
  REQUIRE(second);
  (*second)->start();
  for (std::uint16_t seq = kEach + 1; seq <= 2 * kEach; ++seq) {
    dev.on_data(*mcc1, 101, payload, seq, seq, false);
    dev.on_data(0, 101, payload, seq, seq, false);  // the old index decodes nothing any more
    dev.on_data(1, 101, payload, seq, seq, false);
  }
  dev.on_batch_end();
  REQUIRE(pm500::test::eventually([&] { return rec->got().size() >= 4 * kEach; }, std::chrono::seconds(10)));
  (*second)->stop();
  CHECK((*second)->stats().unattributable == 0);
  CHECK((*second)->stats().replayed >= 2 * kEach);  // the backlog first (live ones queue behind it)

  std::map<std::string, std::uint16_t> last;
  std::size_t n = 0;
  for (const Sample& s : rec->got()) {
    const DeviceMeta* m = catalog.device(s.device);
    REQUIRE(m);
    const bool before = s.sequence <= kEach;
    INFO(m->name, " sample ", s.sequence);
    CHECK(s.sequence == last[m->name] + 1);  // in order, none lost or repeated
    last[m->name] = s.sequence;
    if (m->name == "mcc-1") {
      CHECK(m->fields[1][6] == (before ? "current_l1_a" : "current_a_a"));
      CHECK(s.values[6] == doctest::Approx(before ? 80.0 : 160.0));
    } else {
      CHECK(m->name == "mcc-2");
      CHECK(m->asset == (before ? "mcc-2" : "feeder-2"));
    }
    ++n;
  }
  CHECK(n == 4 * kEach);
}
