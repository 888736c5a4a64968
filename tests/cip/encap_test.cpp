// Encapsulation header, session commands, ListIdentity, ListServices, SendRRData, SendUnitData.
#include <doctest/doctest.h>

#include "cip/attributes.hpp"
#include "cip/encap.hpp"
#include "cip/identity.hpp"
#include "cip/send_data.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace cip;
using cip_test::encoded;
using cip_test::hex;

namespace {

constexpr SenderContext ctx{1, 2, 3, 4, 5, 6, 7, 8};

ListIdentityItem meter_identity() {
  ListIdentityItem item;
  item.address = SockAddr{2, 44818, 0x7F000001};
  item.identity = IdentityInfo{1, 0x92, 4, 2, 3, 0x0030, 945000123, "PowerMonitor 500"};
  item.state = 3;
  return item;
}

}  // namespace

TEST_CASE("encapsulation header: golden bytes and round trip") {
  auto h = decode_encap_header(golden::register_session_reply);
  REQUIRE(h);
  CHECK(h->command == Command::register_session);
  CHECK(h->length == 4);
  CHECK(h->session == 0x11223344);
  CHECK(h->status == 0);
  CHECK(h->context == ctx);
  CHECK(h->options == 0);
  auto again = encoded([&](Writer& w) { encode(w, *h); });
  CHECK(hex(again) == hex(std::span(golden::register_session_reply).first(24)));
  cip_test::rejects_every_truncation(std::span(golden::register_session_reply).first(24),
                                     [](bytes_view b) { return decode_encap_header(b); });
}

TEST_CASE("RegisterSession request and reply") {
  CHECK(hex(encoded([](Writer& w) { encode_register_session(w, ctx); })) ==
        hex(golden::register_session_request));
  CHECK(hex(encoded([](Writer& w) { encode_register_session(w, ctx, 0x11223344); })) ==
        hex(golden::register_session_reply));
  auto f = decode_frame(golden::register_session_reply);
  REQUIRE(f);
  auto rs = decode_register_session(f->payload);
  REQUIRE(rs);
  CHECK(rs->protocol_version == 1);
  CHECK(rs->options == 0);
  cip_test::rejects_every_truncation(golden::register_session_request, [](bytes_view b) {
    auto fr = decode_frame(b);
    if (!fr) return pm500::expected<RegisterSession, Error>(pm500::unexpected<Error>(fr.error()));
    return decode_register_session(fr->payload);
  });
  cip_test::fails_cleanly_on_short_buffers(sizeof golden::register_session_request,
                                           [](Writer& w) { encode_register_session(w, ctx); });
}

TEST_CASE("UnRegisterSession") {
  CHECK(hex(encoded([](Writer& w) { encode_unregister_session(w, 0x11223344); })) ==
        hex(golden::unregister_session));
  auto f = decode_frame(golden::unregister_session);
  REQUIRE(f);
  CHECK(f->header.command == Command::unregister_session);
  CHECK(f->payload.empty());
}

TEST_CASE("frame_size_needed and decode_frame on a TCP stream") {
  std::vector<std::uint8_t> stream(std::begin(golden::register_session_reply),
                                   std::end(golden::register_session_reply));
  stream.insert(stream.end(), std::begin(golden::unregister_session), std::end(golden::unregister_session));
  CHECK(frame_size_needed(bytes_view(stream).first(3)) == 24);
  CHECK(frame_size_needed(stream) == 28);
  auto f = decode_frame(stream);
  REQUIRE(f);
  CHECK(f->payload.size() == 4);
  auto second = decode_frame(bytes_view(stream).subspan(28));
  REQUIRE(second);
  CHECK(second->header.command == Command::unregister_session);
  // Length says 4, only 3 arrived.
  auto short_frame = decode_frame(bytes_view(stream).first(27));
  REQUIRE(!short_frame);
  CHECK(short_frame.error().code == Errc::truncated);
}

TEST_CASE("ListIdentity request and reply") {
  CHECK(hex(encoded([](Writer& w) { encode_list_identity_request(w, ctx); })) ==
        hex(golden::list_identity_request));
  CHECK(hex(encoded([](Writer& w) { encode_list_identity_reply(w, ctx, meter_identity()); })) ==
        hex(golden::list_identity_reply));

  auto f = decode_frame(golden::list_identity_reply);
  REQUIRE(f);
  auto item = decode_list_identity_reply(f->payload);
  REQUIRE(item);
  CHECK(item->protocol_version == 1);
  CHECK(item->address.family == 2);
  CHECK(item->address.port == 44818);
  CHECK(item->address.address == 0x7F000001);
  CHECK(item->identity.vendor == 1);
  CHECK(item->identity.device_type == 0x92);
  CHECK(item->identity.product_code == 4);
  CHECK(item->identity.revision_major == 2);
  CHECK(item->identity.revision_minor == 3);
  CHECK(item->identity.status == 0x30);
  CHECK(item->identity.serial == 945000123);
  CHECK(item->identity.product_name == "PowerMonitor 500");
  CHECK(item->state == 3);

  cip_test::rejects_every_truncation(f->payload, [](bytes_view b) { return decode_list_identity_reply(b); });
  cip_test::fails_cleanly_on_short_buffers(sizeof golden::list_identity_reply, [](Writer& w) {
    encode_list_identity_reply(w, ctx, meter_identity());
  });
}

