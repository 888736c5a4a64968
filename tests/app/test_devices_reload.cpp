// Devices (src/app/devices.hpp) as a reload changes them: more devices added over the life of
// the process than any fixed table held before (256), each decoding at once with its name in the
// catalog; and a changed RPI reaching the catalog, so the restart-gap estimate uses it.
#include <doctest/doctest.h>

#include <filesystem>

#include "app/devices.hpp"
#include "app/scanning.hpp"
#include "config/config.hpp"
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
