// The command line as an operator meets it: exit codes, messages, help, clean shutdown, and
// the generated example and reference files kept equal to the program.
#include <doctest/doctest.h>

#include <csignal>

#include "support/support.hpp"

using namespace pm500::test;

namespace {

std::string gateway() { return binary("pm500-gateway").string(); }

std::string minimal_config(const TempDir& dir) {
  return "[gateway]\nstate_dir = \"" + (dir / "state").string() + "\"\n[logging]\nformat = \"text\"\n[status]\nenabled = false\n";
}

}  // namespace

TEST_CASE("--version and --help") {
  auto v = run({gateway(), "--version"});
  CHECK(v.code == 0);
  CHECK(v.output.find("pm500-gateway 0.") != std::string::npos);
  auto h = run({gateway(), "--help"});
  CHECK(h.code == 0);
  CHECK(h.output.find("run") != std::string::npos);
  CHECK(h.output.find("Exit codes") != std::string::npos);
  auto rh = run({gateway(), "run", "--help"});
  CHECK(rh.output.find("--config") != std::string::npos);
}

TEST_CASE("usage errors exit 64") {
  CHECK(run({gateway()}).code == 64);
  CHECK(run({gateway(), "frobnicate"}).code == 64);
  CHECK(run({gateway(), "run"}).code == 64);  // -c is required
}

TEST_CASE("check accepts the example configuration") {
  // --offline: the example's meter is at 192.168.10.21, and tests never leave loopback (the
  // probes themselves are pinned in test_check.cpp).
  auto r = run({gateway(), "check", "--offline", "-c", (source_dir() / "etc/gateway.example.toml").string()});
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("not probed (--offline)") != std::string::npos);
}

TEST_CASE("a misspelled key exits 2 naming the line and the key") {
  TempDir dir;
  write_file(dir / "gateway.toml", "[gateway]\nsite = \"a\"\n\n[scanner]\nudp_prot = 2222\n");
  auto r = run({gateway(), "check", "-c", (dir / "gateway.toml").string()});
  CHECK(r.code == 2);
  CHECK(r.output.find("gateway.toml:5:1: [scanner] unknown key \"udp_prot\" (did you mean \"udp_port\"?)") !=
        std::string::npos);
  auto missing = run({gateway(), "check", "-c", (dir / "nope.toml").string()});
  CHECK(missing.code == 2);
  CHECK(missing.output.find("cannot read the configuration file") != std::string::npos);
}

TEST_CASE("run shuts down cleanly on SIGTERM and on SIGINT") {
  for (int sig : {SIGTERM, SIGINT}) {
    TempDir dir;
    write_file(dir / "gateway.toml", minimal_config(dir));
    Process p({gateway(), "run", "-c", (dir / "gateway.toml").string()});
    REQUIRE(eventually([&] { return p.log().find("running;") != std::string::npos; }, 10s));
    p.signal(sig);
    auto code = p.wait(10s);
    INFO(p.log());
    REQUIRE(code.has_value());
    CHECK(*code == 0);
    CHECK(p.log().find("shutting down") != std::string::npos);
    CHECK(fs::is_directory(dir / "state"));
  }
}

TEST_CASE("repeated unclean exits raise ops.restart_loop on the next start; clean stops do not") {
  TempDir dir;
  write_file(dir / "gateway.toml", minimal_config(dir));
  auto start = [&] {
    auto p = std::make_unique<Process>(std::vector<std::string>{gateway(), "run", "-c", (dir / "gateway.toml").string()});
    REQUIRE(eventually([&] { return p->log().find("running;") != std::string::npos; }, 10s));
    return p;
  };
  for (int i = 0; i < 2; ++i) {  // clean stops
    auto p = start();
    p->signal(SIGTERM);
    CHECK(p->wait(10s) == std::optional<int>(0));
  }
  {
    auto p = start();
    CHECK(p->log().find("ops.restart_loop") == std::string::npos);
    p->signal(SIGTERM);
    p->wait(10s);
  }
  for (int i = 0; i < 3; ++i) {  // killed, as by the kernel's OOM killer or a crash
    auto p = start();
    p->signal(SIGKILL);
    p->wait(10s);
  }
  auto p = start();
  std::string log = p->log();
  CHECK(log.find("RAISED ops.restart_loop [gateway]") != std::string::npos);
  CHECK(log.find("3 after an unclean exit") != std::string::npos);
  CHECK(log.find("start 7 here") != std::string::npos);
  std::string history = read_file(dir / "state" / "restart-history");
  CHECK(history.find("stop ") != std::string::npos);
  CHECK(history.find(" SIGTERM") != std::string::npos);
}

