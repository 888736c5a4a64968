// Acknowledgements and shelves: given to an active condition only, undone when it clears, when
// its evidence changes in kind or when a shelf runs out; kept in a file across a restart, where
// the same condition raised again is not alerted again.
#include <doctest/doctest.h>

#include "health/acknowledgements.hpp"
#include "support/support.hpp"

using namespace pm500::health;

namespace {

struct Fixture {
  pm500::test::TempDir dir;
  std::int64_t now = 1'700'000'000'000;
  Registry registry{std::chrono::milliseconds(0), [this] { return now; }};
  std::filesystem::path file() const { return dir / "acknowledgements"; }
  Acknowledgements acks() { return Acknowledgements(file(), [this] { return now; }); }
};

Acknowledgements::Request ack(std::string id, std::string subject) {
  return {"acknowledge", std::move(id), std::move(subject), "J. Ortiz", "ticket 4411: retention change requested", 0, ""};
}

}  // namespace

TEST_CASE("the evidence's kind: numbers left out, status codes kept") {
  CHECK(Acknowledgements::signature("42 of 1,234.5 kWh; 0x0119 at 10.0.0.5.") ==
        Acknowledgements::signature("7 of 99 kWh; 0x0119 at 10.0.0.77."));
  CHECK(Acknowledgements::signature("status 0x0119") != Acknowledgements::signature("status 0x0106"));
  CHECK(Acknowledgements::signature("currents 80x above CT primary") !=
        Acknowledgements::signature("voltage 4x above PT primary"));
  CHECK(Acknowledgements::signature("took 3000 ms.") == "took # ms.");
}

TEST_CASE("acknowledge: only an active condition, with a name and a note; undone when it clears") {
  Fixture f;
  auto acks = f.acks();
  CHECK(acks.apply(ack("historian.retention_disabled", "influxdb"), f.registry.active()).status == 404);
  f.registry.raise("historian.retention_disabled", "influxdb", "database pm500: retention 0 (infinite)");
  auto bad = ack("historian.retention_disabled", "influxdb");
  bad.by = " ";
  auto r = acks.apply(bad, f.registry.active());
  CHECK(r.status == 400);
  CHECK(r.message.find("\"by\" is required") != std::string::npos);
  bad = ack("historian.retention_disabled", "influxdb");
  bad.note = "";
  CHECK(acks.apply(bad, f.registry.active()).status == 400);
  bad = ack("historian.retention_disabled", "influxdb");
  bad.action = "ignore";
  CHECK(acks.apply(bad, f.registry.active()).status == 400);

  r = acks.apply(ack("historian.retention_disabled", "influxdb"), f.registry.active());
  REQUIRE(r.status == 200);
  REQUIRE(r.entry);
  CHECK(r.entry->kind == Acknowledgement::Kind::acknowledged);
  CHECK(r.entry->level == "L2");
  CHECK(r.entry->evidence == "database pm500: retention 0 (infinite)");
  auto got = acks.find("historian.retention_disabled", "influxdb");
  REQUIRE(got);
  CHECK(got->by == "J. Ortiz");
  CHECK(got->note == "ticket 4411: retention change requested");

  // A count that moves is the same condition; the registry still holds it as active.
  f.registry.raise("historian.retention_disabled", "influxdb", "database pm500: retention 00 (infinite)");
  acks.tick(f.registry.active());
  CHECK(acks.find("historian.retention_disabled", "influxdb"));
  CHECK(f.registry.is_active("historian.retention_disabled", "influxdb"));

  // Cleared: undone; when it comes back it is new, and alerted.
  f.registry.on_event([&](const Event& e) { acks.on_event(e); });
  f.registry.clear("historian.retention_disabled", "influxdb");
  CHECK_FALSE(acks.find("historian.retention_disabled", "influxdb"));
  CHECK(acks.on_event({f.now, "historian.retention_disabled", "influxdb", "retention 0", true}));
  CHECK(acks.list().empty());
}

TEST_CASE("a change of evidence in kind undoes it; a stale view of it is refused") {
  Fixture f;
  auto acks = f.acks();
  f.registry.raise("meter.erratic_readings", "m-005", "currents 80x above CT primary 400 A (seen 25000 A)");
  auto seen = ack("meter.erratic_readings", "m-005");
  seen.evidence = "voltages 4x above PT primary";  // what the operator looked at is not what is active
  auto r = acks.apply(seen, f.registry.active());
  CHECK(r.status == 409);
  CHECK(r.message.find("now: currents 80x") != std::string::npos);
  seen.evidence = "currents 80x above CT primary 400 A (seen 24990 A)";
  REQUIRE(acks.apply(seen, f.registry.active()).status == 200);
  f.registry.raise("meter.erratic_readings", "m-005",
                   "currents 80x above CT primary 400 A (seen 25000 A); power factor 1.7 outside -1..1");
  acks.tick(f.registry.active());
  CHECK_FALSE(acks.find("meter.erratic_readings", "m-005"));
}

