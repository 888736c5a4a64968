// The usage example of cip/cip.hpp and cip/README.md, run end to end: originator request,
// target-side decode and refusal, originator-side decode of the refusal.
#include <doctest/doctest.h>

#include "cip/cip.hpp"

TEST_CASE("the umbrella header's example works as written") {
  std::array<std::uint8_t, 512> buf{};
  cip::Writer w(buf);
  cip::ForwardOpen fo;
  fo.t_o_connection_id = 0x12345678;
  fo.connection_serial = 7;
  fo.originator_vendor = 0xFFFE;
  fo.originator_serial = 42;
  fo.o_t_rpi_us = fo.t_o_rpi_us = 100'000;
  fo.o_t_params = {.size = 2, .type = cip::ConnectionType::point_to_point};
  fo.t_o_params = {.size = 2 + 48, .type = cip::ConnectionType::multicast};
  fo.path = cip::io_connection_path({.config_instance = 1, .o_t_point = cip::pm500_heartbeat_listen_only,
                                     .t_o_point = 101});
  auto m = cip::begin_send_rr_data(w, 0xABCD);
  cip::encode(w, fo);
  cip::end_send_rr_data(w, m);
  REQUIRE(w.ok());
  CHECK(cip::frame_size_needed(w.written()) == w.size());

  // Target side (what the simulator does): decode and refuse listen-only without an owner.
  auto frame = cip::decode_frame(w.written());
  REQUIRE(frame);
  auto sd = cip::decode_send_data(frame->payload);
  REQUIRE(sd);
  auto req = cip::decode_request(*cip::unconnected_message(*sd));
  REQUIRE(req);
  CHECK(req->service == cip::service::forward_open);
  auto got = cip::decode_forward_open(*req);
  REQUIRE(got);
  auto spec = cip::parse_io_connection_path(got->path);
  REQUIRE(spec);
  CHECK(spec->o_t_point == cip::pm500_heartbeat_listen_only);

  std::array<std::uint8_t, 512> out{};
  cip::Writer r(out);
  auto rm = cip::begin_send_rr_data(r, frame->header.session, frame->header.context);
  cip::ConnectionFailure refusal;
  refusal.extended_status = 0x0119;
  refusal.connection_serial = got->connection_serial;
  refusal.originator_vendor = got->originator_vendor;
  refusal.originator_serial = got->originator_serial;
  cip::encode_forward_open_failure(r, refusal);
  cip::end_send_rr_data(r, rm);
  REQUIRE(r.ok());

  // Originator side.
  auto rx = r.written();
  REQUIRE(rx.size() >= cip::frame_size_needed(rx));
  auto rframe = cip::decode_frame(rx);
  REQUIRE(rframe);
  CHECK(rframe->header.session == 0xABCD);
  auto rsd = cip::decode_send_data(rframe->payload);
  REQUIRE(rsd);
  auto mr = cip::decode_response(*cip::unconnected_message(*rsd));
  REQUIRE(mr);
  auto res = cip::decode_forward_open_response(*mr);
  REQUIRE(res);
  auto* f = std::get_if<cip::ConnectionFailure>(&*res);
  REQUIRE(f != nullptr);
  CHECK(f->originator_serial == 42);
  CHECK(cip::describe_failure(f->general_status, f->extended_status) ==
        "0x01/0x0119 non-listen-only connection not opened");
}
