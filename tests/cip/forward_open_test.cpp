// Forward Open / Large Forward Open / Forward Close requests and replies, and the connection
// parameter helpers.
#include <doctest/doctest.h>

#include "cip/forward_open.hpp"
#include "cip/io_path.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace cip;
using cip_test::encoded;
using cip_test::hex;

namespace {

ForwardOpen listen_only_open(bool large) {
  ForwardOpen fo;
  fo.large = large;
  fo.t_o_connection_id = 0x12345678;
  fo.connection_serial = 7;
  fo.originator_vendor = 0xBEEF;
  fo.originator_serial = 42;
  fo.timeout_multiplier = 1;
  fo.o_t_rpi_us = 100'000;
  fo.o_t_params = {.size = 2, .type = ConnectionType::point_to_point};
  fo.t_o_rpi_us = 100'000;
  fo.t_o_params = {.size = 50, .type = ConnectionType::multicast};
  fo.path = io_connection_path({.config_instance = 1, .o_t_point = pm500_heartbeat_listen_only, .t_o_point = 101});
  return fo;
}

ForwardOpenReply open_reply() {
  return {0x20000001, 0x12345678, 7, 0xBEEF, 42, 100'000, 100'000, {}};
}

pm500::expected<ForwardOpen, Error> decode_fo_bytes(bytes_view b) {
  auto q = decode_request(b);
  if (!q) return pm500::unexpected<Error>(q.error());
  return decode_forward_open(*q);
}

pm500::expected<ForwardOpenResult, Error> decode_fo_reply_bytes(bytes_view b) {
  auto r = decode_response(b);
  if (!r) return pm500::unexpected<Error>(r.error());
  return decode_forward_open_response(*r);
}

}  // namespace

