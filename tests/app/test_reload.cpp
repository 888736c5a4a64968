// Reloading the configuration with SIGHUP, against the real gateway and its embedded simulator
// (two meters on 127.0.41.x): a file sink that cannot start reported and tried again by the
// next reload, added, kept running across reloads that do not touch
// it (every sample of every meter written once: the CIP sequence counts in the file run on
// without a gap or a repeat), changed (another file, continuing the first without a gap or a
// repeat), then removed; an invalid file refused with its error on
// /api/status and the running configuration kept; a change that cannot be applied live named
// as "restart needed"; the log level changed live; the meters never reconnected. And meters
// (four on 127.0.62.20-23): one added, one removed, one's ratios changed, one's RPI changed
// (reopened), an invalid device refused; the unchanged meter keeps its connections throughout.
// And a changed profile (reopened) and asset (connection kept) on 127.0.41.20-22: the samples
// taken before the reload keep the old field names and asset, those after carry the new ones.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <thread>

#include "support/gateway.hpp"
#include "support/support.hpp"

using namespace pm500::test;

namespace {

const std::string kFileSink = "[sinks.file]\nformat = \"json\"\npath = \"samples.jsonl\"\nflush_interval_ms = 50\n";

struct Status {
  std::string result, summary;
  std::vector<std::string> errors, restart_needed, applied, sinks;
  std::map<std::string, std::int64_t> reconnects;  // per device
  std::map<std::string, std::int64_t> forward_opens, samples;
  std::map<std::string, std::string> state;
  std::int64_t at_ms = 0;
};

Status get_status(const std::string& base) {
  auto r = http_get(base + "/api/status");
  REQUIRE(r.code == 0);
  const std::string body = r.output.substr(0, r.output.rfind('\n'));
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(body);
  Status s;
  auto reload = doc["reload"];
  s.at_ms = reload["at_ms"].get_int64().value();
  s.result = std::string(reload["result"].get_string().value());
  s.summary = std::string(reload["summary"].get_string().value());
  for (auto [key, out] : {std::pair{"errors", &s.errors}, std::pair{"restart_needed", &s.restart_needed},
                          std::pair{"applied", &s.applied}})
    for (auto e : reload[key].get_array()) out->emplace_back(e.get_string().value());
  for (auto d : doc["devices"].get_array())
  {
    const std::string name(d["name"].get_string().value());
    s.reconnects[name] = d["reconnects"].get_int64().value();
    s.forward_opens[name] = d["forward_opens"].get_int64().value();
    s.samples[name] = d["samples"].get_int64().value();
    s.state[name] = std::string(d["state"].get_string().value());
  }
  for (auto k : doc["sinks"].get_array()) s.sinks.emplace_back(k["name"].get_string().value());
  return s;
}

// Sends SIGHUP and waits until /api/status shows a reload newer than `after_ms`.
Status reload(Process& gw, const std::string& base, std::int64_t after_ms) {
  REQUIRE(gw.signal(SIGHUP));
  Status s;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        s = get_status(base);
                        return s.at_ms > after_ms;
                      },
                      10s),
                  gw.log());
  return s;
}

// Samples per device and assembly in the files (read in order, as one stream), and the places
// where the CIP sequence count does not go up by exactly one (a lost or a repeated sample).
struct Break {
  std::int64_t gap;  // sequence counts from one sample to the next (1 is no break)
  std::string text;
};
struct Counted {
  std::size_t samples = 0;
  std::map<std::string, std::size_t> per_device;
  std::vector<Break> breaks;
};

// Calls f with each complete line of a JSON lines file, parsed, in order (a line being written
// is left out).
template <typename F>
void each_line(const fs::path& file, F f) {
  const std::string text = fs::exists(file) ? read_file(file) : std::string();
  simdjson::dom::parser parser;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) break;
    simdjson::dom::element e = parser.parse(text.substr(start, end - start));
    start = end + 1;
    f(e);
  }
}

Counted count_files(const std::vector<fs::path>& files) {
  Counted c;
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> last;
  for (const auto& file : files) {
    each_line(file, [&](simdjson::dom::element e) {
      const std::string device(e["device"].get_string().value());
      const std::int64_t assembly = e["assembly"].get_int64().value();
      const std::int64_t seq = e["sequence"].get_int64().value();
      ++c.samples;
      ++c.per_device[device];
      auto [it, first] = last.try_emplace({device, assembly}, seq);
      if (!first) {
        const std::int64_t gap = (seq - it->second + 0x10000) % 0x10000;
        if (gap != 1)
          c.breaks.push_back({gap, device + "/" + std::to_string(assembly) + ": " + std::to_string(it->second) +
                                       " -> " + std::to_string(seq)});
        it->second = seq;
      }
    });
  }
  return c;
}

