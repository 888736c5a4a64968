// The status page of a plant: the gateway binary scanning 200 meters of one pm500-sim process
// (meter 5 with its CT ratio applied twice, meters 190..199 producing nothing), seen in
// headless Chromium at 360 px and at desktop width. Three gateways in turn pick the meters of
// three states: healthy (meters 10..189), one meter with ct-twice (0..189), ten stopped
// (10..199). Screenshots: ${PM500_BINARY_DIR}/artifacts/plant-*.png.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <functional>

#include "browser.hpp"
#include "support/gateway.hpp"

using namespace pm500::test;

namespace {

constexpr int kMeters = 200;
constexpr int kCtTwice = 5;
constexpr int kFirstStopped = 190;

std::string meter_name(int i) {
  char b[16];
  std::snprintf(b, sizeof b, "m-%03d", i);
  return b;
}

std::string meter_address(int i) { return "127.0.43." + std::to_string(10 + i); }

// A gateway for meters first..last of the simulator, its status page on 127.0.43.1.
struct Plant {
  TempDir dir;
  Plant(int first, int last) {
    std::string t = "[gateway]\nsite = \"plant\"\nclear_hold_ms = 300\nstate_dir = \"" + (dir / "state").string() +
                    "\"\n[logging]\nformat = \"text\"\n[status]\nlisten = \"127.0.43.1:0\"\n[scanner]\nudp_port = " +
                    std::to_string(free_udp_port()) +
                    "\nreconnect_initial_ms = 200\nreconnect_max_ms = 1000\nconnect_timeout_ms = 1000\n";
    for (int i = first; i <= last; ++i)
      t += "[[devices]]\nname = \"" + meter_name(i) + "\"\nasset = \"line " + std::to_string(i / 20) +
           "\"\naddress = \"" + meter_address(i) +
           "\"\nrpi_ms = 200\nassemblies = [101, 102]\nct = \"400:5\"\nnominal_voltage = 480\n";
    t += "[sinks.file]\npath = \"samples.lp\"\n";
    write_file(dir / "gateway.toml", t);
  }
  std::vector<std::string> args() const { return {gateway_binary(), "run", "-c", (dir / "gateway.toml").string()}; }
};

std::size_t occurrences(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Waits until /api/status satisfies `ready`; returns the page's DOM, after screenshots.
std::string look(Process& gw, const std::string& shot, const std::function<bool(const std::string&)>& ready) {
  const std::string url = status_url(gw);
  REQUIRE_MESSAGE(!url.empty(), gw.log());
  std::string last;
  const bool ok = eventually(
      [&] {
        last = http_get(url + "/api/status").output;
        return ready(last);
      },
      60s);
  REQUIRE_MESSAGE(ok, "last /api/status: " << last.substr(0, 3000));
  for (const auto& [suffix, size] : {std::pair{"", "360,2400"}, std::pair{"-desktop", "1280,1400"}}) {
    const fs::path png = artifacts() / ("plant-" + shot + suffix + ".png");
    fs::remove(png);
    browse(url + "/", {"--screenshot=" + png.string()}, size);
    CHECK(is_png(png));
  }
  auto r = browse(url + "/", {"--dump-dom"}, "1280,1400");
  REQUIRE(r.code == 0);
  CHECK(console_lines(r.log) == "");
  return r.out;
}

}  // namespace

TEST_CASE("a plant of 200 simulated meters: healthy, one CT applied twice, ten stopped") {
  if (!have_chromium()) return;
  std::vector<std::string> sim{binary("pm500-sim").string(), "--address", meter_address(0), "--meters",
                               std::to_string(kMeters), "--ct", "400:5", "--nominal-voltage", "480",
                               "--log-format", "text", "--fault", "ctpt ct-twice " + std::to_string(kCtTwice)};
  for (int m = kFirstStopped; m < kMeters; ++m) {
    sim.push_back("--fault");
    sim.push_back("stop-producing " + std::to_string(m));
  }
  Process meters(sim);
  REQUIRE_MESSAGE(eventually([&] { return meters.log().find("pm500-sim: 200 meter(s)") != std::string::npos; }, 20s),
                  meters.log());

  SUBCASE("healthy") {
    Plant plant(10, kFirstStopped - 1);
    Process gw(plant.args());
    auto dom = look(gw, "healthy", [](const std::string& st) {
      return occurrences(st, "\"state\":\"running\"") == 180 && st.find("\"failures\":[]") != std::string::npos;
    });
    CHECK(dom.find("<header class=\"ok\">") != std::string::npos);
    CHECK(overview_rows(dom).size() == 180);
    CHECK(dom.find("num suspect") == std::string::npos);
  }
  SUBCASE("one meter with its CT ratio applied twice") {
    Plant plant(0, kFirstStopped - 1);
    Process gw(plant.args());
    auto dom = look(gw, "ct-twice", [](const std::string& st) {
      return occurrences(st, "\"state\":\"running\"") == 190 && st.find("\"suspect\":true") != std::string::npos;
    });
    const auto rows = overview_rows(dom);
    REQUIRE(rows.size() == 190);
    CHECK(rows[0] == meter_name(kCtTwice));  // the problem first
    CHECK(dom.find("<td class=\"num suspect\" title=\"Suspect: " + meter_name(kCtTwice)) != std::string::npos);
    CHECK(dom.find("⚠ Running, readings suspect") != std::string::npos);
    CHECK(dom.find("<div class=\"value suspect\" title=\"Suspect: ") != std::string::npos);
  }
  SUBCASE("ten meters stopped") {
    Plant plant(10, kMeters - 1);
    Process gw(plant.args());
    auto dom = look(gw, "ten-stopped", [](const std::string& st) {
      return occurrences(st, "\"state\":\"running\"") == 180 && occurrences(st, "\"id\":\"eip.session_fault\"") >= 1;
    });
    const auto rows = overview_rows(dom);
    REQUIRE(rows.size() == 190);
    std::vector<std::string> first(rows.begin(), rows.begin() + 10);
    std::sort(first.begin(), first.end());
    for (int i = 0; i < 10; ++i) CHECK(first[i] == meter_name(kFirstStopped + i));  // the ten first
    // Not green: amber or red as the stopped meters go between reconnecting and waiting.
    CHECK(dom.find("<header class=\"ok\">") == std::string::npos);
    CHECK(dom.find("<span id=\"state-word\">✔ OK</span>") == std::string::npos);
  }
}
