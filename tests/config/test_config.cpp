// Configuration loading: every error class names file:line:column and the key, secrets stay
// secret, ${VAR} substitution works.
#include <doctest/doctest.h>

#include <map>

#include "config/config.hpp"
#include "support/support.hpp"

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
  CHECK(r->pipeline.ring_capacity == 0);  // sized from the devices
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

TEST_CASE("heartbeat_interval_ms: apart from rpi_ms, 1000 by default, a bad value names the limit and the fix") {
  auto r = load(std::string(kDevice) + "rpi_ms = 100\n");
  REQUIRE(r.has_value());
  CHECK(r->devices[0].heartbeat_interval_ms == 1000);
  r = load(std::string(kDevice) + "rpi_ms = 100\nheartbeat_interval_ms = 3200\n");
  REQUIRE(r.has_value());
  CHECK(r->devices[0].heartbeat_interval_ms == 3200);
  CHECK(r->devices[0].rpi_ms == 100);
  const std::string fix =
      ": adapters commonly accept an O->T RPI of at most 3.2 s, and one below 10 ms only costs traffic; write a "
      "value in 10..3200, or leave the key out for 1000";
  CHECK(first_error(std::string(kDevice) + "heartbeat_interval_ms = 5000\n") ==
        "gateway.toml:4:25: [devices[0]] heartbeat_interval_ms = 5000 is out of range 10..3200" + fix);
  CHECK(first_error(std::string(kDevice) + "heartbeat_interval_ms = 9\n") ==
        "gateway.toml:4:25: [devices[0]] heartbeat_interval_ms = 9 is out of range 10..3200" + fix);
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

TEST_CASE("names that become tags and topics are bounded and checked where they are written") {
  SUBCASE("a 5 MB site is refused, naming file:line:column, the key, its length, the limit and a fix") {
    const std::string huge(5 * 1024 * 1024, 'x');
    auto r = load("[gateway]\nsite = \"" + huge + "\"\n");
    REQUIRE_FALSE(r.has_value());
    REQUIRE(r.error().size() == 1);
    const std::string e = r.error().front().str();
    CHECK(e.rfind("gateway.toml:2:8: [gateway] site = \"xxxxxxxxxxxxxxxxxxxxxxxx\"... is 5242880 characters long; "
                  "at most 64 are allowed",
                  0) == 0);
    CHECK(e.find("shorten it; for example \"plant-7\"") != std::string::npos);
    CHECK(e.size() < 400);  // the value is not repeated in the message
  }
  SUBCASE("64 characters pass, 65 do not (characters, not bytes)") {
    CHECK(load("[gateway]\nsite = \"" + std::string(64, 's') + "\"\n" + kDevice).has_value());
    CHECK(first_error("[gateway]\nsite = \"" + std::string(65, 's') + "\"\n").find("65 characters long") !=
          std::string::npos);
    std::string umlauts;
    for (int i = 0; i < 64; ++i) umlauts += "\xC3\xBC";  // 64 x u-umlaut: 128 bytes
    auto r = load("[gateway]\nsite = \"" + umlauts + "\"\n" + kDevice);
    REQUIRE(r.has_value());
    CHECK(r->gateway.site == umlauts);
  }
  SUBCASE("device name and asset") {
    CHECK(first_error("[[devices]]\nname = \"" + std::string(100, 'n') + "\"\naddress = \"127.0.0.1\"\n")
              .rfind("gateway.toml:2:8: [devices[0]] name = \"nnnnnnnnnnnnnnnnnnnnnnnn\"... is 100 characters long; "
                     "at most 64 are allowed",
                     0) == 0);
    CHECK(first_error(std::string(kDevice) + "asset = \"" + std::string(65, 'a') + "\"\n")
              .rfind("gateway.toml:4:9: [devices[0]] asset = ", 0) == 0);
    CHECK(first_error("[[devices]]\nname = \"\"\naddress = \"127.0.0.1\"\n") ==
          "gateway.toml:2:8: [devices[0]] name is empty: every sample is tagged with it and MQTT topics contain it; "
          "for example \"mcc-1\"");
    auto r = load(std::string(kDevice) + "asset = \"\"\n");  // empty asset: the name
    REQUIRE(r.has_value());
    CHECK(r->devices[0].asset == "mcc-1");
  }
  SUBCASE("characters that break line protocol, topics or labels") {
    CHECK(first_error("[gateway]\nsite = \"north\\nplant\"\n") ==
          "gateway.toml:2:8: [gateway] site = \"north\\nplant\" contains the control character U+000A "
          "(character 6): line feeds, tabs and other control characters break InfluxDB line protocol and log "
          "lines; remove it");
    CHECK(first_error("[gateway]\nsite = \"a\\tb\"\n").find("U+0009") != std::string::npos);
    for (const char* bad : {"mcc/1", "mcc+1", "mcc#1"}) {
      CAPTURE(bad);
      const std::string e = first_error(std::string("[[devices]]\nname = \"") + bad + "\"\naddress = \"127.0.0.1\"\n");
      CHECK(e.rfind("gateway.toml:2:8: [devices[0]] name = ", 0) == 0);
      CHECK(e.find("(character 4)") != std::string::npos);
      CHECK(e.find("MQTT") != std::string::npos);
    }
    CHECK(first_error("[gateway]\nsite = 'a\\b'\n").find("contains a backslash (character 2)") != std::string::npos);
    CHECK(first_error("[gateway]\nsite = \" plant\"\n") ==
          "gateway.toml:2:8: [gateway] site = \" plant\" starts with a space, which tags and topics would carry "
          "invisibly: remove it");
    CHECK(first_error("[gateway]\nsite = \"plant \"\n").find("ends with a space") != std::string::npos);
    // What the sinks escape themselves is fine: spaces inside, commas, equals signs, quotes, UTF-8.
    auto r = load("[gateway]\nsite = \"Plant 7, north=\\\"A\\\" \xC3\xA9\"\n" + std::string(kDevice));
    REQUIRE(r.has_value());
  }
  SUBCASE("the checks apply after ${VAR} substitution") {
    g_env = {{"PM500_TEST_SITE", "bad/site"}, {"PM500_TEST_BIG", std::string(70000, 'b')}};
    CHECK(first_error("[gateway]\nsite = \"${PM500_TEST_SITE}\"\n").find("contains \"/\"") != std::string::npos);
    CHECK(first_error("[sinks.test]\nurl = \"${PM500_TEST_BIG}\"\n") ==
          "gateway.toml:2:7: [sinks.test] url = \"bbbbbbbbbbbbbbbbbbbbbbbb\"... is 70000 bytes long (after ${VAR} "
          "substitution); no configuration string may exceed 65536 bytes: shorten it (a file's content pasted in by "
          "mistake? name the file instead)");
    g_env.clear();
  }
}

TEST_CASE("no configuration string may exceed 64 KiB; the alert Content-Type is one line") {
  const std::string big(kMaxStringBytes + 1, 'p');
  CHECK(first_error("[gateway]\nstate_dir = \"" + big + "\"\n")
            .rfind("gateway.toml:2:13: [gateway] state_dir = \"pppppppppppppppppppppppp\"... is 65537 bytes long; no "
                   "configuration string may exceed 65536 bytes",
                   0) == 0);
  CHECK(first_error("[alerts]\nheaders = [\"A: b\", \"" + big + "\"]\n").find("headers[1] = ") != std::string::npos);
  CHECK(load("[gateway]\nstate_dir = \"" + std::string(kMaxStringBytes, 'p') + "\"\n" + kDevice).has_value());
  CHECK(first_error("[alerts]\ncontent_type = \"text/plain\\r\\nX-Injected: 1\"\n") ==
        "gateway.toml:2:16: [alerts] content_type = \"text/plain\\r\\nX-Injected: \"... contains the control character "
        "U+000D (byte 11): it must be one line of text (it is sent as an HTTP header); remove it");
  auto r = load("[alerts]\ncontent_type = \"application/json; charset=utf-8\"\n" + std::string(kDevice));
  REQUIRE(r.has_value());
  CHECK(r->alerts.content_type == "application/json; charset=utf-8");
}

TEST_CASE("the ring is sized from the devices: 2 s of their samples, a power of two, within bounds") {
  auto r = load(kDevice);
  REQUIRE(r.has_value());
  // One meter, 3 assemblies at 1 s: the floor.
  CHECK(ring_capacity_for(*r) == 4096);
  auto many = *r;
  many.devices.clear();
  for (int i = 0; i < 1000; ++i) {
    auto d = r->devices[0];
    d.rpi_ms = 100;
    many.devices.push_back(d);
  }
  // 1000 meters x 3 assemblies at 100 ms = 30,000 samples/s: 60,000 -> 65,536.
  CHECK(samples_per_second(many) == doctest::Approx(30000));
  CHECK(ring_capacity_for(many) == 65536);
  many.pipeline.ring_capacity = 8192;  // an explicit value wins
  CHECK(ring_capacity_for(many) == 8192);
  CHECK(first_error("[pipeline]\nring_capacity = 512\n").find("too small") != std::string::npos);
}

TEST_CASE("per-device overrides of the profile: defaults keep the profile's, bad values name the key") {
  auto r = load(kDevice);
  REQUIRE(r.has_value());
  const auto& d = r->devices[0];
  CHECK(d.identity_vendor == 0);
  CHECK(d.config_instance == 0);
  CHECK(d.input_only_point == 0);
  CHECK(d.t_o_header == "profile");
  CHECK(d.o_t_header == "profile");
  r = load(std::string(kDevice) +
           "identity_vendor = 65000\nidentity_device_type = 12\nidentity_product_name = \"*Adapter*\"\n"
           "config_instance = 151\ninput_only_point = 152\nlisten_only_point = 153\no_t_header = \"run_idle\"\n");
  REQUIRE(r.has_value());
  CHECK(r->devices[0].identity_vendor == 65000);
  CHECK(r->devices[0].identity_product_name == "*Adapter*");
  CHECK(r->devices[0].config_instance == 151);
  CHECK(r->devices[0].listen_only_point == 153);
  CHECK(r->devices[0].o_t_header == "run_idle");
  CHECK(first_error(std::string(kDevice) + "config_instance = 70000\n") ==
        "gateway.toml:4:19: [devices[0]] config_instance = 70000 is out of range 0..65535");
  CHECK(first_error(std::string(kDevice) + "t_o_header = \"runidle\"\n").find("t_o_header = \"runidle\" is not one of "
                                                                             "\"profile\", \"none\", \"run_idle\"") !=
        std::string::npos);
  CHECK(first_error(std::string(kDevice) + "input_only_point = 152\nlisten_only_point = 152\n")
            .find("[devices[0]] input_only_point and listen_only_point are both 152") !=
        std::string::npos);
}

TEST_CASE("a relative profile path is taken beside the configuration file") {
  pm500::test::TempDir dir;
  pm500::test::write_file(dir / "gateway.toml", std::string(kDevice) + "profile = \"profiles/site.toml\"\n");
  auto sc = schemas();
  auto r = load_file((dir / "gateway.toml").string(), sc);
  REQUIRE(r.has_value());
  CHECK(r->devices[0].profile == (dir / "profiles" / "site.toml").string());
}