TEST_CASE("ListIdentity reply without an identity item is an error") {
  const std::uint8_t payload[] = {0x01, 0x00, 0x00, 0x01, 0x00, 0x00};  // one empty 0x0100 item
  auto r = decode_list_identity_reply(payload);
  REQUIRE(!r);
  CHECK(r.error().code == Errc::unexpected_item);
}

TEST_CASE("ListServices reply") {
  CHECK(hex(encoded([](Writer& w) { encode_list_services_reply(w, ctx, communications_service()); })) ==
        hex(golden::list_services_reply));
  auto f = decode_frame(golden::list_services_reply);
  REQUIRE(f);
  auto s = decode_list_services_reply(f->payload);
  REQUIRE(s);
  CHECK(s->version == 1);
  CHECK((s->capabilities & capability::class01_over_udp) != 0);
  CHECK(std::string_view(s->name.data()) == "Communications");
  cip_test::rejects_every_truncation(f->payload, [](bytes_view b) { return decode_list_services_reply(b); });
}

TEST_CASE("SendRRData around a Forward Open request") {
  auto bytes = encoded([](Writer& w) {
    auto m = begin_send_rr_data(w, 0x11223344, ctx);
    w.bytes(golden::forward_open_request);
    end_send_rr_data(w, m);
  });
  std::vector<std::uint8_t> want(std::begin(golden::send_rr_data_head), std::end(golden::send_rr_data_head));
  want.insert(want.end(), std::begin(golden::forward_open_request), std::end(golden::forward_open_request));
  CHECK(hex(bytes) == hex(want));

  auto f = decode_frame(bytes);
  REQUIRE(f);
  auto sd = decode_send_data(f->payload);
  REQUIRE(sd);
  CHECK(sd->interface_handle == 0);
  CHECK(sd->cpf.count == 2);
  auto msg = unconnected_message(*sd);
  REQUIRE(msg);
  CHECK(hex(*msg) == hex(golden::forward_open_request));
  cip_test::rejects_every_truncation(f->payload, [](bytes_view b) {
    auto d = decode_send_data(b);
    if (!d) return pm500::expected<bytes_view, Error>(pm500::unexpected<Error>(d.error()));
    return unconnected_message(*d);
  });
}

TEST_CASE("SendRRData with a Sockaddr Info item after the data") {
  SockAddrItem extra{ItemType::sockaddr_t_o, SockAddr{2, 2222, 0x7F000001}};
  auto bytes = encoded([&](Writer& w) {
    auto m = begin_send_rr_data(w, 1, ctx);
    w.bytes(golden::forward_open_reply);
    end_send_rr_data(w, m, std::span(&extra, 1));
  });
  auto f = decode_frame(bytes);
  REQUIRE(f);
  CHECK(f->header.length == bytes.size() - 24);
  auto sd = decode_send_data(f->payload);
  REQUIRE(sd);
  CHECK(sd->cpf.count == 3);
  const CpfItem* item = sd->cpf.find(ItemType::sockaddr_t_o);
  REQUIRE(item != nullptr);
  auto sa = decode_sockaddr(item->data);
  REQUIRE(sa);
  CHECK(sa->port == 2222);
  CHECK(sa->address == 0x7F000001);
}

TEST_CASE("SendUnitData (connected explicit)") {
  auto bytes = encoded([](Writer& w) {
    auto m = begin_send_unit_data(w, 0x11223344, 0x20000001, 5);
    encode_get_attribute_single(w, 4, 101, 4);
    end_send_unit_data(w, m);
  });
  CHECK(hex(bytes) == hex(golden::send_unit_data));
  auto f = decode_frame(bytes);
  REQUIRE(f);
  auto sd = decode_send_data(f->payload);
  REQUIRE(sd);
  auto cm = connected_message(*sd);
  REQUIRE(cm);
  CHECK(cm->connection_id == 0x20000001);
  CHECK(cm->sequence == 5);
  CHECK(hex(cm->message) == hex(golden::get_attribute_single_request));
  cip_test::rejects_every_truncation(golden::send_unit_data, [](bytes_view b) {
    auto fr = decode_frame(b);
    if (!fr) return pm500::expected<ConnectedMessage, Error>(pm500::unexpected<Error>(fr.error()));
    auto d = decode_send_data(fr->payload);
    if (!d) return pm500::expected<ConnectedMessage, Error>(pm500::unexpected<Error>(d.error()));
    return connected_message(*d);
  });
}

TEST_CASE("errors carry code, offset and context") {
  auto r = decode_encap_header(std::span(golden::register_session_request).first(10));
  REQUIRE(!r);
  CHECK(r.error().code == Errc::truncated);
  CHECK(r.error().offset == 8);
  CHECK(to_string(r.error()) == "truncated at byte 8 of encapsulation header");
}
