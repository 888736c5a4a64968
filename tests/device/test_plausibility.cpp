#include <doctest/doctest.h>

#include <functional>
#include <set>

#include "rig.hpp"

using namespace pm500::device;
using namespace pm500::device::test;

namespace {

bool contains(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

std::string dump(const Recorder& r) {
  std::string s;
  for (const auto& e : r.events)
    s += std::string(e.raised ? "RAISE " : "CLEAR ") + std::string(to_string(e.kind)) + ": " + e.message + " [" +
         e.evidence + "]\n";
  return s;
}

struct FaultCase {
  const char* name;
  const char* applied_by;
  std::function<void(Faults&)> inject;
  FindingKind kind;
  std::vector<std::string> words;  // the cause, in the message
  bool only = true;                // no other kind may be raised
};

}  // namespace

TEST_CASE("no finding over 10,000 healthy noisy samples") {
  for (const char* by : {"gateway", "meter"}) {
    CAPTURE(by);
    FeederSettings m = meter(settings(by));
    m.noise = 0.005;  // more than a class 0.5 meter shows
    m.load_period_s = 900;
    Rig rig(builtin_profile(), m, 42);
    rig.run(10'000);
    CHECK(rig.decode_errors == 0);
    CHECK_MESSAGE(rig.recorder.events.empty(), dump(rig.recorder));
    CHECK(rig.check.snapshot().empty());
  }
}

TEST_CASE("no finding for healthy feeders of every wiring system") {
  struct W {
    const char* wiring;
    double nominal;
  };
  for (W w : {W{"3PN", 400}, W{"3P", 690}, W{"3P1", 480}, W{"3P2", 480}, W{"2P", 240}, W{"1P", 230}}) {
    CAPTURE(w.wiring);
    FeederSettings m = meter(settings("gateway", w.wiring, w.nominal, "200:5", "2"));
    m.noise = 0.005;
    Rig rig(builtin_profile(), m, 5);
    rig.run(1'000);
    CHECK(rig.decode_errors == 0);
    CHECK_MESSAGE(rig.recorder.events.empty(), dump(rig.recorder));
  }
}

TEST_CASE("each fault the simulator injects raises its finding with the right cause, and clears") {
  const std::vector<FaultCase> cases{
      {"CT applied twice, gateway multiplies",
       "gateway",
       [](Faults& f) { f.ct_applied_twice = true; },
       FindingKind::current_vs_ct,
       {"mcc-1: currents ", "x above CT primary 400 A (seen ", "CT ratio 400:5 applied by both meter and gateway?"}},
      {"CT applied twice on the meter",
       "meter",
       [](Faults& f) { f.ct_applied_twice = true; },
       FindingKind::current_vs_ct,
       {"above CT primary 400 A", "the meter's CT ratio must be 80"}},
      {"CT missing on the meter",
       "meter",
       [](Faults& f) { f.ct_missing = true; },
       FindingKind::current_vs_ct,
       {"on a 400:5 CT", "look like CT secondary amps", "CT ratio 400:5 not applied",
        "ratios_applied_by = \"gateway\""}},
      {"PT applied twice",
       "gateway",
       [](Faults& f) { f.pt_applied_twice = true; },
       FindingKind::voltage_vs_nominal,
       {"mcc-1: voltages 4.0x above nominal 277 V L-N (480 V L-L) (seen 1",
        "PT ratio 480:120 applied by both meter and gateway?"}},
      {"PT missing on the meter",
       "meter",
       [](Faults& f) { f.pt_missing = true; },
       FindingKind::voltage_vs_nominal,
       {"voltages 4.0x below nominal", "PT secondary volts", "PT ratio 480:120 not applied"}},
      {"blown VT fuse",
       "meter",
       [](Faults& f) { f.lost_phase = 2; },
       FindingKind::voltage_vs_nominal,
       {"voltage L2 at 0 V", "blown VT fuse or loose voltage connection on L2"}},
      {"P greater than S",
       "gateway",
       [](Faults& f) { f.power_exceeds_apparent = true; },
       FindingKind::power_triangle,
       {"exceed apparent power", "P^2 + Q^2 must not exceed S^2"},
       false},
      {"S is not V x I",
       "gateway",
       [](Faults& f) { f.apparent_mismatch = true; },
       FindingKind::apparent_vs_vi,
       {"but V x I =", "2.00x"},
       false},
      {"PF is not P / S",
       "meter",
       [](Faults& f) { f.pf_swapped = true; },
       FindingKind::power_factor_vs_ps,
       {"power factor L1 is 0.3", "but P / S = 0.9"}},
      {"total is not the sum of phases",
       "meter",
       [](Faults& f) { f.total_mismatch = true; },
       FindingKind::phase_sum,
       {"total active power", "not the sum of the phases", "wiring setting differs from 3PN"}},
      {"PF above 1",
       "meter",
       [](Faults& f) { f.pf_above_one = true; },
       FindingKind::power_factor_range,
       {"mcc-1: power_factor_l1 = 1.300, outside -1..1"},
       false},
      {"NaN",
       "gateway",
       [](Faults& f) { f.nan_values = true; },
       FindingKind::non_finite,
       {"assembly 101 voltage_l2_n_v is NaN"},
       false},
      {"frequency off",
       "meter",
       [](Faults& f) { f.frequency_hz = 82.5; },
       FindingKind::frequency_range,
       {"mcc-1: frequency 82.", "Hz outside 40..70 Hz"}},
      {"energy running backwards",
       "gateway",
       [](Faults& f) { f.energy_backwards = true; },
       FindingKind::energy_backwards,
       {"energy counter energy_import_kwh went back from"}},
  };
  const Thresholds th{};
  for (const auto& c : cases) {
    CAPTURE(c.name);
    FeederSettings m = meter(settings(c.applied_by));
    Rig rig(builtin_profile(), m, 11, th);
    rig.run(20);
    REQUIRE_MESSAGE(rig.recorder.events.empty(), dump(rig.recorder));

    c.inject(rig.model.faults());
    rig.run(th.raise_after - 1);
    CHECK_MESSAGE(rig.recorder.raised(c.kind) == 0, "raised before it persisted");
    rig.run(1);
    const Event* e = rig.recorder.first(c.kind);
    REQUIRE_MESSAGE(e, dump(rig.recorder));
    CHECK(e->device == "mcc-1");
    for (const auto& w : c.words) CHECK_MESSAGE(contains(e->message, w), "want \"" << w << "\" in: " << e->message);
    CHECK(!e->evidence.empty());
    // A ratio fault also moves the energy counters by the ratio; when they drop, that is a
    // finding of its own, which must name the ratio.
    if (c.only)
      for (const auto& ev : rig.recorder.events)
        if (ev.kind != c.kind) {
          CHECK_MESSAGE(ev.kind == FindingKind::energy_backwards, dump(rig.recorder));
          CHECK_MESSAGE(contains(ev.message, "ratio"), ev.message);
        }
    bool listed = false;
    for (const auto& f : rig.check.snapshot()) listed = listed || (f.kind == c.kind && f.message == e->message);
    CHECK(listed);

    rig.model.faults() = Faults{};
    // Long enough for a counter drop caused by the repair itself to be raised and cleared too.
    rig.run(th.raise_after + th.clear_after + 5);
    for (const auto& ev : rig.recorder.events)
      if (c.only && ev.raised && ev.kind != c.kind) CHECK_MESSAGE(contains(ev.message, "ratio"), ev.message);
    CHECK_MESSAGE(rig.check.snapshot().empty(), dump(rig.recorder));
    CHECK(!rig.check.any_active());
    int raises = 0, clears = 0;
    for (const auto& ev : rig.recorder.events) (ev.raised ? raises : clears)++;
    CHECK(raises == clears);
    CHECK(rig.recorder.raised(c.kind) == 1);  // raised once: no flapping while the fault lasted
  }
}

TEST_CASE("configuration mistakes on the gateway side are explained") {
  SUBCASE("overload: the CT is smaller than the load") {
    FeederSettings m = meter(settings("meter"));
    m.load_a = 560;
    Rig rig(builtin_profile(), m, 2);
    rig.run(10);
    const Event* e = rig.recorder.first(FindingKind::current_vs_ct);
    REQUIRE(e);
    CHECK(contains(e->message, "overload, or the CT is smaller than configured"));
  }
  SUBCASE("nominal voltage written line-to-neutral") {
    FeederSettings m = meter(settings("meter"));
    const DeviceSettings gw = settings("meter", "3PN", 277);
    Rig rig(builtin_profile(), m, 2, {}, &gw);
    rig.run(10);
    const Event* e = rig.recorder.first(FindingKind::voltage_vs_nominal);
    REQUIRE_MESSAGE(e, dump(rig.recorder));
    CHECK(contains(e->message, "is nominal_voltage the line-to-neutral value? It must be line-to-line"));
  }
  SUBCASE("nominal voltage simply wrong") {
    FeederSettings m = meter(settings("meter"));
    const DeviceSettings gw = settings("meter", "3PN", 400);
    Rig rig(builtin_profile(), m, 2, {}, &gw);
    rig.run(10);
    const Event* e = rig.recorder.first(FindingKind::voltage_vs_nominal);
    REQUIRE_MESSAGE(e, dump(rig.recorder));
    CHECK(contains(e->message, "nominal_voltage, wiring 3PN, or PT ratio 480:120 configured wrong?"));
  }
  SUBCASE("plain CT ratio: 5 A secondary assumed and said so") {
    FeederSettings m = meter(settings("gateway", "3PN", 480, "80"));
    m.faults.ct_applied_twice = true;
    Rig rig(builtin_profile(), m, 2);
    rig.run(10);
    const Event* e = rig.recorder.first(FindingKind::current_vs_ct);
    REQUIRE(e);
    CHECK(contains(e->message, "assuming a 5 A secondary"));
  }
}

TEST_CASE("a fault that comes and goes every other sample never raises (no flapping)") {
  Rig rig(builtin_profile(), meter(settings("gateway")), 4);
  rig.run(5);
  for (int i = 0; i < 200; ++i) {
    rig.model.faults().ct_applied_twice = (i % 2) == 0;
    rig.run(1);
  }
  CHECK_MESSAGE(rig.recorder.events.empty(), dump(rig.recorder));
}

TEST_CASE("thresholds are configurable") {
  Thresholds th;
  th.raise_after = 1;
  th.clear_after = 20;
  th.frequency_max_hz = 59.5;  // a site that wants to hear about over-frequency
  Rig rig(builtin_profile(), meter(settings("meter")), 4, th);
  rig.run(1);
  REQUIRE(rig.recorder.first(FindingKind::frequency_range));
  CHECK(contains(rig.recorder.first(FindingKind::frequency_range)->message, "outside 40..60 Hz"));

  Thresholds off;
  off.detect_missing_ct = false;
  FeederSettings m = meter(settings("meter"));
  m.faults.ct_missing = true;
  Rig quiet(builtin_profile(), m, 4, off);
  quiet.run(20);
  CHECK_MESSAGE(quiet.recorder.events.empty(), dump(quiet.recorder));
}

TEST_CASE("samples are marked suspect while a finding is active") {
  Rig rig(builtin_profile(), meter(settings("gateway")), 8, Thresholds{.raise_after = 2, .clear_after = 2});
  rig.model.faults().pt_applied_twice = true;
  rig.run(3);
  REQUIRE(rig.check.active(FindingKind::voltage_vs_nominal));
  pm500::Sample s{};
  s.assembly = 108;
  s.count = 2;
  s.source_time_ns = rig.now_ns;
  rig.check.check(s);
  CHECK((s.flags & pm500::kSampleSuspect) != 0);
}

TEST_CASE("a CT ratio applied twice makes currents, powers and energies suspect, not voltages or frequency") {
  Rig rig(builtin_profile(), meter(settings("gateway")), 8, Thresholds{.raise_after = 2, .clear_after = 2});
  rig.model.faults().ct_applied_twice = true;
  rig.run(3);
  REQUIRE(rig.check.active(FindingKind::current_vs_ct));
  // What the status page marks: a value is suspect when an active finding affects its quantity.
  auto suspect = [&](Quantity q) {
    for (std::size_t k = 0; k < kFindingKinds; ++k)
      if (rig.check.active(static_cast<FindingKind>(k)) && affects(static_cast<FindingKind>(k), q)) return true;
    return false;
  };
  std::set<std::string> marked, clean;
  for (const auto& a : builtin_profile().assemblies)
    for (const auto& e : a.elements) (suspect(e.kind) ? marked : clean).insert(e.name);
  for (const char* name : {"current_l1_a", "current_l3_a", "active_power_total_kw", "energy_import_kvarh"})
    CHECK_MESSAGE(marked.count(name), name);
  for (const char* name : {"voltage_l1_n_v", "voltage_ll_avg_v", "frequency_hz"}) CHECK_MESSAGE(clean.count(name), name);
  // Counters and product information are never suspect, whatever the finding.
  for (std::size_t k = 0; k < kFindingKinds; ++k)
    for (Quantity q : {Quantity::counter, Quantity::bit_field, Quantity::info, Quantity::indicator})
      CHECK_FALSE(affects(static_cast<FindingKind>(k), q));
}

TEST_CASE("a partial counter reset by the operator is not a backwards counter") {
  Thresholds th{.raise_after = 1, .clear_after = 1};
  Plausibility check(builtin_profile(), settings("meter"), th);
  pm500::Sample s{};
  s.assembly = 107;
  s.count = 18;
  for (int i = 0; i < 18; ++i) s.values[i] = 1000 + i;
  check.check(s);
  s.values[4] = 0.01;  // energy_import_partial_kwh reset
  check.check(s);
  CHECK(!check.any_active());
  s.values[0] = 900;  // energy_import_kwh (total) went back
  check.check(s);
  CHECK(check.active(FindingKind::energy_backwards));
}

namespace {

// One sample per real-time assembly of the built-in profile, every value taken from `si` (the
// SI value of a quantity and phase), converted to the element's unit.
void feed_realtime(Plausibility& check, std::int64_t t, const std::function<double(Quantity, Phase)>& si) {
  const Profile& p = builtin_profile();
  for (const Assembly& a : p.assemblies) {
    if (!a.present() || a.role != Role::realtime) continue;
    pm500::Sample s{};
    s.source_time_ns = t;
    s.assembly = a.instance;
    s.count = static_cast<std::uint8_t>(a.elements.size());
    for (std::size_t i = 0; i < a.elements.size(); ++i)
      s.values[i] = si(a.elements[i].kind, a.elements[i].phase) / a.elements[i].si;
    check.check(s);
  }
}

}  // namespace

TEST_CASE("power triangle: sqrt(P^2 + Q^2) is judged against S x (1 + tolerance) and S x (1 - distortion)") {
  // 3PN 400 V, 100 A per phase; S = 23 kVA per phase. P and Q make sqrt(P^2 + Q^2) = S x f.
  auto run = [](double f) {
    Recorder rec;
    Plausibility check(builtin_profile(), settings("meter", "3PN", 400, "200:5", "1"),
                       Thresholds{.raise_after = 3, .clear_after = 3}, &rec);
    for (int i = 0; i < 10; ++i)
      feed_realtime(check, std::int64_t{i} * 100'000'000, [f](Quantity q, Phase ph) {
        const double n = ph == Phase::total ? 3 : 1;
        const double s = 230.0 * 100.0, t = s * f;
        switch (q) {
          case Quantity::voltage_ln: return 230.0;
          case Quantity::voltage_ll: return 230.0 * 1.7320508075688772;
          case Quantity::current: return 100.0;
          case Quantity::apparent_power: return n * s;
          case Quantity::active_power: return n * 0.8 * t;
          case Quantity::reactive_power: return n * 0.6 * t;
          case Quantity::power_factor: return 0.8 * t / s;
          case Quantity::frequency: return 50.0;
          default: return 0.0;
        }
      });
    return check.active(FindingKind::power_triangle);
  };
  CHECK_FALSE(run(1.0));
  CHECK_FALSE(run(1.09));  // within the 10 % consistency tolerance
  CHECK(run(1.11));        // P^2 + Q^2 above S^2
  CHECK_FALSE(run(0.71));  // within the 30 % distortion tolerance
  CHECK(run(0.69));        // S does not fit P and Q
}

TEST_CASE("checks read only the values a sample carries, and a healthy device keeps no finding texts") {
  Recorder rec;
  Plausibility check(builtin_profile(), settings("meter", "3PN", 400, "200:5", "1"),
                     Thresholds{.raise_after = 1, .clear_after = 1}, &rec);
  const Assembly& a = *builtin_profile().assembly(102);
  pm500::Sample s{};
  s.assembly = 102;
  // A power factor of 5 beyond the sample's count is not judged: the sample does not carry it.
  std::size_t pf = 0;
  while (pf < a.elements.size() && a.elements[pf].kind != Quantity::power_factor) ++pf;
  REQUIRE(pf < a.elements.size());
  s.values[pf] = 5;
  s.count = static_cast<std::uint8_t>(pf);
  check.check(s);
  CHECK_FALSE(check.active(FindingKind::power_factor_range));
  CHECK(check.snapshot().empty());
  s.count = static_cast<std::uint8_t>(pf + 1);
  check.check(s);
  CHECK(check.active(FindingKind::power_factor_range));
  REQUIRE(check.snapshot().size() >= 1);
}