Counted count(const fs::path& file) { return count_files({file}); }

std::string first_break(const Counted& c) { return c.breaks.empty() ? std::string() : c.breaks.front().text; }

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("SIGHUP: a sink added, kept across reloads without a lost or repeated sample, removed; invalid file kept "
          "out; restart needed named") {
  SimulatedGateway g("127.0.41.10", 2, "");
  const fs::path cfg = g.dir / "gateway.toml";
  const std::string base_cfg = read_file(cfg);
  Process gw(g.args());
  const std::string url = status_url(gw);
  REQUIRE_MESSAGE(!url.empty(), gw.log());
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        auto s = get_status(url);
                        return s.reconnects.size() == 2 && gw.log().find("mcc-2 127.0.41.11:44818: running") !=
                                                               std::string::npos;
                      },
                      15s),
                  gw.log());
  Status s = get_status(url);
  CHECK(s.at_ms == 0);
  CHECK(s.result.empty());
  CHECK(s.sinks.empty());
  const auto reconnects = s.reconnects;

  // 1. A file sink is added, but its folder cannot be made (a file is in the way): the reload
  //    names the error and the sink does not run; once the way is clear the same file adds it.
  const fs::path samples = g.dir / "state" / "sinks" / "file" / "samples.jsonl";
  fs::create_directories(g.dir / "state" / "sinks");
  write_file(g.dir / "state" / "sinks" / "file", "in the way");
  write_file(cfg, base_cfg + kFileSink);
  s = reload(gw, url, s.at_ms);
  CHECK(s.result == "applied");
  CHECK(s.applied.empty());
  REQUIRE(s.errors.size() == 1);
  CHECK(s.errors[0].find("sinks/file") != std::string::npos);  // names the path
  CHECK(s.summary.find("failed: ") != std::string::npos);
  CHECK(s.sinks.empty());
  fs::remove(g.dir / "state" / "sinks" / "file");
  s = reload(gw, url, s.at_ms);
  CHECK(s.result == "applied");
  REQUIRE(s.applied == std::vector<std::string>{"sink file added"});
  CHECK(s.restart_needed.empty());
  CHECK(s.sinks == std::vector<std::string>{"file"});
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(samples) && count(samples).samples >= 20; }, 10s), gw.log());

  // 2. An invalid file: refused with its error, the file sink keeps running.
  write_file(cfg, base_cfg + kFileSink + "[sinks.file]\nbogus = 1\n[scanner]\nudp_port = \"x\"\n");
  s = reload(gw, url, s.at_ms);
  CHECK(s.result == "refused");
  REQUIRE_FALSE(s.errors.empty());
  CHECK(s.summary.find("refused") != std::string::npos);
  CHECK(s.errors.front().find("gateway.toml") != std::string::npos);  // where: file and line
  CHECK(gw.log().find("reload refused") != std::string::npos);
  CHECK(s.sinks == std::vector<std::string>{"file"});
  std::size_t before = count(samples).samples;
  CHECK(eventually([&] { return count(samples).samples > before + 10; }, 10s));

  // 3. A change that cannot be applied live ([status] listen) next to an unchanged sink: named,
  //    nothing else touched.
  //    The log level applies live.
  write_file(cfg, replaced(replaced(base_cfg + kFileSink, "listen = \"127.0.0.1:0\"", "listen = \"127.0.41.1:0\""),
                           "[logging]\n", "[logging]\nlevel = \"debug\"\n"));
  s = reload(gw, url, s.at_ms);
  CHECK(s.result == "applied");
  CHECK(s.applied == std::vector<std::string>{"log level debug"});
  CHECK(s.restart_needed == std::vector<std::string>{"[status] listen"});
  CHECK(s.summary.find("restart needed for: [status] listen") != std::string::npos);
  before = count(samples).samples;
  CHECK(eventually([&] { return count(samples).samples > before + 10; }, 10s));

  // Across the three reloads: every sample of both meters in the file once, in order.
  const Counted kept = count(samples);
  CHECK(kept.per_device.size() == 2);
  CHECK_MESSAGE(kept.breaks.empty(), first_break(kept));

  // 4. The sink's settings change (another file): it restarts with them. The old file ends and
  //    the new one continues exactly where it ended: no sample missed or repeated.
  const fs::path moved_samples = g.dir / "state" / "sinks" / "file" / "moved.jsonl";
  write_file(cfg, replaced(base_cfg + kFileSink, "samples.jsonl", "moved.jsonl"));
  s = reload(gw, url, s.at_ms);
  CHECK(s.applied == std::vector<std::string>{"log level info", "sink file restarted with its new settings"});
  CHECK(gw.log().find("debug [gateway] reload compared") != std::string::npos);  // at debug in between
  CHECK(s.sinks == std::vector<std::string>{"file"});
  REQUIRE_MESSAGE(eventually([&] { return fs::exists(moved_samples) && count(moved_samples).samples >= 20; }, 10s),
                  gw.log());
  const Counted old_file = count(samples);
  std::this_thread::sleep_for(300ms);
  CHECK(count(samples).samples == old_file.samples);
  const Counted new_file = count(moved_samples);
  CHECK(new_file.per_device.size() == 2);
  CHECK_MESSAGE(new_file.breaks.empty(), first_break(new_file));
  // One stream across both files: the new sink read the ring from where the old one stopped.
  const Counted both = count_files({samples, moved_samples});
  CHECK(both.samples == old_file.samples + new_file.samples);
  CHECK_MESSAGE(both.breaks.empty(), first_break(both));

  // 5. The sink is removed: it stops (what it held is written) and the file stops growing.
  write_file(cfg, base_cfg);
  s = reload(gw, url, s.at_ms);
  CHECK(s.applied == std::vector<std::string>{"sink file removed"});
  CHECK(s.sinks.empty());
  CHECK(gw.log().find("sink file stopped") != std::string::npos);
  const std::size_t at_removal = count(moved_samples).samples;
  std::this_thread::sleep_for(500ms);  // the meters produce 60 samples in this time
  CHECK(count(moved_samples).samples == at_removal);
  CHECK(count(moved_samples).breaks.empty());

  // The meters were never reconnected.
  CHECK(get_status(url).reconnects == reconnects);
  gw.signal(SIGTERM);
  CHECK(gw.wait(15s) == 0);
}

