// Common Packet Format items and the Sockaddr Info / address item bodies.
#include <doctest/doctest.h>

#include "cip/cpf.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace cip;
using cip_test::encoded;
using cip_test::hex;

TEST_CASE("CPF decode finds items by type and keeps views into the input") {
  auto cpf = decode_cpf(golden::class1_datagram);
  REQUIRE(cpf);
  CHECK(cpf->count == 2);
  CHECK(cpf->items[0].type == ItemType::sequenced_address);
  CHECK(cpf->items[1].type == ItemType::connected_data);
  const CpfItem* data = cpf->find(ItemType::connected_data);
  REQUIRE(data != nullptr);
  CHECK(data->data.size() == 10);
  CHECK(data->data.data() == golden::class1_datagram + 18);
  CHECK(cpf->find(ItemType::unconnected_data) == nullptr);
  cip_test::rejects_every_truncation(golden::class1_datagram, [](bytes_view b) { return decode_cpf(b); });
}

TEST_CASE("CPF item encode, deferred length and null address") {
  auto bytes = encoded([](Writer& w) {
    encode_cpf_count(w, 2);
    encode_item(w, ItemType::null_address, {});
    auto m = begin_item(w, ItemType::unconnected_data);
    w.u8(0xAB);
    end_item(w, m);
  });
  CHECK(hex(bytes) == "02 00 00 00 00 00 B2 00 01 00 AB");
}

TEST_CASE("CPF with more items than the table holds is refused") {
  std::vector<std::uint8_t> b = {0x09, 0x00};
  for (int i = 0; i < 9; ++i) b.insert(b.end(), {0x00, 0x00, 0x00, 0x00});
  auto r = decode_cpf(b);
  REQUIRE(!r);
  CHECK(r.error().code == Errc::unsupported);
}

TEST_CASE("Sockaddr Info is big-endian and 16 bytes") {
  auto bytes = encoded([](Writer& w) { encode(w, SockAddr{2, 2222, 0xC0A80105}); });
  CHECK(hex(bytes) == "00 02 08 AE C0 A8 01 05 00 00 00 00 00 00 00 00");
  auto sa = decode_sockaddr(bytes);
  REQUIRE(sa);
  CHECK(sa->port == 2222);
  CHECK(sa->address == 0xC0A80105);
  cip_test::rejects_every_truncation(bytes, [](bytes_view b) { return decode_sockaddr(b); });
  bytes.push_back(0);
  CHECK(decode_sockaddr(bytes).error().code == Errc::bad_length);
}

TEST_CASE("sequenced and connected address items") {
  const std::uint8_t seq[] = {0x78, 0x56, 0x34, 0x12, 0x02, 0x00, 0x00, 0x00};
  auto s = decode_sequenced_address(seq);
  REQUIRE(s);
  CHECK(s->connection_id == 0x12345678);
  CHECK(s->sequence == 2);
  cip_test::rejects_every_truncation(seq, [](bytes_view b) { return decode_sequenced_address(b); });
  auto c = decode_connected_address(std::span(seq).first(4));
  REQUIRE(c);
  CHECK(*c == 0x12345678);
  CHECK(!decode_connected_address(seq));  // 8 bytes is not a connected address
}
