// EPATH segments: logical (8/16/32-bit), electronic key, port (plain, extended link, extended
// port id), simple data.
#include <doctest/doctest.h>

#include <algorithm>

#include "cip/epath.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace cip;
using cip_test::encoded;
using cip_test::hex;

namespace {

Path all_kinds() {
  Path p;
  p.push(ElectronicKey{1, 0x92, 4, 2, true, 3});
  p.push(Port::slot(1, 3));
  p.push(Port::address(2, "10.0.0.15"));
  p.push(Port::slot(18, 5));
  p.push(class_segment(0x1234));
  p.push(instance_segment(0x12345678));
  p.push(Logical{LogicalType::member, 2});
  p.push(connection_point_segment(256));
  p.push(attribute_segment(3));
  static const std::uint8_t data[] = {0xAA, 0xBB, 0xCC, 0xDD};
  p.push(SimpleData{data});
  return p;
}

}  // namespace

TEST_CASE("EPATH: every segment kind, golden bytes") {
  auto p = all_kinds();
  auto bytes = encoded([&](Writer& w) { encode_path(w, p.view()); });
  CHECK(hex(bytes) == hex(golden::epath_all_kinds));
  CHECK(encoded_size(p.view()) == sizeof golden::epath_all_kinds);

  auto d = decode_path(golden::epath_all_kinds);
  REQUIRE(d);
  REQUIRE(d->size == 10);
  auto key = std::get<ElectronicKey>(d->segments[0]);
  CHECK(key.vendor == 1);
  CHECK(key.device_type == 0x92);
  CHECK(key.product_code == 4);
  CHECK(key.major_revision == 2);
  CHECK(key.compatibility);
  CHECK(key.minor_revision == 3);
  auto slot = std::get<Port>(d->segments[1]);
  CHECK(slot.port == 1);
  CHECK(hex(slot.link_view()) == "03");
  auto ip = std::get<Port>(d->segments[2]);
  CHECK(ip.port == 2);
  CHECK(std::string(ip.link_view().begin(), ip.link_view().end()) == "10.0.0.15");
  CHECK(std::get<Port>(d->segments[3]).port == 18);
  auto cls = std::get<Logical>(d->segments[4]);
  CHECK((cls.type == LogicalType::class_id && cls.value == 0x1234));
  auto inst = std::get<Logical>(d->segments[5]);
  CHECK((inst.type == LogicalType::instance && inst.value == 0x12345678));
  CHECK(std::get<Logical>(d->segments[6]).type == LogicalType::member);
  auto cp = std::get<Logical>(d->segments[7]);
  CHECK((cp.type == LogicalType::connection_point && cp.value == 256));
  CHECK(std::get<Logical>(d->segments[8]).value == 3);
  CHECK(hex(std::get<SimpleData>(d->segments[9]).data) == "AA BB CC DD");

  // Re-encoding the decoded path gives the same bytes.
  CHECK(hex(encoded([&](Writer& w) { encode_path(w, d->view()); })) == hex(golden::epath_all_kinds));
}

TEST_CASE("EPATH: logical segments pick the smallest format") {
  CHECK(hex(encoded([](Writer& w) { encode(w, class_segment(0x04)); })) == "20 04");
  CHECK(hex(encoded([](Writer& w) { encode(w, class_segment(0x100)); })) == "21 00 00 01");
  CHECK(hex(encoded([](Writer& w) { encode(w, instance_segment(0x10000)); })) == "26 00 00 00 01 00");
  CHECK(hex(encoded([](Writer& w) { encode(w, connection_point_segment(99)); })) == "2C 63");
  CHECK(hex(encoded([](Writer& w) { encode(w, attribute_segment(0x0300)); })) == "31 00 00 03");
  // 32-bit class ids do not exist.
  std::array<std::uint8_t, 16> buf{};
  Writer w(buf);
  encode(w, class_segment(0x10000));
  CHECK(!w.ok());
  CHECK(w.error().code == Errc::too_large);
}

TEST_CASE("EPATH: 16-bit forms decode even when the value would fit 8 bits") {
  const std::uint8_t b[] = {0x21, 0x00, 0x04, 0x00, 0x25, 0x00, 0x65, 0x00};
  auto d = decode_path(b);
  REQUIRE(d);
  CHECK(std::get<Logical>(d->segments[0]).value == 4);
  CHECK(std::get<Logical>(d->segments[1]).value == 101);
}

TEST_CASE("EPATH: a cut inside any segment is an error") {
  // Segment boundaries of the golden path; a prefix ending anywhere else must fail.
  const std::size_t boundaries[] = {0, 10, 12, 24, 28, 32, 38, 40, 44, 46, 52};
  for (std::size_t n = 0; n <= sizeof golden::epath_all_kinds; ++n) {
    std::vector<std::uint8_t> prefix(golden::epath_all_kinds, golden::epath_all_kinds + n);
    bool boundary = std::find(std::begin(boundaries), std::end(boundaries), n) != std::end(boundaries);
    CHECK_MESSAGE(decode_path(prefix).has_value() == boundary, "prefix " << n);
  }
}

TEST_CASE("EPATH: unsupported and invalid segments are errors, not crashes") {
  const std::uint8_t symbolic[] = {0x91, 0x03, 'a', 'b', 'c', 0x00};
  CHECK(decode_path(symbolic).error().code == Errc::unsupported);
  const std::uint8_t reserved_format[] = {0x23, 0x00};
  CHECK(decode_path(reserved_format).error().code == Errc::unsupported);
  const std::uint8_t class32[] = {0x22, 0x00, 0x01, 0x00, 0x00, 0x00};
  CHECK(!decode_path(class32));
  const std::uint8_t key_format_5[] = {0x34, 0x05, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(decode_path(key_format_5).error().code == Errc::unsupported);
  const std::uint8_t port_zero[] = {0x00, 0x01};
  CHECK(decode_path(port_zero).error().code == Errc::bad_value);
  const std::uint8_t empty_link[] = {0x11, 0x00};
  CHECK(decode_path(empty_link).error().code == Errc::bad_value);
  std::vector<std::uint8_t> too_many;
  for (int i = 0; i < 13; ++i) too_many.insert(too_many.end(), {0x20, 0x01});
  CHECK(decode_path(too_many).error().code == Errc::unsupported);
}

TEST_CASE("EPATH: helpers") {
  CHECK(hex(encoded([](Writer& w) { encode_path(w, application_path(1, 1).view()); })) == "20 01 24 01");
  CHECK(hex(encoded([](Writer& w) { encode_path(w, application_path(4, 101, 3).view()); })) ==
        "20 04 24 65 30 03");
  CHECK(hex(encoded([](Writer& w) { encode_path(w, backplane_route(2).view()); })) == "01 02");
  // An address longer than a port segment can hold is refused, not cut.
  std::array<std::uint8_t, 64> buf{};
  Writer w(buf);
  encode(w, Port::address(2, "a-very-long-host-name.example"));
  CHECK(!w.ok());
}
