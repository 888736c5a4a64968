// cip/cip.hpp -- EtherNet/IP and CIP wire codecs for the PowerMonitor 500 scanner and simulator.
//
//   #include "cip/cip.hpp"
//
//   // Encode: a Forward Open for a listen-only connection to assembly 101, inside SendRRData.
//   std::array<std::uint8_t, 512> buf;
//   cip::Writer w(buf);
//   cip::ForwardOpen fo;
//   fo.t_o_connection_id = 0x12345678;
//   fo.connection_serial = 7;
//   fo.originator_vendor = 0xFFFE;
//   fo.originator_serial = 42;
//   fo.o_t_rpi_us = fo.t_o_rpi_us = 100'000;
//   fo.o_t_params = {.size = 2, .type = cip::ConnectionType::point_to_point};  // heartbeat
//   fo.t_o_params = {.size = 2 + 48, .type = cip::ConnectionType::multicast};
//   fo.path = cip::io_connection_path({.config_instance = 1,
//                                      .o_t_point = cip::pm500_heartbeat_listen_only,
//                                      .t_o_point = 101});
//   auto m = cip::begin_send_rr_data(w, session);
//   cip::encode(w, fo);
//   cip::end_send_rr_data(w, m);
//   if (!w.ok()) log(cip::to_string(w.error()));
//   send(sock, w.written());
//
//   // Decode: the reply, without copying.
//   auto frame = cip::decode_frame(rx);                        // expected<Frame, Error>
//   auto sd = cip::decode_send_data(frame->payload);
//   auto mr = cip::decode_response(*cip::unconnected_message(*sd));
//   auto res = cip::decode_forward_open_response(*mr);
//   if (auto* f = std::get_if<cip::ConnectionFailure>(&*res))
//     log(cip::describe_failure(f->general_status, f->extended_status));
//       // "0x01/0x0119 non-listen-only connection not opened"
//
//   // Class 1: every datagram on UDP 2222, no allocation.
//   auto io = cip::decode_io(datagram, /*run_idle_header=*/false);
//   if (io && cip::seq_newer(io->cip_sequence, last_seq)) use(io->data);
//
// Every decoder returns pm500::expected<T, cip::Error>; every encoder writes through a Writer
// over a caller-owned buffer and records the first error in it. See cip/README.md.
#pragma once

#include "cip/attributes.hpp"
#include "cip/bytes.hpp"
#include "cip/connection_params.hpp"
#include "cip/cpf.hpp"
#include "cip/encap.hpp"
#include "cip/epath.hpp"
#include "cip/error.hpp"
#include "cip/forward_open.hpp"
#include "cip/identity.hpp"
#include "cip/io.hpp"
#include "cip/io_path.hpp"
#include "cip/message_router.hpp"
#include "cip/send_data.hpp"
#include "cip/status.hpp"
#include "cip/unconnected_send.hpp"
