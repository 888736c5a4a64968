// pm500/number_text.hpp writes what std::to_chars writes, faster. Checked here against
// std::to_chars for every float of several whole binades (all the values a meter's REAL can take
// between 1 and 2, 256 and 512...), random floats and doubles of every magnitude, the boundaries of the covered range, integers, powers of two and their neighbours.
// Every finite float was also checked once, outside the test suite (BENCHMARKS.md).
#include <doctest/doctest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#include "pm500/json_text.hpp"
#include "pm500/number_text.hpp"

using namespace pm500;

namespace {

template <class F>
std::string by_std(F v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

template <class F>
std::string by_us(F v) {
  char buf[64];
  return std::string(buf, write_shortest(buf, v));
}

template <class F>
bool same(F v) {
  return by_std(v) == by_us(v);
}

}  // namespace

TEST_CASE("number text: examples, fixed or scientific as std::to_chars chooses") {
  CHECK(by_us(64.12857f) == "64.12857");
  CHECK(by_us(233.82808685302734) == "233.82808685302734");
  CHECK(by_us(static_cast<float>(233.82808685302734)) == "233.8281");
  CHECK(by_us(0.1 + 0.2) == "0.30000000000000004");
  CHECK(by_us(100000.0f) == "1e+05");
  CHECK(by_us(123456.0f) == "123456");
  CHECK(by_us(0.0001) == "1e-04");
  CHECK(by_us(0.001) == "0.001");
  CHECK(by_us(0.00001) == "1e-05");
  CHECK(by_us(-0.0) == "-0");
  CHECK(by_us(1e20) == "1e+20");
  CHECK(by_us(1e100) == "1e+100");
  CHECK(by_us(123456792.0f) == "123456792");  // fixed writes the value's exact digits
  CHECK(by_us(std::numeric_limits<double>::infinity()) == "inf");
  char buf[kNumberTextRoom];
  CHECK(std::string(buf, write_measured(buf, static_cast<double>(64.12857f))) == "64.12857");
  CHECK(std::string(buf, write_measured(buf, 233.82808685302734)) == "233.82808685302734");
  std::string j;
  json::append_number(j, std::nan(""));
  CHECK(j == "null");
}

TEST_CASE("number text: every float of several binades") {
  // [1, 2), [256, 512) and [2^-14, 2^-13): power factors, voltages and small values; negatives
  // take the same path after the sign, so a sample of them is enough.
  for (auto [lo, hi] : {std::pair{1.0f, 2.0f}, std::pair{256.0f, 512.0f}, std::pair{0x1p-14f, 0x1p-13f}}) {
    std::size_t bad = 0;
    for (auto b = std::bit_cast<std::uint32_t>(lo); b < std::bit_cast<std::uint32_t>(hi); ++b) {
      const float v = std::bit_cast<float>(b);
      if (!same(v) || (b % 64 == 0 && !same(-v))) {
        if (++bad < 5) FAIL_CHECK(by_std(v) << " written as " << by_us(v));
      }
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("number text: random floats and doubles of every magnitude, integers, powers of two") {
  std::mt19937_64 rng(42);
  std::size_t bad = 0;
  auto check = [&](auto v) {
    if (!std::isfinite(v)) return;
    if (!same(v) || !same(-v)) {
      if (++bad < 5) FAIL_CHECK(by_std(v) << " written as " << by_us(v));
    }
  };
  for (int i = 0; i < 300'000; ++i) {
    check(std::bit_cast<float>(static_cast<std::uint32_t>(rng())));
    check(std::bit_cast<double>(rng()));
    check(static_cast<double>(rng() % 100'000'000) / std::pow(10.0, static_cast<double>(rng() % 12)));
    check(static_cast<float>(static_cast<double>(rng() % 10'000'000) / std::pow(10.0, static_cast<double>(rng() % 9))));
    check(static_cast<double>(static_cast<float>(rng() % 100000) / 7.0f) * 92000.0);  // a scaled energy counter
  }
  for (int e = -1074; e < 1024; ++e) {
    const double p = std::ldexp(1.0, e);
    check(p);
    check(std::nextafter(p, 0.0));
    check(std::nextafter(p, 1e308));
  }
  for (int e = -149; e < 128; ++e) {
    const float p = std::ldexp(1.0f, e);
    check(p);
    check(std::nextafter(p, 0.0f));
    check(std::nextafter(p, 3e38f));
  }
  for (std::uint64_t n = 1; n < 200'000; ++n) {
    check(static_cast<double>(n));
    check(static_cast<double>(n * 1000));
    check(static_cast<double>(n) / 1000);
    check(static_cast<float>(n) / 1000);
    check(static_cast<double>(n << 40));
  }
  for (int k = -30; k <= 30; ++k) {  // powers of ten and their neighbours
    const double p = std::pow(10.0, k);
    check(p);
    check(std::nextafter(p, 0.0));
    check(std::nextafter(p, 1e308));
    check(static_cast<float>(p));
  }
  CHECK(bad == 0);
}

TEST_CASE("number text: integers as std::to_chars writes them") {
  std::mt19937_64 rng(7);
  auto check = [](std::int64_t v) {
    char a[32], b[32];
    const std::string_view want(a, std::to_chars(a, a + sizeof a, v).ptr);
    const std::string_view got(b, write_integer(b, v));
    if (want != got) FAIL_CHECK(want << " written as " << got);
  };
  for (int i = 0; i < 200'000; ++i) check(static_cast<std::int64_t>(rng()) >> (rng() % 64));
  for (std::int64_t v = -20'000; v < 20'000; ++v) check(v);
  std::int64_t p = 1;
  for (int k = 0; k < 19; ++k) {
    check(p);
    check(p - 1);
    check(-p);
    if (k < 18) p *= 10;  // 10^18 is the largest power of ten an int64 holds
  }
  check(std::numeric_limits<std::int64_t>::min());
  check(std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("number text: to_chars_measured keeps the std::to_chars contract on short buffers") {
  char small[4];
  auto r = to_chars_measured(small, small + sizeof small, 233.82808685302734);
  CHECK(r.ec == std::errc::value_too_large);
  r = to_chars_measured(small, small + sizeof small, 1.5);
  CHECK(r.ec == std::errc());
  CHECK(std::string_view(small, r.ptr) == "1.5");
}
