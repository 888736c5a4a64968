// Class 1 datagram, sequence comparison, I/O connection path.
#include <doctest/doctest.h>

#include <cstring>

#include "cip/io.hpp"
#include "cip/io_path.hpp"
#include "golden.hpp"
#include "test_util.hpp"

using namespace cip;
using cip_test::encoded;
using cip_test::hex;

TEST_CASE("Class 1 datagram: golden bytes, decode, truncation") {
  const std::uint8_t data[] = {0x00, 0x80, 0x66, 0x43, 0x00, 0x40, 0x67, 0x43};
  IoPacket p{.connection_id = 0x12345678, .encap_sequence = 1, .cip_sequence = 1, .data = data};
  CHECK(hex(encoded([&](Writer& w) { encode(w, p); })) == hex(golden::class1_datagram));

  auto d = decode_io(golden::class1_datagram, false);
  REQUIRE(d);
  CHECK(d->connection_id == 0x12345678);
  CHECK(d->encap_sequence == 1);
  CHECK(d->cip_sequence == 1);
  CHECK(!d->has_run_idle);
  CHECK(d->running());
  REQUIRE(d->data.size() == 8);
  CHECK(d->data.data() == golden::class1_datagram + 20);  // a view, not a copy
  float v = 0;
  std::memcpy(&v, d->data.data(), 4);
  CHECK(v == 230.5f);
  cip_test::rejects_every_truncation(golden::class1_datagram, [](bytes_view b) { return decode_io(b, false); });
  cip_test::fails_cleanly_on_short_buffers(sizeof golden::class1_datagram, [&](Writer& w) { encode(w, p); });
}

TEST_CASE("Class 1 datagram with run/idle header") {
  IoPacket p{.connection_id = 0x20000001, .encap_sequence = 0xFFFFFFFF, .cip_sequence = 0xFFFF,
             .has_run_idle = true, .run_idle = 1};
  CHECK(hex(encoded([&](Writer& w) { encode(w, p); })) == hex(golden::class1_heartbeat_run_idle));
  auto d = decode_io(golden::class1_heartbeat_run_idle, true);
  REQUIRE(d);
  CHECK(d->has_run_idle);
  CHECK(d->running());
  CHECK(d->data.empty());
  cip_test::rejects_every_truncation(golden::class1_heartbeat_run_idle,
                                     [](bytes_view b) { return decode_io(b, true); });
  // Told to expect a run/idle header, a 2-byte data item is too short.
  const std::uint8_t no_header[] = {0x02, 0x00, 0x02, 0x80, 0x08, 0x00, 1, 0, 0, 0, 1, 0, 0, 0,
                                    0xB1, 0x00, 0x02, 0x00, 0x05, 0x00};
  CHECK(decode_io(no_header, false));
  CHECK(decode_io(no_header, true).error().code == Errc::bad_length);
  IoPacket idle{.has_run_idle = true, .run_idle = 0};
  CHECK(!idle.running());
}

TEST_CASE("Class 1 datagram: wrong items and extra bytes") {
  std::vector<std::uint8_t> b(std::begin(golden::class1_datagram), std::end(golden::class1_datagram));
  auto bad = b;
  bad[2] = 0xA1;  // connected address instead of sequenced address
  CHECK(decode_io(bad, false).error().code == Errc::unexpected_item);
  bad = b;
  bad[4] = 0x04;  // sequenced address of length 4
  CHECK(decode_io(bad, false).error().code == Errc::bad_length);
  bad = b;
  bad[14] = 0xB2;
  CHECK(decode_io(bad, false).error().code == Errc::unexpected_item);
  bad = b;
  bad[0] = 1;
  CHECK(decode_io(bad, false).error().code == Errc::bad_length);
  bad = b;
  bad.push_back(0);  // a stray byte after the data item
  CHECK(decode_io(bad, false).error().code == Errc::bad_length);
  // A third item (Sockaddr Info) is checked and skipped.
  auto extra = b;
  extra[0] = 3;
  extra.insert(extra.end(), {0x01, 0x80, 0x02, 0x00, 0xAA, 0xBB});
  auto d = decode_io(extra, false);
  REQUIRE(d);
  CHECK(d->data.size() == 8);
  extra.pop_back();
  CHECK(!decode_io(extra, false));
}

TEST_CASE("seq_newer: 16-bit wrap-aware comparison") {
  CHECK(seq_newer(2, 1));
  CHECK(!seq_newer(1, 2));
  CHECK(!seq_newer(5, 5));
  CHECK(seq_newer(0, 0xFFFF));          // across the wrap
  CHECK(seq_newer(10, 0xFFF0));
  CHECK(!seq_newer(0xFFFF, 0));
  CHECK(seq_newer(0x7FFF, 0));          // just under half the range ahead
  CHECK(!seq_newer(0x8000, 0));         // exactly half: ambiguous, treated as old
  CHECK(!seq_newer(0x8001, 0));
  CHECK(seq_newer32(0, 0xFFFFFFFF));
  CHECK(!seq_newer32(7, 7));
  static_assert(seq_newer(1, 0));
}

TEST_CASE("I/O connection path for an assembly") {
  auto p = io_connection_path({.config_instance = 1, .o_t_point = pm500_heartbeat_input_only, .t_o_point = 101});
  CHECK(hex(encoded([&](Writer& w) { encode_path(w, p.view()); })) == "20 04 24 01 2C 62 2C 65");
  auto keyed = io_connection_path({.key = ElectronicKey{1, 0x92, 4, 2, false, 1}, .config_instance = 0x300,
                                   .o_t_point = 99, .t_o_point = 107});
  CHECK(hex(encoded([&](Writer& w) { encode_path(w, keyed.view()); })) ==
        "34 04 01 00 92 00 04 00 02 01 20 04 25 00 00 03 2C 63 2C 6B");
  auto spec = parse_io_connection_path(keyed);
  REQUIRE(spec);
  CHECK(spec->config_instance == 0x300);
  CHECK(spec->key->vendor == 1);
  CHECK(!parse_io_connection_path(application_path(4, 101, 3)));
  CHECK(parse_io_connection_path(io_connection_path({.config_instance = 1, .o_t_point = 1, .t_o_point = 2})));
  Path wrong_class;
  wrong_class.push(class_segment(5));
  wrong_class.push(instance_segment(1));
  wrong_class.push(connection_point_segment(1));
  wrong_class.push(connection_point_segment(2));
  CHECK(!parse_io_connection_path(wrong_class));
}