TEST_CASE("a missing environment variable loops the gateway; the first good start names the loop and its cause") {
  TempDir dir;
  fs::create_directories(dir / "state");
  write_file(dir / "gateway.toml", "[gateway]\nsite = \"${PM500_TEST_UNSET_SITE}\"\nstate_dir = \"" +
                                        (dir / "state").string() + "\"\n[logging]\nformat = \"text\"\n"
                                        "[status]\nenabled = false\n");
  for (int i = 0; i < 3; ++i) {  // what a container's restart policy does
    auto r = run({gateway(), "run", "-c", (dir / "gateway.toml").string()});
    CHECK(r.code == 2);
    CHECK(r.output.find("environment variable PM500_TEST_UNSET_SITE is not set") != std::string::npos);
  }
  std::string history = read_file(dir / "state" / "restart-history");
  CHECK(history.find("configuration error: ") != std::string::npos);
  write_file(dir / "gateway.toml", minimal_config(dir));  // the .env file is fixed
  Process p({gateway(), "run", "-c", (dir / "gateway.toml").string()});
  REQUIRE(eventually([&] { return p.log().find("running;") != std::string::npos; }, 10s));
  std::string log = p.log();
  CHECK(log.find("RAISED ops.restart_loop [gateway]") != std::string::npos);
  CHECK(log.find("3 failed to start (last: configuration error: ") != std::string::npos);
  CHECK(log.find("PM500_TEST_UNSET_SITE is not set") != std::string::npos);
}

TEST_CASE("run with an unusable state directory exits 1 with the cause") {
  TempDir dir;
  write_file(dir / "blocker", "a file, not a folder");
  write_file(dir / "gateway.toml", "[gateway]\nstate_dir = \"" + (dir / "blocker" / "state").string() +
                                        "\"\n[status]\nenabled = false\n");
  auto r = run({gateway(), "run", "-c", (dir / "gateway.toml").string(), "--log-format", "json"});
  CHECK(r.code == 1);
  CHECK(r.output.find("cannot create state directory") != std::string::npos);
  CHECK(r.output.find("\"level\":\"critical\"") != std::string::npos);  // JSON lines on request
}

TEST_CASE("run with too few open files for its meters exits 1 naming the need and the fix") {
  TempDir dir;
  std::string cfg = "[gateway]\nstate_dir = \"" + (dir / "state").string() + "\"\n[status]\nenabled = false\n";
  for (int i = 0; i < 300; ++i)  // nothing is contacted: the gateway stops before the scanner starts
    cfg += "[[devices]]\nname = \"m" + std::to_string(i) + "\"\naddress = \"127.0." + std::to_string(66 + i / 200) + "." +
           std::to_string(1 + i % 200) + "\"\n";
  write_file(dir / "gateway.toml", cfg);
  auto r = run({"prlimit", "--nofile=1000:1000", gateway(), "run", "-c", (dir / "gateway.toml").string()});
  CHECK(r.code == 1);
  CHECK(r.output.find("not enough open files: 300 device(s) need up to 1112 open files") != std::string::npos);
  CHECK(r.output.find("LimitNOFILE=") != std::string::npos);
}

TEST_CASE("the committed example and reference match the program (docs cannot go stale)") {
  auto ex = run({gateway(), "config", "--example"});
  REQUIRE(ex.code == 0);
  CHECK_MESSAGE(ex.output == read_file(source_dir() / "etc/gateway.example.toml"),
                "etc/gateway.example.toml is stale: run `pm500-gateway config --example > etc/gateway.example.toml`");
  auto ref = run({gateway(), "config", "--reference"});
  REQUIRE(ref.code == 0);
  CHECK_MESSAGE(ref.output == read_file(source_dir() / "docs/configuration.md"),
                "docs/configuration.md is stale: run `pm500-gateway config --reference > docs/configuration.md`");
  auto ts = run({gateway(), "troubleshooting", "--markdown"});
  REQUIRE(ts.code == 0);
  CHECK_MESSAGE(ts.output == read_file(source_dir() / "docs/troubleshooting.md"),
                "docs/troubleshooting.md is stale: run `pm500-gateway troubleshooting --markdown > "
                "docs/troubleshooting.md`");
}

TEST_CASE("troubleshooting prints every guide row with its resolution") {
  auto r = run({gateway(), "troubleshooting"});
  CHECK(r.code == 0);
  for (const char* id : {"eip.ownership_conflict", "influxdb.write_error", "ops.alert_delivery_failure"})
    CHECK(r.output.find(id) != std::string::npos);
  CHECK(r.output.find("resolution:") != std::string::npos);
}
