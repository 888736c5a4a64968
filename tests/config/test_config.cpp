// Configuration loading: every error class names file:line:column and the key, secrets stay
// secret, ${VAR} substitution works.
#include <doctest/doctest.h>

#include <map>

#include "config/config.hpp"

using namespace pm500::config;

namespace {

// A stand-in sink schema with a secret, so the loader's handling of [sinks.*] is pinned
// without depending on a real sink.
struct TestSink {
  std::string url = "http://127.0.0.1:8086";
  std::string token;
};

const Options<TestSink>& test_options() {
  static const Options<TestSink> o{
      string("url", &TestSink::url, "Where to send."),
      string("token", &TestSink::token, "API token.").secret_value(),
  };
  return o;
}

std::vector<SinkSchema> schemas() {
  SinkSchema s;
  s.name = "test";
  s.summary = "A test sink.";
  s.read = [](TableReader& r) {
    TestSink t;
    r.read(test_options(), t);
    return std::any(t);
  };
  s.dump = [](const std::any& a) { return dump(test_options(), std::any_cast<const TestSink&>(a)); };
  s.describe = [] { return describe(test_options()); };
  return {s};
}

std::map<std::string, std::string> g_env;

LoadResult load(const std::string& text) {
  auto sc = schemas();
  return load_string(text, "gateway.toml", sc, [](const char* name) -> const char* {
    auto it = g_env.find(name);
    return it == g_env.end() ? nullptr : it->second.c_str();
  });
}

std::string first_error(const std::string& text) {
  auto r = load(text);
  REQUIRE_FALSE(r.has_value());
  REQUIRE_FALSE(r.error().empty());
  return r.error().front().str();
}

const char* kDevice = R"([[devices]]
name = "mcc-1"
address = "127.0.0.1"
)";

}  // namespace

TEST_CASE("a minimal file loads with defaults filled in") {
  auto r = load(kDevice);
  REQUIRE(r.has_value());
  CHECK(r->devices.size() == 1);
  CHECK(r->devices[0].asset == "mcc-1");        // asset defaults to name
  CHECK(r->devices[0].poll_interval_ms == 1000);  // poll interval defaults to the RPI
  CHECK(r->devices[0].connection == "listen-only");
  CHECK(r->scanner.udp_port == 2222);
  CHECK(r->pipeline.ring_capacity == 65536);
}

TEST_CASE("an unknown key names the line, the table and the nearest known key") {
  CHECK(first_error("[sinks.test]\nurl = \"x\"\ntokne = \"abc\"\n") ==
        "gateway.toml:3:1: [sinks.test] unknown key \"tokne\" (did you mean \"token\"?)");
  CHECK(first_error("[scanner]\n  udp_prot = 2222\n") ==
        "gateway.toml:2:3: [scanner] unknown key \"udp_prot\" (did you mean \"udp_port\"?)");
  // Nothing close: no suggestion.
  CHECK(first_error("[gateway]\nxyzzy = 1\n") == "gateway.toml:2:1: [gateway] unknown key \"xyzzy\"");
  // Unknown sections and sinks too.
  CHECK(first_error("[scaner]\n") == "gateway.toml:1:2: unknown key \"scaner\" (did you mean \"scanner\"?)");
  CHECK(first_error("[sinks.tset]\n").find("unknown sink \"tset\" (did you mean \"test\"?); sinks: test") !=
        std::string::npos);
}

TEST_CASE("a wrong type names the key and both types") {
  CHECK(first_error("[scanner]\nudp_port = \"2222\"\n") ==
        "gateway.toml:2:12: [scanner] \"udp_port\" must be an integer, not a string");
  CHECK(first_error("[logging]\nlevel = 3\n") ==
        "gateway.toml:2:9: [logging] \"level\" must be a string, not an integer");
  CHECK(first_error("devices = 3\n").find("must be an array of tables") != std::string::npos);
}

TEST_CASE("an out-of-range value names the range") {
  CHECK(first_error("[scanner]\nudp_port = 70000\n") ==
        "gateway.toml:2:12: [scanner] udp_port = 70000 is out of range 1..65535");
  CHECK(first_error(std::string(kDevice) + "rpi_ms = 1\n") ==
        "gateway.toml:4:10: [devices[0]] rpi_ms = 1 is out of range 10..60000");
  CHECK(first_error(std::string(kDevice) + "assemblies = [101, 99]\n") ==
        "gateway.toml:4:20: [devices[0]] assemblies[1] = 99 is out of range 100..108");
  CHECK(first_error("[pipeline]\nring_capacity = 5000\n") ==
        "gateway.toml:2:17: [pipeline] ring_capacity = 5000 is not a power of two (try 8192)");
}

TEST_CASE("a word outside its set is named with the choices and a suggestion") {
  CHECK(first_error(std::string(kDevice) + "connection = \"listen_only\"\n") ==
        "gateway.toml:4:14: [devices[0]] connection = \"listen_only\" is not one of \"listen-only\", \"input-only\", "
        "\"explicit\" (did you mean \"listen-only\"?)");
}

