// Status text: every code pm500-facts.md lists, every general status 0x00..0x2A, and the
// describe_failure() format the status page and logs show.
#include <doctest/doctest.h>

#include "cip/status.hpp"

using namespace cip;

TEST_CASE("every encapsulation status has a name and a meaning") {
  for (std::uint32_t s : {0x0000u, 0x0001u, 0x0002u, 0x0003u, 0x0064u, 0x0065u, 0x0069u, 0x006Au}) {
    CAPTURE(s);
    REQUIRE(encap_status_info(s));
    CHECK(!encap_status_name(s).empty());
    CHECK(!encap_status_text(s).empty());
  }
  CHECK(encap_status_name(0x0064) == "invalid session handle");
  CHECK(describe_encap_status(0x0064) == "0x0064 invalid session handle");
  CHECK(!encap_status_info(0x1234));
  CHECK(encap_status_name(0x1234) == "unknown encapsulation status");
  CHECK(encap_status_text(0x1234).empty());
}

TEST_CASE("every general status 0x00..0x2A has a name and a meaning") {
  for (unsigned s = 0; s <= 0x2A; ++s) {
    CAPTURE(s);
    auto info = general_status_info(static_cast<std::uint8_t>(s));
    REQUIRE(info);
    CHECK(!info->name.empty());
    CHECK(!info->meaning.empty());
    CHECK(info->meaning.find('\n') == std::string_view::npos);
  }
  CHECK(general_status_name(0x01) == "connection failure");
  CHECK(general_status_name(0x04) == "path segment error");
  CHECK(general_status_name(0x05) == "path destination unknown");
  CHECK(general_status_name(0x26) == "path size invalid");
  CHECK(general_status_name(0x2B) == "unknown general status");
}

TEST_CASE("every extended status a scanner meets has a name and a meaning") {
  const std::uint16_t listed[] = {0x0100, 0x0103, 0x0106, 0x0107, 0x0108, 0x0109, 0x0111, 0x0112, 0x0113,
                                  0x0114, 0x0115, 0x0116, 0x0117, 0x0119, 0x011A, 0x0127, 0x0128, 0x0203,
                                  0x0204, 0x0311, 0x0312, 0x0315, 0x0800, 0x0813};
  for (auto s : listed) {
    CAPTURE(s);
    REQUIRE(extended_status_info(s));
    CHECK(!extended_status_name(s).empty());
    CHECK(!extended_status_text(s).empty());
  }
  CHECK(extended_status_name(0x0106) == "ownership conflict");
  CHECK(extended_status_name(0x0119) == "non-listen-only connection not opened");
  CHECK(extended_status_name(0xFFFF) == "unknown extended status");
}

TEST_CASE("describe_failure") {
  CHECK(describe_failure(0x01, 0x0119) == "0x01/0x0119 non-listen-only connection not opened");
  CHECK(describe_failure(0x01, 0x0106) == "0x01/0x0106 ownership conflict");
  CHECK(describe_failure(0x08) == "0x08 service not supported");
  // An extended status under another general status is object specific: name the general one.
  CHECK(describe_failure(0x05, 0x0000) == "0x05/0x0000 path destination unknown");
  CHECK(describe_failure(0x01, 0x7777) == "0x01/0x7777 connection failure");
  CHECK(describe_failure(0xFE) == "0xFE unknown general status");
}
