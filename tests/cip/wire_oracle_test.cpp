// Wire oracle: the messages this codec produces, written to a pcap and decoded by Wireshark's
// own ENIP/CIP dissectors (tshark). A second, independent implementation must find every packet
// well-formed and read the same fields back. Checksums are computed and validated too, so the
// capture itself is known good.
#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cip/cip.hpp"
#include "golden.hpp"
#include "pcap_writer.hpp"
#include "support/support.hpp"
#include "test_util.hpp"

using namespace cip;
using cip_test::encoded;

namespace {

constexpr std::uint32_t session = 0x11223344;
constexpr SenderContext ctx{1, 2, 3, 4, 5, 6, 7, 8};
constexpr std::uint32_t t_o_id = 0x12345678;
constexpr std::uint32_t o_t_id = 0x20000001;

// Fields asked of tshark, in this order.
const std::vector<std::string> fields = {
    "frame.number",      "enip.command",        "enip.session",       "enip.status",
    "cip.sc",            "cip.genstat",         "cip.cm.ot_connid",   "cip.cm.to_connid",
    "cip.cm.ext_status", "cip.cm.ot_net_params", "cip.cm.to_net_params", "cip.cm.conn_serial_num",
    "enip.cpf.sai.connid", "enip.cpf.sai.seq",  "cip.seq",            "enip.lir.vendor",
    "enip.lir.devtype",  "enip.lir.prodcode",   "enip.lir.serial",    "enip.lir.name",
    "cip.class",         "cip.instance",        "cip.attribute",      "cip.cm.otrpi",
    "_ws.malformed",     "_ws.expert.severity", "_ws.expert.message", "_ws.col.Protocol",
    "_ws.col.Info",      "cip.cm.ext127_size",  "cip.cm.ext128_size", "enip.lsr.servicename",
    "cip.cm.torpi",      "cip.cm.otapi",        "cip.cm.toapi",       "cip.cm.timeout_multiplier",
};

using Row = std::map<std::string, std::string>;

ForwardOpen listen_only_open(std::uint16_t serial) {
  ForwardOpen fo;
  fo.t_o_connection_id = t_o_id;
  fo.connection_serial = serial;
  fo.originator_vendor = 0xBEEF;
  fo.originator_serial = 42;
  fo.timeout_multiplier = 1;
  fo.o_t_rpi_us = heartbeat_rpi_default_us;  // heartbeats only: the scanner's own O->T RPI
  fo.o_t_params = {.size = 2, .type = ConnectionType::point_to_point};
  fo.t_o_rpi_us = 100'000;
  fo.t_o_params = {.size = 50, .type = ConnectionType::multicast};
  fo.path = io_connection_path({.config_instance = 1, .o_t_point = pm500_heartbeat_listen_only, .t_o_point = 101});
  return fo;
}

template <class F>
std::vector<std::uint8_t> rr(std::uint32_t status, F body) {
  return encoded([&](Writer& w) {
    auto m = begin_send_rr_data(w, session, ctx, 0, status);
    body(w);
    end_send_rr_data(w, m);
  });
}

// Writes the conversation; the frame numbers in the comments are what the checks refer to.
void write_capture(const std::filesystem::path& file, std::uint16_t tcp_port, std::uint16_t udp_port) {
  cip_test::PcapWriter pcap(file);
  pcap.tcp_open(50000, tcp_port);                                                      // frames 1-3
  pcap.tcp(true, encoded([](Writer& w) { encode_register_session(w, ctx); }));         // 4
  pcap.tcp(false, encoded([](Writer& w) { encode_register_session(w, ctx, session); }));  // 5
  pcap.tcp(true, encoded([](Writer& w) { encode_list_identity_request(w, ctx); }));    // 6
  ListIdentityItem id;
  id.address = SockAddr{2, 44818, 0x7F000001};
  id.identity = IdentityInfo{1, 0x92, 4, 2, 3, 0x0030, 945000123, "PowerMonitor 500"};
  id.state = 3;
  pcap.tcp(false, encoded([&](Writer& w) { encode_list_identity_reply(w, ctx, id); }));  // 7
  pcap.tcp(true, encoded([](Writer& w) { encode_list_services_request(w, ctx); }));    // 8
  pcap.tcp(false, encoded([](Writer& w) { encode_list_services_reply(w, ctx, communications_service()); }));  // 9

  // Listen-only without an owner first: refused with 0x01/0x0119.
  pcap.tcp(true, rr(0, [](Writer& w) { encode(w, listen_only_open(6)); }));           // 10
  ConnectionFailure refused;
  refused.extended_status = 0x0119;
  refused.connection_serial = 6;
  refused.originator_vendor = 0xBEEF;
  refused.originator_serial = 42;
  refused.remaining_path_size = 0;
  pcap.tcp(false, rr(0, [&](Writer& w) { encode_forward_open_failure(w, refused); }));  // 11

  // Then accepted.
  pcap.tcp(true, rr(0, [](Writer& w) { encode(w, listen_only_open(7)); }));           // 12
  ForwardOpenReply ok{o_t_id, t_o_id, 7, 0xBEEF, 42, heartbeat_rpi_default_us, 100'000, {}};
  pcap.tcp(false, rr(0, [&](Writer& w) { encode_forward_open_reply(w, ok); }));        // 13

  // Explicit read of the assembly size.
  pcap.tcp(true, rr(0, [](Writer& w) { encode_get_attribute_single(w, 4, 101, 4); }));  // 14
  const std::uint8_t size48[] = {0x30, 0x00};
  pcap.tcp(false, rr(0, [&](Writer& w) { encode_attribute_reply(w, service::get_attribute_single, size48); }));  // 15

  // Class 1: T->O data (48 bytes = 12 REALs, size 50 with the sequence count), O->T heartbeat.
  std::array<std::uint8_t, 48> data{};
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
  IoPacket t_o{.connection_id = t_o_id, .encap_sequence = 1, .cip_sequence = 1, .data = data};
  pcap.udp(udp_port, udp_port, encoded([&](Writer& w) { encode(w, t_o); }));          // 16
  IoPacket o_t{.connection_id = o_t_id, .encap_sequence = 1, .cip_sequence = 1};
  pcap.udp(udp_port, udp_port, encoded([&](Writer& w) { encode(w, o_t); }));          // 17
  t_o.encap_sequence = 2;
  t_o.cip_sequence = 2;
  pcap.udp(udp_port, udp_port, encoded([&](Writer& w) { encode(w, t_o); }));          // 18

  // Routed read through a backplane, and a refused T->O size with the wanted size.
  pcap.tcp(true, rr(0, [](Writer& w) {                                                 // 19
    auto m = begin_unconnected_send(w);
    encode_get_attribute_single(w, 1, 1, 7);
    end_unconnected_send(w, m, backplane_route(0).view());
  }));
  pcap.tcp(false, rr(0, [](Writer& w) { encode_response_head(w, service::get_attribute_single, 0x05); }));  // 20
  pcap.tcp(true, rr(0, [](Writer& w) { encode(w, listen_only_open(8)); }));           // 21
  ConnectionFailure size;
  size.extended_status = 0x0128;
  size.wanted_size = 74;
  size.connection_serial = 8;
  size.originator_vendor = 0xBEEF;
  size.originator_serial = 42;
  size.remaining_path_size = 0;
  pcap.tcp(false, rr(0, [&](Writer& w) { encode_forward_open_failure(w, size); }));    // 22

  // Orderly end.
  ForwardClose fc;
  fc.connection_serial = 7;
  fc.originator_vendor = 0xBEEF;
  fc.originator_serial = 42;
  fc.path = listen_only_open(7).path;
  pcap.tcp(true, rr(0, [&](Writer& w) { encode(w, fc); }));                           // 23
  pcap.tcp(false, rr(0, [](Writer& w) { encode_forward_close_reply(w, {7, 0xBEEF, 42, {}}); }));  // 24
  pcap.tcp(true, encoded([](Writer& w) { encode_unregister_session(w, session, ctx); }));  // 25
}

std::vector<Row> run_tshark(const std::string& tshark, const std::filesystem::path& file,
                            std::vector<std::string> extra, std::string& raw) {
  std::vector<std::string> argv = {tshark, "-n", "-r", file.string(),
                                   "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
                                   "-o", "ip.check_checksum:TRUE",
                                   "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
                                   "-E", "aggregator=,", "-E", "quote=n"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  for (const auto& f : fields) {
    argv.push_back("-e");
    argv.push_back(f);
  }
  pm500::test::TempDir home;
  auto r = pm500::test::run(argv, std::chrono::seconds(60), {"HOME=" + home.path().string()});
  raw = r.output;
  REQUIRE_MESSAGE(r.code == 0, "tshark failed:\n" << r.output);
  std::vector<Row> rows;
  std::istringstream in(r.output);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::size_t start = 0;
    for (;;) {
      auto tab = line.find('\t', start);
      cols.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (cols.size() != fields.size()) continue;  // e.g. the "running as root" notice
    Row row;
    for (std::size_t i = 0; i < fields.size(); ++i) row[fields[i]] = cols[i];
    rows.push_back(row);
  }
  return rows;
}

// No packet may be malformed or carry an expert warning/error (chat and notes are fine: TCP
// notes the handshake).
void check_clean(const std::vector<Row>& rows) {
  constexpr long warning = 0x00600000;  // Wireshark's PI_WARN
  for (const auto& row : rows) {
    CAPTURE(row.at("frame.number"));
    CAPTURE(row.at("_ws.col.Info"));
    CHECK_MESSAGE(row.at("_ws.malformed").empty(), "malformed: " << row.at("_ws.expert.message"));
    std::istringstream sev(row.at("_ws.expert.severity"));
    for (std::string s; std::getline(sev, s, ',');) {
      CHECK_MESSAGE(std::stol(s) < warning, "expert " << s << ": " << row.at("_ws.expert.message"));
    }
  }
}

void expect(const std::vector<Row>& rows, std::size_t frame, const std::string& field, const std::string& value) {
  REQUIRE(frame <= rows.size());
  const Row& row = rows[frame - 1];
  INFO("frame " << frame << " (" << row.at("_ws.col.Info") << "), field " << field);
  CHECK(row.at(field) == value);
}

bool skip_without_tshark(std::optional<std::string>& tshark) {
  tshark = pm500::test::which("tshark");
  if (tshark) return false;
  MESSAGE("SKIPPED: tshark not found; the wire oracle test did not run (apt-get install tshark)");
  std::cerr << "*** cip_wire_oracle_test SKIPPED: tshark not found ***\n";
  return true;
}

}  // namespace

TEST_CASE("tshark decodes everything the codec writes on the standard ports, fields match") {
  std::optional<std::string> tshark;
  if (skip_without_tshark(tshark)) return;
  pm500::test::TempDir dir;
  auto file = dir / "cip.pcap";
  write_capture(file, 44818, 2222);
  if (const char* keep = std::getenv("PM500_KEEP_PCAP")) {
    std::filesystem::copy_file(file, keep, std::filesystem::copy_options::overwrite_existing);
  }
  std::string raw;
  auto rows = run_tshark(*tshark, file, {}, raw);
  INFO("tshark output:\n" << raw);
  REQUIRE(rows.size() == 25);
  check_clean(rows);

  // Session and discovery.
  expect(rows, 4, "enip.command", "0x0065");
  expect(rows, 4, "enip.session", "0x00000000");
  expect(rows, 5, "enip.session", "0x11223344");
  expect(rows, 5, "enip.status", "0x00000000");
  expect(rows, 7, "enip.command", "0x0063");
  expect(rows, 7, "enip.lir.vendor", "0x0001");
  expect(rows, 7, "enip.lir.devtype", "146");
  expect(rows, 7, "enip.lir.prodcode", "4");
  expect(rows, 7, "enip.lir.serial", "0x38538ebb");
  expect(rows, 7, "enip.lir.name", "PowerMonitor 500");
  expect(rows, 9, "enip.lsr.servicename", "Communications");

  // Forward Open refused: listen-only without an owner.
  expect(rows, 10, "_ws.col.Protocol", "CIP CM");
  expect(rows, 10, "cip.sc", "0x54");
  expect(rows, 10, "cip.cm.to_connid", "0x12345678");
  expect(rows, 10, "cip.cm.ot_net_params", "0x4802");
  expect(rows, 10, "cip.cm.to_net_params", "0x2832");
  expect(rows, 10, "cip.cm.conn_serial_num", "0x0006");
  expect(rows, 10, "cip.cm.otrpi", "1000000");  // the heartbeat RPI, apart from T->O
  expect(rows, 10, "cip.cm.torpi", "100000");
  expect(rows, 10, "cip.cm.timeout_multiplier", "1");
  expect(rows, 10, "cip.class", "0x06,0x04");        // Connection Manager, then the assembly
  expect(rows, 10, "cip.instance", "0x01,0x01");
  expect(rows, 11, "cip.genstat", "0x01");
  expect(rows, 11, "cip.cm.ext_status", "0x0119");

  // Forward Open accepted.
  expect(rows, 13, "cip.genstat", "0x00");
  expect(rows, 13, "cip.cm.ot_connid", "0x20000001");
  expect(rows, 13, "cip.cm.to_connid", "0x12345678");
  expect(rows, 13, "cip.cm.conn_serial_num", "0x0007");
  expect(rows, 13, "cip.cm.otapi", "1000000");
  expect(rows, 13, "cip.cm.toapi", "100000");

  // Get_Attribute_Single assembly 101 attribute 4.
  expect(rows, 14, "cip.sc", "0x0e");
  expect(rows, 14, "cip.class", "0x04");
  expect(rows, 14, "cip.instance", "0x65");
  expect(rows, 14, "cip.attribute", "4");
  expect(rows, 15, "cip.genstat", "0x00");

  // Class 1, matched by tshark to the connection the Forward Open made.
  expect(rows, 16, "_ws.col.Protocol", "CIP I/O");
  expect(rows, 16, "enip.cpf.sai.connid", "0x12345678");
  expect(rows, 16, "enip.cpf.sai.seq", "1");
  expect(rows, 16, "cip.seq", "1");
  CHECK(rows[15].at("_ws.col.Info").find("T->O") != std::string::npos);
  expect(rows, 17, "enip.cpf.sai.connid", "0x20000001");
  CHECK(rows[16].at("_ws.col.Info").find("O->T") != std::string::npos);
  expect(rows, 18, "cip.seq", "2");

  // Unconnected_Send wrapping Get_Attribute_Single, answered 0x05.
  expect(rows, 19, "cip.sc", "0x52,0x0e");
  expect(rows, 19, "cip.attribute", "7");
  expect(rows, 20, "cip.genstat", "0x05");

  // Wrong T->O size, with the size wanted.
  expect(rows, 22, "cip.cm.ext_status", "0x0128");
  expect(rows, 22, "cip.cm.ext128_size", "74");

  // Forward Close and UnRegisterSession.
  expect(rows, 23, "cip.sc", "0x4e");
  expect(rows, 24, "cip.genstat", "0x00");
  expect(rows, 25, "enip.command", "0x0066");
}

// Tests elsewhere use free ports, not 44818/2222; tshark then needs -d to pick the dissectors.
// It cannot tell requests from replies without the well-known port, so only well-formedness
// and the I/O fields are checked here.
TEST_CASE("tshark with -d on non-standard ports: still well-formed") {
  std::optional<std::string> tshark;
  if (skip_without_tshark(tshark)) return;
  pm500::test::TempDir dir;
  auto file = dir / "cip-ports.pcap";
  write_capture(file, 45000, 2300);
  std::string raw;
  auto rows = run_tshark(*tshark, file, {"-d", "tcp.port==45000,enip", "-d", "udp.port==2300,cipio"}, raw);
  INFO("tshark output:\n" << raw);
  REQUIRE(rows.size() == 25);
  check_clean(rows);
  expect(rows, 5, "enip.session", "0x11223344");
  expect(rows, 10, "cip.cm.to_connid", "0x12345678");
  expect(rows, 16, "_ws.col.Protocol", "CIP I/O");
  expect(rows, 16, "enip.cpf.sai.connid", "0x12345678");
  expect(rows, 18, "enip.cpf.sai.seq", "2");
}
