#include <doctest/doctest.h>

#include "device/ratio.hpp"
#include "device/settings.hpp"

using namespace pm500::device;

TEST_CASE("CT pairs, plain ratios and the empty 1:1") {
  auto ct = parse_ct("400:5");
  REQUIRE(ct);
  CHECK(ct->primary == 400);
  CHECK(ct->secondary == 5);
  CHECK(ct->pair);
  CHECK(ct->value() == 80);
  CHECK(ct->str() == "400:5");

  auto slash = parse_ct(" 1000 / 1 ");
  REQUIRE(slash);
  CHECK(slash->value() == 1000);

  auto plain = parse_ct("80");
  REQUIRE(plain);
  CHECK(!plain->pair);
  CHECK(plain->value() == 80);
  CHECK(plain->str() == "80");

  auto none = parse_ct("");
  REQUIRE(none);
  CHECK(none->identity());

  auto pt = parse_pt("480:120");
  REQUIRE(pt);
  CHECK(pt->value() == 4);
  auto pt_plain = parse_pt("4.2");
  REQUIRE(pt_plain);
  CHECK(pt_plain->value() == doctest::Approx(4.2));
}

TEST_CASE("ratio errors say what is wrong and how to write it") {
  auto sec = parse_ct("400:2");
  REQUIRE(!sec);
  CHECK(sec.error().find("secondary must be 1 A or 5 A") != std::string::npos);
  CHECK(sec.error().find("\"400:2\"") != std::string::npos);

  auto zero = parse_ct("0:5");
  REQUIRE(!zero);
  CHECK(zero.error().find("primary must be greater than 0") != std::string::npos);

  auto small = parse_pt("120:480");
  REQUIRE(!small);
  CHECK(small.error().find("outside the meter's range 1..9999") != std::string::npos);
  CHECK(small.error().find("write primary first") != std::string::npos);

  auto big = parse_ct("60000:5");
  REQUIRE(!big);
  CHECK(big.error().find("12000") != std::string::npos);

  auto junk = parse_pt("480V:120V");
  REQUIRE(!junk);
  CHECK(junk.error().find("480:120") != std::string::npos);

  CHECK(!parse_ct("abc"));
  CHECK(!parse_ct("400:"));
  CHECK(!parse_pt("0.5"));
  CHECK(!parse_pt("nan"));
  CHECK(!parse_pt("inf"));
  CHECK(!parse_pt("-4"));
  CHECK(parse_pt("9999"));
  CHECK(!parse_pt("10000"));
}

TEST_CASE("device settings combine the fields and reject bad words") {
  auto s = make_settings("mcc-1", "400:5", "480:120", "gateway", 480, "3PN");
  REQUIRE(s);
  CHECK(s->applied_by == AppliedBy::gateway);
  CHECK(s->wiring == Wiring::three_phase_4wire);
  CHECK(s->ct_primary_a() == 400);
  CHECK(s->nominal_ln() == doctest::Approx(277.128).epsilon(1e-4));

  auto plain = make_settings("x", "80", "", "meter", 0, "1P");
  REQUIRE(plain);
  CHECK(plain->ct_primary_a() == 400);  // 5 A secondary assumed for a plain ratio
  CHECK(phase_count(plain->wiring) == 1);

  CHECK(make_settings("x", "", "", "both", 0, "3PN").error().find("\"meter\" or \"gateway\"") != std::string::npos);
  CHECK(make_settings("x", "", "", "meter", 0, "3PH").error().find("3PN, 3P, 3P1, 3P2, 2P, 1P") != std::string::npos);
  CHECK(!make_settings("x", "", "", "meter", -1, "3PN"));
  CHECK(!make_settings("x", "400:3", "", "meter", 0, "3PN"));
  for (auto w : {"3PN", "3P", "3P1", "3P2", "2P", "1P"}) {
    auto p = parse_wiring(w);
    REQUIRE(p);
    CHECK(to_string(*p) == w);
  }
}
