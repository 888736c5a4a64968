// ConnTable: the Class 1 demultiplexer. Keys are (connection id, source address), so two meters
// producing the same multicast id stay apart; deletion keeps every other key findable (the
// backward shift is checked against a reference map under heavy churn with colliding keys).
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "cip/conn_table.hpp"

TEST_CASE("insert, find, erase") {
  cip::ConnTable t(8);
  CHECK(t.capacity() >= 16);
  CHECK(t.insert(0x1000, 0x7F000002, 1));
  CHECK(t.insert(0x1000, 0x7F000003, 2));  // same id, another meter
  CHECK_FALSE(t.insert(0x1000, 0x7F000002, 9));  // duplicate
  CHECK(t.find(0x1000, 0x7F000002) == 1);
  CHECK(t.find(0x1000, 0x7F000003) == 2);
  CHECK(t.find(0x1000, 0x7F000004) == cip::ConnTable::npos);
  CHECK(t.erase(0x1000, 0x7F000002));
  CHECK_FALSE(t.erase(0x1000, 0x7F000002));
  CHECK(t.find(0x1000, 0x7F000002) == cip::ConnTable::npos);
  CHECK(t.find(0x1000, 0x7F000003) == 2);
  CHECK(t.size() == 1);
}

TEST_CASE("the table refuses more than it was sized for") {
  cip::ConnTable t(3);
  CHECK(t.insert(1, 1, 1));
  CHECK(t.insert(2, 1, 2));
  CHECK(t.insert(3, 1, 3));
  CHECK_FALSE(t.insert(4, 1, 4));
  CHECK(t.erase(2, 1));
  CHECK(t.insert(4, 1, 4));
}

TEST_CASE("churn against a reference map: backward-shift deletion loses nothing") {
  constexpr std::size_t n = 2000;
  cip::ConnTable t(n);
  std::map<std::uint64_t, std::uint32_t> ref;
  std::mt19937_64 rng(5);
  // Few distinct ids and addresses: long probe runs, wrap-around at the end of the table.
  auto key = [&] { return std::pair<std::uint32_t, std::uint32_t>(rng() % 3000, 0x7F000000u + rng() % 4); };
  for (int step = 0; step < 200'000; ++step) {
    auto [id, addr] = key();
    const std::uint64_t k = (std::uint64_t{addr} << 32) | id;
    if (rng() % 2 == 0 && ref.size() < n) {
      const bool fresh = !ref.count(k);
      CHECK(t.insert(id, addr, static_cast<std::uint32_t>(step)) == fresh);
      if (fresh) ref[k] = static_cast<std::uint32_t>(step);
    } else {
      CHECK(t.erase(id, addr) == (ref.erase(k) == 1));
    }
    if (step % 10'000 == 0) {
      for (auto [rk, v] : ref) REQUIRE(t.find(static_cast<std::uint32_t>(rk), static_cast<std::uint32_t>(rk >> 32)) == v);
    }
  }
  CHECK(t.size() == ref.size());
  for (auto [rk, v] : ref) CHECK(t.find(static_cast<std::uint32_t>(rk), static_cast<std::uint32_t>(rk >> 32)) == v);
}