namespace {

// The newest value of `field` of a device in the JSON lines file, or -1.
double last_value(const fs::path& file, const std::string& device, const std::string& field) {
  double v = -1;
  each_line(file, [&](simdjson::dom::element e) {
    double x = 0;
    if (e["device"].get_string().value() == device && e["values"][field].get(x) == simdjson::SUCCESS) v = x;
  });
  return v;
}

}  // namespace

TEST_CASE("SIGHUP: devices added, removed and changed live; unchanged meters keep their connections; no sample lost") {
  // Four simulated meters (127.0.62.20-23); the file names the first three.
  SimulatedGateway g("127.0.62.20", 4, kFileSink);
  const fs::path cfg = g.dir / "gateway.toml";
  const std::string four = read_file(cfg);
  const auto mcc4 = four.find("[[devices]]\nname = \"mcc-4\"");
  const auto sinks = four.find("[sinks.file]");
  REQUIRE(mcc4 != std::string::npos);
  REQUIRE(sinks != std::string::npos);
  const std::string dev4 = four.substr(mcc4, sinks - mcc4);
  const std::string three = replaced(four, dev4, "");
  write_file(cfg, three);
  const fs::path samples = g.dir / "state" / "sinks" / "file" / "samples.jsonl";

  Process gw(g.args());
  const std::string url = status_url(gw);
  REQUIRE_MESSAGE(!url.empty(), gw.log());
  Status s;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        s = get_status(url);
                        return s.state.size() == 3 && s.state["mcc-1"] == "running" && s.state["mcc-2"] == "running" &&
                               s.state["mcc-3"] == "running" && count(samples).per_device.size() == 3;
                      },
                      15s),
                  gw.log());
  const auto opens = s.forward_opens;
  const auto reconnects = s.reconnects;
  const double current_before = last_value(samples, "mcc-2", "current_l1_a");
  REQUIRE(current_before > 0);

  // mcc-3 removed, mcc-4 added, mcc-2's ratios changed (the gateway now applies CT 800:5 to what
  // the meter already scaled: 160 times the current), mcc-1 untouched.
  std::string next = replaced(three, dev4.empty() ? "" : "[sinks.file]", dev4 + "[sinks.file]");
  const auto mcc3 = next.find("[[devices]]\nname = \"mcc-3\"");
  REQUIRE(mcc3 != std::string::npos);
  next.erase(mcc3, next.find("[[devices]]", mcc3 + 1) - mcc3);
  const auto mcc2 = next.find("name = \"mcc-2\"");
  next.replace(next.find("ct = \"400:5\"", mcc2), 12, "ct = \"800:5\"\nratios_applied_by = \"gateway\"");
  write_file(cfg, next);
  s = reload(gw, url, 0);
  INFO(gw.log());
  CHECK(s.result == "applied");
  CHECK(s.restart_needed.empty());
  CHECK(s.errors.empty());
  CHECK(s.applied == std::vector<std::string>{"device mcc-3 removed (Forward Close)", "device mcc-4 added",
                                              "device mcc-2 takes its new settings (connection unchanged)"});
  REQUIRE(eventually([&] { return count(samples).per_device["mcc-4"] >= 10; }, 10s));
  REQUIRE(eventually([&] { return last_value(samples, "mcc-2", "current_l1_a") > 50 * current_before; }, 10s));
  s = get_status(url);
  CHECK(s.state.size() == 3);  // mcc-1, mcc-2, mcc-4
  CHECK_FALSE(s.state.contains("mcc-3"));
  CHECK(s.state["mcc-4"] == "running");
  // Unchanged: no Forward Open, no reconnect. Changed settings alone do not reconnect either.
  CHECK(s.forward_opens["mcc-1"] == opens.at("mcc-1"));
  CHECK(s.forward_opens["mcc-2"] == opens.at("mcc-2"));
  CHECK(s.reconnects["mcc-1"] == reconnects.at("mcc-1"));
  const std::size_t mcc3_rows = count(samples).per_device["mcc-3"];
  std::this_thread::sleep_for(500ms);
  CHECK(count(samples).per_device["mcc-3"] == mcc3_rows);  // nothing more from the removed meter

  // mcc-4's connection changes (another RPI): reopened, the others untouched.
  const std::int64_t opens4 = s.forward_opens["mcc-4"];
  write_file(cfg, replaced(next, "rpi_ms = 100\nassemblies = [101, 102, 107]\nct = \"400:5\"\nnominal_voltage = 480\n"
                                 "[sinks",
                           "rpi_ms = 200\nassemblies = [101, 102, 107]\nct = \"400:5\"\nnominal_voltage = 480\n[sinks"));
  s = reload(gw, url, s.at_ms);
  CHECK(s.applied == std::vector<std::string>{"device mcc-4 reopened with its new settings"});
  REQUIRE(eventually([&] { return get_status(url).forward_opens["mcc-4"] >= opens4 + 3; }, 10s));
  // An invalid device is refused with its error; the running devices stay as they are.
  write_file(cfg, replaced(next, "name = \"mcc-4\"", "name = \"mcc-4\"\nrpi_ms = 1"));
  s = reload(gw, url, s.at_ms);
  CHECK(s.result == "refused");
  CHECK_FALSE(s.errors.empty());

  s = get_status(url);
  CHECK(s.forward_opens["mcc-1"] == opens.at("mcc-1"));
  CHECK(s.reconnects["mcc-1"] == reconnects.at("mcc-1"));
  // Every sample of the meters that ran throughout is in the file once, in order, across the
  // sinks' restart for the added meter.
  const Counted all = count(samples);
  for (const auto& b : all.breaks) CHECK_MESSAGE(b.text.rfind("mcc-4", 0) == 0, b.text);  // only its RPI change
  gw.signal(SIGTERM);
  CHECK(gw.wait(15s) == 0);
}

