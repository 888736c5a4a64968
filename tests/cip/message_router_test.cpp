// Message router request/response, Get_Attribute_Single, Get_Attributes_All (identity),
// Unconnected_Send.
#include <doctest/doctest.h>

#include "cip/attributes.hpp"
#include "cip/identity.hpp"
#include "cip/message_router.hpp"
#include "cip/unconnected_send.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace cip;
using cip_test::encoded;
using cip_test::hex;

TEST_CASE("Get_Attribute_Single request") {
  CHECK(hex(encoded([](Writer& w) { encode_get_attribute_single(w, 4, 101, 4); })) ==
        hex(golden::get_attribute_single_request));
  auto q = decode_request(golden::get_attribute_single_request);
  REQUIRE(q);
  CHECK(q->service == service::get_attribute_single);
  CHECK(q->data.empty());
  auto a = decode_attribute_address(q->path);
  REQUIRE(a);
  CHECK(a->class_id == 4);
  CHECK(a->instance == 101);
  CHECK(a->attribute == 4);
  cip_test::rejects_every_truncation(golden::get_attribute_single_request, [](bytes_view b) {
    auto r = decode_request(b);
    if (!r) return pm500::expected<AttributeAddress, Error>(pm500::unexpected<Error>(r.error()));
    // The request has no data, so a cut path shows as a shorter path or a truncation.
    if (!r->data.empty() || r->path.size() != 6) {
      return pm500::expected<AttributeAddress, Error>(pm500::unexpected<Error>(Error{}));
    }
    return decode_attribute_address(r->path);
  });
}

TEST_CASE("Get_Attribute_Single replies: value and error") {
  const std::uint8_t value[] = {0x30, 0x00};
  CHECK(hex(encoded([&](Writer& w) { encode_attribute_reply(w, service::get_attribute_single, value); })) ==
        hex(golden::get_attribute_single_reply));
  auto r = decode_attribute_reply(golden::get_attribute_single_reply, service::get_attribute_single);
  REQUIRE(r);
  CHECK(r->ok());
  CHECK(hex(r->data) == "30 00");

  CHECK(hex(encoded([](Writer& w) { encode_response_head(w, service::get_attribute_single, 0x16); })) ==
        hex(golden::get_attribute_single_error));
  auto e = decode_attribute_reply(golden::get_attribute_single_error, service::get_attribute_single);
  REQUIRE(e);
  CHECK(e->general_status == 0x16);
  CHECK(e->additional_count() == 0);
  CHECK(e->extended_status() == 0);

  // A reply to another service is refused.
  CHECK(!decode_attribute_reply(golden::get_attribute_single_reply, service::get_attributes_all));
  // The response header itself is four bytes; shorter is an error.
  for (std::size_t n = 0; n < 4; ++n) {
    CHECK(!decode_response(std::span(golden::get_attribute_single_reply).first(n)));
  }
}

TEST_CASE("message router response with additional status words") {
  const std::uint16_t words[] = {0x0119, 0x0042};
  auto bytes = encoded([&](Writer& w) {
    encode_response_head(w, service::forward_open, 0x01, words);
    w.u8(0xEE);
  });
  CHECK(hex(bytes) == "D4 00 01 02 19 01 42 00 EE");
  auto r = decode_response(bytes);
  REQUIRE(r);
  CHECK(r->answers(service::forward_open));
  CHECK(r->additional_count() == 2);
  CHECK(r->extended_status() == 0x0119);
  CHECK(r->additional(1) == 0x0042);
  CHECK(r->additional(2) == 0);
  CHECK(hex(r->data) == "EE");
  // Additional size claims 2 words but 1 is there.
  const std::uint8_t cut[] = {0xD4, 0x00, 0x01, 0x02, 0x19, 0x01};
  CHECK(decode_response(cut).error().code == Errc::truncated);
  // A request service (no reply bit) is not a response.
  const std::uint8_t not_reply[] = {0x54, 0x00, 0x00, 0x00};
  CHECK(decode_response(not_reply).error().code == Errc::bad_value);
  CHECK(decode_request(golden::forward_open_reply).error().code == Errc::bad_value);
}

TEST_CASE("Get_Attributes_All of the identity object") {
  CHECK(hex(encoded([](Writer& w) { encode_get_attributes_all(w, 1, 1); })) ==
        hex(golden::get_attributes_all_request));
  auto r = decode_attribute_reply(golden::get_attributes_all_identity_reply, service::get_attributes_all);
  REQUIRE(r);
  auto id = decode_identity_info(r->data);
  REQUIRE(id);
  CHECK(id->vendor == 1);
  CHECK(id->device_type == 0x92);
  CHECK(id->product_code == 4);
  CHECK(id->serial == 945000123);
  CHECK(id->product_name == "PowerMonitor 500");
  auto again = encoded([&](Writer& w) {
    encode_response_head(w, service::get_attributes_all, 0);
    encode(w, *id);
  });
  CHECK(hex(again) == hex(golden::get_attributes_all_identity_reply));
  cip_test::rejects_every_truncation(r->data, [](bytes_view b) { return decode_identity_info(b); });
}

TEST_CASE("Unconnected_Send through the backplane") {
  auto bytes = encoded([](Writer& w) {
    auto m = begin_unconnected_send(w);
    encode_get_attribute_single(w, 4, 101, 4);
    end_unconnected_send(w, m, backplane_route(0).view());
  });
  CHECK(hex(bytes) == hex(golden::unconnected_send_request));
  auto q = decode_request(bytes);
  REQUIRE(q);
  auto u = decode_unconnected_send(*q);
  REQUIRE(u);
  CHECK(u->priority_tick == 0x0A);
  CHECK(u->timeout_ticks == 0x05);
  CHECK(hex(u->message) == hex(golden::get_attribute_single_request));
  REQUIRE(u->route.size == 1);
  CHECK(std::get<Port>(u->route.segments[0]).port == 1);
  cip_test::rejects_every_truncation(golden::unconnected_send_request, [](bytes_view b) {
    auto r = decode_request(b);
    if (!r) return pm500::expected<UnconnectedSend, Error>(pm500::unexpected<Error>(r.error()));
    return decode_unconnected_send(*r);
  });
}

TEST_CASE("Unconnected_Send pads an odd embedded request") {
  auto bytes = encoded([](Writer& w) {
    auto m = begin_unconnected_send(w);
    encode_request_head(w, 0x4C, application_path(1, 1).view());
    w.u8(0x01);  // one byte of request data: odd length 7
    end_unconnected_send(w, m, backplane_route(3).view());
  });
  CHECK(hex(bytes) == "52 02 20 06 24 01 0A 05 07 00 4C 02 20 01 24 01 01 00 01 00 01 03");
  auto q = decode_request(bytes);
  REQUIRE(q);
  auto u = decode_unconnected_send(*q);
  REQUIRE(u);
  CHECK(u->message.size() == 7);
  CHECK(hex(std::get<Port>(u->route.segments[0]).link_view()) == "03");
}
