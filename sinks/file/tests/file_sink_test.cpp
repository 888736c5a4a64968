#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <sys/stat.h>

#include "config/config.hpp"
#include "pipeline/sink_plugin.hpp"
#include "sinks/file/file_sink.hpp"
#include "support/support.hpp"

namespace pm500 {
extern const SinkPlugin file_sink_plugin;
}

using namespace pm500;
using pm500::sinks::FileSink;
using pm500::sinks::FileSinkConfig;
namespace fs = std::filesystem;

namespace {

Catalog catalog() {
  Catalog c;
  DeviceMeta m;
  m.name = "mcc 1";
  m.site = "plant";
  m.asset = "feeder=1";
  m.fields[1] = {"voltage_l1_n_v", "current_l1_a"};
  c.devices.push_back(m);
  return c;
}

std::vector<Sample> batch(std::uint64_t first, std::uint64_t count) {
  std::vector<Sample> v;
  for (std::uint64_t i = first; i < first + count; ++i) {
    Sample s;
    s.source_time_ns = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(i) * 1'000'000'000;
    s.assembly = 101;
    s.sequence = static_cast<std::uint16_t>(i);
    s.count = 2;
    s.values[0] = 230.0 + static_cast<double>(i);
    s.values[1] = 0.5;
    v.push_back(s);
  }
  return v;
}

std::vector<std::string> lines(const fs::path& p) {
  std::vector<std::string> out;
  std::istringstream in(test::read_file(p));
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace

TEST_CASE("file sink: writes escaped line protocol, one line per sample") {
  test::TempDir tmp;
  Catalog cat = catalog();
  FileSink sink({}, cat, tmp / "out.lp");
  auto r = sink.deliver(batch(0, 2));
  REQUIRE(r.kind == DeliveryResult::Kind::ok);
  const auto got = lines(tmp / "out.lp");
  REQUIRE(got.size() == 2);
  CHECK(got[0] == "powermonitor_500,asset=feeder\\=1,device=mcc\\ 1,site=plant voltage_l1_n_v=230,current_l1_a=0.5 1700000000000000000");
  CHECK(got[1] == "powermonitor_500,asset=feeder\\=1,device=mcc\\ 1,site=plant voltage_l1_n_v=231,current_l1_a=0.5 1700000001000000000");
}

TEST_CASE("file sink: JSON lines with ms precision time") {
  test::TempDir tmp;
  Catalog cat = catalog();
  FileSinkConfig cfg;
  cfg.format = "json";
  FileSink sink(cfg, cat, tmp / "out.jsonl");
  REQUIRE(sink.deliver(batch(0, 1)).kind == DeliveryResult::Kind::ok);
  const auto got = lines(tmp / "out.jsonl");
  REQUIRE(got.size() == 1);
  CHECK(got[0] ==
        "{\"device\":\"mcc 1\",\"site\":\"plant\",\"asset\":\"feeder=1\",\"time\":\"2023-11-14T22:13:20.000Z\",\"time_ms\":1700000000000,"
        "\"assembly\":101,\"sequence\":0,\"flags\":0,\"values\":{\"voltage_l1_n_v\":230,\"current_l1_a\":0.5}}");
}

TEST_CASE("file sink: rotates by size, keeps max_files, loses no line") {
  test::TempDir tmp;
  Catalog cat = catalog();
  FileSinkConfig cfg;
  cfg.max_mb = 1;
  cfg.max_files = 2;
  cfg.fsync = false;
  FileSink sink(cfg, cat, tmp / "out.lp");
  // ~110 bytes a line: 30 000 lines is ~3.3 MB, i.e. three rotations with two kept.
  for (std::uint64_t b = 0; b < 60; ++b) REQUIRE(sink.deliver(batch(b * 500, 500)).kind == DeliveryResult::Kind::ok);
  CHECK(fs::exists(tmp / "out.lp"));
  CHECK(fs::exists(tmp / "out.lp.1"));
  CHECK(fs::exists(tmp / "out.lp.2"));
  CHECK_FALSE(fs::exists(tmp / "out.lp.3"));
  for (const char* f : {"out.lp", "out.lp.1", "out.lp.2"}) CHECK(fs::file_size(tmp / f) <= (1u << 20));
  // The kept files hold the newest lines, contiguous and in order.
  std::vector<std::string> all;
  for (const char* f : {"out.lp.2", "out.lp.1", "out.lp"}) {
    auto l = lines(tmp / f);
    all.insert(all.end(), l.begin(), l.end());
  }
  REQUIRE(!all.empty());
  CHECK(all.back().ends_with(" 1700029999000000000"));
  const std::uint64_t first = 30'000 - all.size();
  for (std::size_t i = 0; i < all.size(); i += 997)
    CHECK(all[i].ends_with(" " + std::to_string(1'700'000'000'000'000'000 + (first + i) * 1'000'000'000)));
}

TEST_CASE("file sink: an unwritable path answers retry with the cause; a bad name answers reject") {
  test::TempDir tmp;
  Catalog cat = catalog();
  test::write_file(tmp / "not-a-dir", "x");
  FileSink bad({}, cat, tmp / "not-a-dir" / "out.lp");
  auto r = bad.deliver(batch(0, 1));
  CHECK(r.kind == DeliveryResult::Kind::retry);
  CHECK(r.reason.find("cannot open") != std::string::npos);

  cat.devices[0].name = "two\nlines";
  FileSink sink({}, cat, tmp / "out.lp");
  r = sink.deliver(batch(0, 1));
  CHECK(r.kind == DeliveryResult::Kind::reject);
  CHECK(r.reason.find("newline") != std::string::npos);
}

TEST_CASE("file sink: README embeds sample.toml verbatim") {
  const std::string readme = test::read_file(test::source_dir() / "sinks/file/README.md");
  const std::string sample = test::read_file(test::source_dir() / "sinks/file/sample.toml");
  REQUIRE(!sample.empty());
  CHECK(readme.find("```toml\n" + sample + "```") != std::string::npos);
}

TEST_CASE("file sink: sample.toml is valid; unknown keys are errors; the factory resolves paths") {
  const std::vector<config::SinkSchema> schemas{file_sink_plugin.schema};
  const std::string sample = test::read_file(test::source_dir() / "sinks/file/sample.toml");
  auto cfg = config::load_string(sample, "sample.toml", schemas);
  if (!cfg)
    for (auto& d : cfg.error()) FAIL(d.str());
  REQUIRE(cfg);
  REQUIRE(cfg->sinks.size() == 1);
  CHECK(cfg->sinks[0].type == "file");

  auto bad = config::load_string("[sinks.file]\npaht = \"x\"\nformat = \"xml\"\n", "bad.toml", schemas);
  REQUIRE_FALSE(bad);
  std::string all;
  for (auto& d : bad.error()) all += d.str() + "\n";
  CHECK(all.find("paht") != std::string::npos);
  CHECK(all.find("xml") != std::string::npos);

  test::TempDir tmp;
  Catalog cat = catalog();
  auto sink = file_sink_plugin.create(cfg->sinks[0], SinkEnv{cat, tmp.path().string(), nullptr, {}});
  REQUIRE(sink);
  REQUIRE((*sink)->deliver(batch(0, 1)).kind == DeliveryResult::Kind::ok);
  CHECK(fs::exists(tmp / "sinks/file/samples.lp"));
  CHECK(file_sink_plugin.schema.dump(cfg->sinks[0].settings).find("format = \"line-protocol\"") != std::string::npos);
}