TEST_CASE("shelve: for a time, then shown again; undo by hand") {
  Fixture f;
  auto acks = f.acks();
  f.registry.raise("eip.no_response", "m-190", "TCP connect to 127.0.64.9:44818 refused");
  auto s = ack("eip.no_response", "m-190");
  s.action = "shelve";
  CHECK(acks.apply(s, f.registry.active()).status == 400);  // no time given
  s.minutes = Acknowledgements::kMaxShelveMinutes + 1;
  CHECK(acks.apply(s, f.registry.active()).status == 400);
  s.minutes = 30;
  auto r = acks.apply(s, f.registry.active());
  REQUIRE(r.status == 200);
  CHECK(r.entry->kind == Acknowledgement::Kind::shelved);
  CHECK(r.entry->until_ms == f.now + 30 * 60'000);
  f.now += 29 * 60'000;
  acks.tick(f.registry.active());
  CHECK(acks.find("eip.no_response", "m-190"));
  f.now += 60'000;
  acks.tick(f.registry.active());
  CHECK_FALSE(acks.find("eip.no_response", "m-190"));
  CHECK(f.registry.is_active("eip.no_response", "m-190"));  // recorded all along

  REQUIRE(acks.apply(s, f.registry.active()).status == 200);
  CHECK(acks.apply({"undo", "eip.no_response", "m-190", "", "", 0, ""}, f.registry.active()).status == 200);
  CHECK_FALSE(acks.find("eip.no_response", "m-190"));
  CHECK(acks.apply({"undo", "eip.no_response", "m-190", "", "", 0, ""}, f.registry.active()).status == 404);
}

TEST_CASE("kept across a restart: the same condition raised again is not alerted again") {
  Fixture f;
  {
    auto acks = f.acks();
    f.registry.raise("historian.retention_disabled", "influxdb", "database pm500: retention 0 (infinite)");
    f.registry.raise("eip.no_response", "m-190", "TCP connect to 127.0.64.9:44818 refused");
    f.registry.raise("eip.no_response", "m-191", "TCP connect to 127.0.64.10:44818 refused");
    auto note = ack("historian.retention_disabled", "influxdb");
    note.note = "line one\tand a tab\nline two \\ done";
    REQUIRE(acks.apply(note, f.registry.active()).status == 200);
    auto s = ack("eip.no_response", "m-190");
    s.action = "shelve";
    s.minutes = 120;
    REQUIRE(acks.apply(s, f.registry.active()).status == 200);
    REQUIRE(acks.apply(ack("eip.no_response", "m-191"), f.registry.active()).status == 200);
  }
  f.now += 60'000;
  Registry fresh(std::chrono::milliseconds(0), [&] { return f.now; });
  auto acks = f.acks();
  REQUIRE(acks.list().size() == 3);
  auto kept = acks.find("historian.retention_disabled", "influxdb");
  REQUIRE(kept);
  CHECK(kept->waiting);
  CHECK(kept->note == "line one\tand a tab\nline two \\ done");
  CHECK(acks.find("eip.no_response", "m-190")->until_ms == f.now - 60'000 + 120 * 60'000);
  std::vector<Event> alerted;
  fresh.on_event([&](const Event& e) {
    if (acks.on_event(e)) alerted.push_back(e);
  });
  fresh.raise("historian.retention_disabled", "influxdb", "database pm500: retention 0 (infinite)");
  fresh.raise("eip.no_response", "m-190", "TCP connect to 127.0.64.9:44818 refused");
  fresh.raise("eip.no_response", "m-191", "Forward Open refused: 0x0119");  // another cause now
  REQUIRE(alerted.size() == 1);
  CHECK(alerted[0].subject == "m-191");
  acks.tick(fresh.active());
  CHECK_FALSE(acks.find("historian.retention_disabled", "influxdb")->waiting);
  CHECK(acks.find("eip.no_response", "m-190"));
  CHECK_FALSE(acks.find("eip.no_response", "m-191"));

  // A kept entry whose condition never comes back is dropped after kRevalidate.
  {
    auto again = f.acks();
    CHECK(again.list().size() == 2);
    f.now += std::chrono::milliseconds(Acknowledgements::kRevalidate).count();
    again.tick({});
    CHECK(again.list().empty());
  }
  // A damaged file loses only its damaged lines.
  pm500::test::write_file(f.file(), "# pm500-gateway acknowledgements v1\ngarbage\nshelved\tx\ty\tnotanumber\t0\tL1\ta\tb\tc\n"
                                    "acknowledged\teip.no_response\tm-7\t1\t0\tL1\tAnn\tchecked\tevidence\n");
  auto damaged = f.acks();
  CHECK(damaged.list().size() == 1);
}