TEST_CASE("CT and PT ratios are validated where they are written") {
  auto r = load(std::string(kDevice) + "ct = \"400:5\"\npt = \"480:120\"\n");
  REQUIRE(r.has_value());
  CHECK(r->devices[0].ct == "400:5");
  std::string e = first_error(std::string(kDevice) + "ct = \"400:2\"\n");
  CHECK(e.rfind("gateway.toml:4:6: [devices[0]] ", 0) == 0);
  CHECK(e.find("secondary must be 1 A or 5 A") != std::string::npos);
  CHECK(first_error(std::string(kDevice) + "pt = \"0:120\"\n").find("gateway.toml:4:6:") == 0);
}

TEST_CASE("required keys and unique device names") {
  CHECK(first_error("[[devices]]\nname = \"a\"\n") ==
        "gateway.toml:1:1: [devices[0]] missing required key \"address\" (IP address or host name of the meter, "
        "optionally with \":port\" (44818).)");
  auto r = load(std::string(kDevice) + kDevice);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().front().message == "device name \"mcc-1\" is used twice; names must be unique");
}

TEST_CASE("every error in the file is reported, not only the first") {
  auto r = load("[scanner]\nudp_port = 0\nbogus = 1\n[logging]\nlevel = \"loud\"\n");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().size() == 3);
}

TEST_CASE("bad TOML syntax gives the position of the problem") {
  std::string e = first_error("[gateway]\nsite = \"unterminated\n");
  CHECK(e.rfind("gateway.toml:2:", 0) == 0);
  e = first_error("[gateway\n");
  CHECK(e.rfind("gateway.toml:1:", 0) == 0);
}

TEST_CASE("environment variables are substituted into strings") {
  g_env = {{"PM500_TEST_TOKEN", "s3cr3t"}, {"EMPTY", ""}};
  auto r = load("[sinks.test]\ntoken = \"${PM500_TEST_TOKEN}\"\nurl = \"http://${HOST:-localhost}:8086/$${x}\"\n");
  REQUIRE(r.has_value());
  const auto& t = std::any_cast<const TestSink&>(r->sinks.at(0).settings);
  CHECK(t.token == "s3cr3t");
  CHECK(t.url == "http://localhost:8086/${x}");
  SUBCASE("a missing variable is an error naming it and the key") {
    CHECK(first_error("[sinks.test]\ntoken = \"${PM500_NOT_SET}\"\n") ==
          "gateway.toml:2:9: [sinks.test] environment variable PM500_NOT_SET is not set (needed by "
          "\"sinks.test.token\"); set it (in a container: in the .env file or the service's environment), or "
          "write ${PM500_NOT_SET:-default}");
  }
  SUBCASE("an empty variable counts as unset") {
    CHECK(first_error("[sinks.test]\ntoken = \"${EMPTY}\"\n").find("EMPTY is not set") != std::string::npos);
  }
  SUBCASE("a malformed reference is an error") {
    CHECK(first_error("[sinks.test]\ntoken = \"${A-B}\"\n").find("not a valid variable reference") !=
          std::string::npos);
    CHECK(first_error("[sinks.test]\ntoken = \"${OPEN\"\n").find("unterminated") != std::string::npos);
  }
  g_env.clear();
}

TEST_CASE("secrets never appear in the effective-config dump") {
  g_env = {{"PM500_TEST_TOKEN", "s3cr3t-token-value"}};
  auto r = load(std::string(kDevice) + "[sinks.test]\ntoken = \"${PM500_TEST_TOKEN}\"\n");
  REQUIRE(r.has_value());
  auto sc = schemas();
  std::string d = dump(*r, sc);
  CHECK(d.find("s3cr3t") == std::string::npos);
  CHECK(d.find("token = \"<redacted>\"") != std::string::npos);
  CHECK(d.find("name = \"mcc-1\"") != std::string::npos);
  // The dump is itself a valid configuration that loads to the same values.
  auto again = load(d);
  REQUIRE(again.has_value());
  CHECK(again->devices.at(0).address == "127.0.0.1");
  g_env.clear();
}

TEST_CASE("the generated example is a valid configuration") {
  auto sc = schemas();
  auto r = load_string(example_toml(sc), "example.toml", sc);
  if (!r) {
    for (auto& d : r.error()) MESSAGE(d.str());
  }
  REQUIRE(r.has_value());
  CHECK(r->devices.at(0).name == "mcc-1");
  CHECK_FALSE(r->sinks.at(0).delivery.enabled);
}

TEST_CASE("the reference documents every key of every section") {
  auto sc = schemas();
  std::string md = markdown_reference(sc);
  for (const auto& o : device_options()) CHECK(md.find("| `" + o.key + "` |") != std::string::npos);
  CHECK(md.find("## [sinks.test]") != std::string::npos);
  CHECK(md.find("(secret: never printed)") != std::string::npos);
}

TEST_CASE("suggestions are only offered for near misses") {
  CHECK(suggestion("tokne", {"token", "url"}) == " (did you mean \"token\"?)");
  CHECK(suggestion("rpi", {"rpi_ms"}) == "");
  CHECK(suggestion("zzzz", {"token"}) == "");
}