namespace {

// Per line of the JSON lines file, in order: device, asset, and whether assembly 101's values
// carry `field`.
struct Row {
  std::string device, asset;
  std::int64_t assembly;
  bool has_field;
};

std::vector<Row> rows(const fs::path& file, const std::string& field) {
  std::vector<Row> out;
  each_line(file, [&](simdjson::dom::element e) {
    double x = 0;
    out.push_back({std::string(e["device"].get_string().value()), std::string(e["asset"].get_string().value()),
                   e["assembly"].get_int64().value(), e["values"][field].get(x) == simdjson::SUCCESS});
  });
  return out;
}

}  // namespace

TEST_CASE("SIGHUP: a changed profile and a changed asset apply live; samples taken before keep the old names") {
  // Three simulated meters (127.0.41.20-22). mcc-1 gets a profile that names current_l1_a
  // "current_a_a" (reopened), mcc-2 a new asset (its connection kept), mcc-3 is untouched.
  SimulatedGateway g("127.0.41.20", 3, kFileSink);
  const fs::path cfg = g.dir / "gateway.toml";
  const std::string before_cfg = read_file(cfg);
  std::string profile = read_file(source_dir() / "etc/profiles/powermonitor500.toml");
  for (auto at = profile.find("current_l1_a"); at != std::string::npos; at = profile.find("current_l1_a", at))
    profile.replace(at, 12, "current_a_a");
  write_file(g.dir / "renamed.toml", profile);
  const fs::path samples = g.dir / "state" / "sinks" / "file" / "samples.jsonl";

  Process gw(g.args());
  const std::string url = status_url(gw);
  REQUIRE_MESSAGE(!url.empty(), gw.log());
  Status s;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        s = get_status(url);
                        return s.state["mcc-1"] == "running" && s.state["mcc-2"] == "running" &&
                               s.state["mcc-3"] == "running" && count(samples).per_device["mcc-1"] >= 30 &&
                               count(samples).per_device["mcc-2"] >= 30;
                      },
                      15s),
                  gw.log());
  const auto opens = s.forward_opens;
  const auto reconnects = s.reconnects;

  std::string next = replaced(before_cfg, "name = \"mcc-1\"\n", "name = \"mcc-1\"\nprofile = \"renamed.toml\"\n");
  next = replaced(next, "name = \"mcc-2\"\n", "name = \"mcc-2\"\nasset = \"feeder-2\"\n");
  write_file(cfg, next);
  const auto t0 = std::chrono::steady_clock::now();
  s = reload(gw, url, 0);
  MESSAGE("reload (profile + asset, sinks restarted) took ",
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count(),
          " ms (SIGHUP to /api/status)");
  INFO(gw.log());
  CHECK(s.result == "applied");
  CHECK(s.restart_needed.empty());
  CHECK(s.errors.empty());
  CHECK(s.applied == std::vector<std::string>{"device mcc-1 reopened with its new profile",
                                              "device mcc-2 takes its new settings (connection unchanged)"});
  REQUIRE(eventually(
      [&] {
        const auto r = rows(samples, "current_a_a");
        return std::count_if(r.begin(), r.end(), [](const Row& x) { return x.device == "mcc-1" && x.has_field; }) >= 10 &&
               std::count_if(r.begin(), r.end(), [](const Row& x) { return x.asset == "feeder-2"; }) >= 10;
      },
      10s));
  const std::size_t seen = count(samples).samples;
  REQUIRE(eventually([&] { return count(samples).samples >= seen + 30; }, 10s));

  // mcc-1's assembly 101: the old name up to the reload, the new one after, never mixed back.
  bool renamed = false;
  std::size_t old_names = 0, new_names = 0, after_change = 0;
  for (const Row& r : rows(samples, "current_l1_a")) {
    if (r.device != "mcc-1" || r.assembly != 101) continue;
    if (r.has_field) {
      ++old_names;
      CHECK_FALSE(renamed);
    } else {
      renamed = true;
      ++new_names;
    }
  }
  for (const Row& r : rows(samples, "current_a_a"))
    if (r.device == "mcc-1" && r.assembly == 101 && r.has_field) ++after_change;
  CHECK(old_names >= 5);
  CHECK(new_names >= 5);
  CHECK(after_change == new_names);  // every later sample carries the new name
  // mcc-2: its old asset up to the reload, the new one after; not one sample lost or repeated.
  bool retagged = false;
  std::size_t old_asset = 0;
  for (const Row& r : rows(samples, "current_l1_a")) {
    if (r.device != "mcc-2") continue;
    if (r.asset == "mcc-2") {
      ++old_asset;
      CHECK_FALSE(retagged);
    } else {
      CHECK(r.asset == "feeder-2");
      retagged = true;
    }
  }
  CHECK(old_asset >= 5);
  CHECK(retagged);
  const Counted all = count(samples);
  for (const auto& b : all.breaks) CHECK_MESSAGE(b.text.rfind("mcc-1/", 0) == 0, b.text);  // only the reopened one

  s = get_status(url);
  CHECK(s.state["mcc-1"] == "running");
  // Unchanged and asset-only: no Forward Open, no reconnect.
  for (const std::string name : {"mcc-2", "mcc-3"}) {
    CHECK(s.forward_opens[name] == opens.at(name));
    CHECK(s.reconnects[name] == reconnects.at(name));
  }
  gw.signal(SIGTERM);
  CHECK(gw.wait(15s) == 0);
}