TEST_CASE("Forward Open request: golden bytes, decode, truncation") {
  CHECK(hex(encoded([](Writer& w) { encode(w, listen_only_open(false)); })) == hex(golden::forward_open_request));
  auto fo = decode_fo_bytes(golden::forward_open_request);
  REQUIRE(fo);
  CHECK(!fo->large);
  CHECK(fo->priority_tick == 0x0A);
  CHECK(fo->timeout_ticks == 5);
  CHECK(fo->o_t_connection_id == 0);
  CHECK(fo->t_o_connection_id == 0x12345678);
  CHECK(fo->connection_serial == 7);
  CHECK(fo->originator_vendor == 0xBEEF);
  CHECK(fo->originator_serial == 42);
  CHECK(fo->timeout_multiplier == 1);
  CHECK(fo->o_t_rpi_us == 100'000);
  CHECK(fo->o_t_params.size == 2);
  CHECK(fo->o_t_params.type == ConnectionType::point_to_point);
  CHECK(fo->o_t_params.priority == ConnectionPriority::scheduled);
  CHECK(!fo->o_t_params.variable);
  CHECK(fo->t_o_params.size == 50);
  CHECK(fo->t_o_params.type == ConnectionType::multicast);
  CHECK(fo->transport.transport_class == 1);
  CHECK(fo->transport.trigger == ProductionTrigger::cyclic);
  CHECK(!fo->transport.server);
  auto spec = parse_io_connection_path(fo->path);
  REQUIRE(spec);
  CHECK(!spec->key);
  CHECK(spec->config_instance == 1);
  CHECK(spec->o_t_point == 99);
  CHECK(spec->t_o_point == 101);
  cip_test::rejects_every_truncation(golden::forward_open_request, decode_fo_bytes);
  cip_test::fails_cleanly_on_short_buffers(sizeof golden::forward_open_request,
                                           [](Writer& w) { encode(w, listen_only_open(false)); });
}

TEST_CASE("Large Forward Open request") {
  CHECK(hex(encoded([](Writer& w) { encode(w, listen_only_open(true)); })) ==
        hex(golden::large_forward_open_request));
  auto fo = decode_fo_bytes(golden::large_forward_open_request);
  REQUIRE(fo);
  CHECK(fo->large);
  CHECK(fo->o_t_params.size == 2);
  CHECK(fo->t_o_params.size == 50);
  CHECK(fo->t_o_params.type == ConnectionType::multicast);
  cip_test::rejects_every_truncation(golden::large_forward_open_request, decode_fo_bytes);
  // Sizes above 511 need the large form.
  auto big = listen_only_open(false);
  big.t_o_params.size = 600;
  std::array<std::uint8_t, 256> buf{};
  Writer w(buf);
  encode(w, big);
  CHECK(w.error().code == Errc::too_large);
  big.large = true;
  auto bytes = encoded([&](Writer& w2) { encode(w2, big); });
  CHECK(decode_fo_bytes(bytes)->t_o_params.size == 600);
}

TEST_CASE("Forward Open with an electronic key and trailing garbage") {
  auto fo = listen_only_open(false);
  fo.path = io_connection_path({.key = ElectronicKey{1, 0x92, 4, 2, true, 3}, .config_instance = 1,
                                .o_t_point = pm500_heartbeat_input_only, .t_o_point = 102});
  auto bytes = encoded([&](Writer& w) { encode(w, fo); });
  auto back = decode_fo_bytes(bytes);
  REQUIRE(back);
  auto spec = parse_io_connection_path(back->path);
  REQUIRE(spec);
  REQUIRE(spec->key);
  CHECK(spec->key->product_code == 4);
  CHECK(spec->o_t_point == 98);
  CHECK(spec->t_o_point == 102);
  bytes.push_back(0);
  CHECK(decode_fo_bytes(bytes).error().code == Errc::bad_length);
}

TEST_CASE("Forward Open success reply") {
  CHECK(hex(encoded([](Writer& w) { encode_forward_open_reply(w, open_reply()); })) ==
        hex(golden::forward_open_reply));
  auto res = decode_fo_reply_bytes(golden::forward_open_reply);
  REQUIRE(res);
  auto* ok = std::get_if<ForwardOpenReply>(&*res);
  REQUIRE(ok != nullptr);
  CHECK(ok->o_t_connection_id == 0x20000001);
  CHECK(ok->t_o_connection_id == 0x12345678);
  CHECK(ok->connection_serial == 7);
  CHECK(ok->originator_vendor == 0xBEEF);
  CHECK(ok->originator_serial == 42);
  CHECK(ok->o_t_api_us == 100'000);
  CHECK(ok->t_o_api_us == 100'000);
  CHECK(ok->application_reply.empty());
  cip_test::rejects_every_truncation(golden::forward_open_reply, decode_fo_reply_bytes);
}

TEST_CASE("Forward Open failure 0x01/0x0119") {
  ConnectionFailure f;
  f.extended_status = 0x0119;
  f.connection_serial = 7;
  f.originator_vendor = 0xBEEF;
  f.originator_serial = 42;
  f.remaining_path_size = 0;
  CHECK(hex(encoded([&](Writer& w) { encode_forward_open_failure(w, f); })) ==
        hex(golden::forward_open_failure_0119));
  auto res = decode_fo_reply_bytes(golden::forward_open_failure_0119);
  REQUIRE(res);
  auto* fail = std::get_if<ConnectionFailure>(&*res);
  REQUIRE(fail != nullptr);
  CHECK(fail->general_status == 0x01);
  CHECK(fail->extended_status == 0x0119);
  CHECK(!fail->wanted_size);
  CHECK(fail->connection_serial == 7);
  CHECK(fail->originator_serial == 42);
  CHECK(fail->remaining_path_size == 0);
  // Cuts inside the serial numbers are errors (a cut that drops only the optional remaining
  // path size, or all of the data, is a valid shorter reply).
  for (std::size_t n = 7; n < 14; ++n) {
    CHECK(!decode_fo_reply_bytes(std::span(golden::forward_open_failure_0119).first(n)));
  }
  CHECK(!decode_fo_reply_bytes(std::span(golden::forward_open_failure_0119).first(5)));
}

TEST_CASE("Forward Open failure 0x0128 carries the wanted size") {
  ConnectionFailure f;
  f.extended_status = 0x0128;
  f.wanted_size = 74;
  f.connection_serial = 7;
  f.originator_vendor = 0xBEEF;
  f.originator_serial = 42;
  f.remaining_path_size = 0;
  CHECK(hex(encoded([&](Writer& w) { encode_forward_open_failure(w, f); })) ==
        hex(golden::forward_open_failure_0128));
  auto res = decode_fo_reply_bytes(golden::forward_open_failure_0128);
  REQUIRE(res);
  auto fail = std::get<ConnectionFailure>(*res);
  CHECK(fail.extended_status == 0x0128);
  CHECK(fail.wanted_size == 74);
}

TEST_CASE("Forward Open failure without data (service not supported)") {
  const std::uint8_t b[] = {0xDB, 0x00, 0x08, 0x00};
  auto res = decode_fo_reply_bytes(b);
  REQUIRE(res);
  auto fail = std::get<ConnectionFailure>(*res);
  CHECK(fail.general_status == 0x08);
  CHECK(!fail.extended_status);
}

TEST_CASE("a Forward Open reply must answer a Forward Open") {
  CHECK(decode_fo_reply_bytes(golden::forward_close_reply).error().code == Errc::bad_value);
  CHECK(decode_fo_bytes(golden::forward_close_request).error().code == Errc::bad_value);
}

TEST_CASE("Forward Close request and replies") {
  ForwardClose fc;
  fc.connection_serial = 7;
  fc.originator_vendor = 0xBEEF;
  fc.originator_serial = 42;
  fc.path = io_connection_path({.config_instance = 1, .o_t_point = 99, .t_o_point = 101});
  CHECK(hex(encoded([&](Writer& w) { encode(w, fc); })) == hex(golden::forward_close_request));
  auto decode_fc = [](bytes_view b) {
    auto q = decode_request(b);
    if (!q) return pm500::expected<ForwardClose, Error>(pm500::unexpected<Error>(q.error()));
    return decode_forward_close(*q);
  };
  auto back = decode_fc(golden::forward_close_request);
  REQUIRE(back);
  CHECK(back->connection_serial == 7);
  CHECK(back->originator_vendor == 0xBEEF);
  CHECK(back->originator_serial == 42);
  CHECK(back->path.size == 4);
  cip_test::rejects_every_truncation(golden::forward_close_request, decode_fc);

  CHECK(hex(encoded([](Writer& w) { encode_forward_close_reply(w, {7, 0xBEEF, 42, {}}); })) ==
        hex(golden::forward_close_reply));
  auto decode_fcr = [](bytes_view b) {
    auto r = decode_response(b);
    if (!r) return pm500::expected<ForwardCloseResult, Error>(pm500::unexpected<Error>(r.error()));
    return decode_forward_close_response(*r);
  };
  auto rep = decode_fcr(golden::forward_close_reply);
  REQUIRE(rep);
  CHECK(std::get<ForwardCloseReply>(*rep).originator_serial == 42);
  cip_test::rejects_every_truncation(golden::forward_close_reply, decode_fcr);

  ConnectionFailure f;
  f.extended_status = 0x0107;
  f.connection_serial = 7;
  auto failure = encoded([&](Writer& w) { encode_forward_close_failure(w, f); });
  auto frep = decode_fcr(failure);
  REQUIRE(frep);
  CHECK(std::get<ConnectionFailure>(*frep).extended_status == 0x0107);
}

TEST_CASE("Forward Open reply with application data must be whole words") {
  const std::uint8_t app[] = {1, 2, 3};
  auto r = open_reply();
  r.application_reply = app;
  std::array<std::uint8_t, 64> buf{};
  Writer w(buf);
  encode_forward_open_reply(w, r);
  CHECK(w.error().code == Errc::bad_value);
  r.application_reply = std::span(app).first(2);
  auto bytes = encoded([&](Writer& w2) { encode_forward_open_reply(w2, r); });
  auto back = decode_fo_reply_bytes(bytes);
  REQUIRE(back);
  CHECK(hex(std::get<ForwardOpenReply>(*back).application_reply) == "01 02");
}

TEST_CASE("network parameter helpers") {
  NetworkParams p{.size = 50, .variable = true, .priority = ConnectionPriority::high,
                  .type = ConnectionType::multicast, .redundant_owner = true};
  auto bits = encode_net_params(p);
  REQUIRE(bits);
  CHECK(*bits == (50 | 1 << 9 | 1 << 10 | 1 << 13 | 1 << 15));
  auto back = decode_net_params(*bits);
  CHECK(back.size == 50);
  CHECK(back.variable);
  CHECK(back.priority == ConnectionPriority::high);
  CHECK(back.type == ConnectionType::multicast);
  CHECK(back.redundant_owner);
  CHECK(encode_large_net_params(p) == (50u | 1u << 25 | 1u << 26 | 1u << 29 | 1u << 31));
  auto lback = decode_large_net_params(encode_large_net_params(p));
  CHECK(lback.size == 50);
  CHECK(lback.type == ConnectionType::multicast);
  CHECK(lback.redundant_owner);
  CHECK(!encode_net_params({.size = 512}));
  CHECK(encode_net_params({.size = 511}));
  CHECK(decode_net_params(0x4802).type == ConnectionType::point_to_point);
  CHECK(decode_net_params(0x0000).type == ConnectionType::null);
}

TEST_CASE("transport class/trigger byte") {
  CHECK(encode_transport({}) == 0x01);
  CHECK(encode_transport({.server = true, .trigger = ProductionTrigger::application, .transport_class = 3}) == 0xA3);
  auto t = decode_transport(0x91);
  CHECK(t.server);
  CHECK(t.trigger == ProductionTrigger::change_of_state);
  CHECK(t.transport_class == 1);
}

TEST_CASE("connection and unconnected timeouts") {
  using namespace std::chrono_literals;
  CHECK(connection_timeout(100'000, 0) == 400ms);
  CHECK(connection_timeout(100'000, 1) == 800ms);
  CHECK(connection_timeout(100'000, 7) == 51'200ms);
  CHECK(connection_timeout(100'000, 9) == 51'200ms);  // reserved values clamp
  CHECK(connection_timeout(0xFFFFFFFF, 7).count() == 0xFFFFFFFFll * 512);
  CHECK(unconnected_timeout(0x0A, 5) == 5120ms);
  CHECK(unconnected_timeout(0x1A, 5) == 5120ms);  // the priority bit does not count
  auto t = ticks_for(5000ms);
  CHECK(unconnected_timeout(t.priority_tick, t.timeout_ticks) >= 5000ms);
  CHECK(t.timeout_ticks <= 255);
  auto small = ticks_for(200ms);
  CHECK(small.priority_tick == 0);
  CHECK(small.timeout_ticks == 200);
}
