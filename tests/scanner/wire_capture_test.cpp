// Wire oracle on a live capture: the scanner talks to the simulator on loopback while tshark
// captures `lo`; Wireshark's own ENIP/CIP dissectors then decode the conversation. No packet
// may be malformed or carry an expert error, and the fields tshark reads back (commands,
// session handle, services, statuses, connection ids, sequence numbers) must match what the
// scanner reported. Non-standard ports throughout (-d picks the dissectors), as a gateway
// sharing a host with another EtherNet/IP endpoint would use.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cip/encap.hpp"
#include "cip/scanner.hpp"
#include "recorder.hpp"
#include "simulator.hpp"
#include "support/support.hpp"

using namespace std::chrono_literals;
using pm500::test::eventually;

namespace {

const std::vector<std::string> fields = {
    "frame.number",         "ip.src",            "ip.dst",           "tcp.srcport",        "udp.srcport",
    "udp.dstport",          "enip.command",      "enip.session",     "enip.status",        "enip.context",
    "cip.sc",               "cip.genstat",       "cip.cm.ext_status", "cip.cm.ot_connid",  "cip.cm.to_connid",
    "cip.cm.conn_serial_num", "cip.cm.otrpi",    "cip.cm.ot_net_params", "cip.cm.to_net_params", "cip.class",
    "cip.instance",         "cip.attribute",     "cip.connpoint",    "enip.cpf.typeid",    "enip.sinport",
    "enip.sinaddr",         "enip.cpf.sai.connid", "enip.cpf.sai.seq", "cip.seq",          "enip.lir.vendor",
    "enip.lir.devtype",     "enip.lir.prodcode", "_ws.malformed",    "_ws.expert.severity", "_ws.expert.message",
    "_ws.col.Protocol",     "_ws.col.Info",      "cip.cm.torpi",
};
using Row = std::map<std::string, std::string>;

std::vector<Row> decode(const std::string& tshark, const std::filesystem::path& file, const std::vector<std::string>& d,
                        std::string& raw) {
  std::vector<std::string> argv = {tshark, "-n", "-r", file.string(), "-T", "fields", "-E", "separator=\t",
                                   "-E", "occurrence=a", "-E", "aggregator=,", "-E", "quote=n"};
  for (const auto& x : d) {
    argv.push_back("-d");
    argv.push_back(x);
  }
  for (const auto& f : fields) {
    argv.push_back("-e");
    argv.push_back(f);
  }
  pm500::test::TempDir home;
  auto r = pm500::test::run(argv, 60s, {"HOME=" + home.path().string()});
  raw = r.output;
  REQUIRE_MESSAGE(r.code == 0, "tshark failed:\n" << r.output);
  std::vector<Row> rows;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cols;
    std::size_t start = 0;
    for (;;) {
      const auto tab = line.find('\t', start);
      cols.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (cols.size() != fields.size()) continue;  // tshark's own notices
    Row row;
    for (std::size_t i = 0; i < fields.size(); ++i) row[fields[i]] = cols[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string x; std::getline(in, x, ',');) out.push_back(x);
  return out;
}

struct Capture {
  std::vector<Row> rows;
  std::string raw;
  std::string meter;
  std::uint16_t tcp_port = 0, sim_udp = 0, scan_udp = 0;
  bool skipped = false;
};

// Runs the conversation under tshark and decodes it. `tcp_port` 0 = a free port.
Capture capture(const std::string& meter, std::uint16_t tcp_port) {
  Capture c;
  c.meter = meter;
  const auto tshark = pm500::test::which("tshark");
  if (!tshark || ::geteuid() != 0) {
    MESSAGE("SKIPPED: live capture needs tshark and root (capturing on lo)");
    std::cerr << "*** scanner_wire_capture_test SKIPPED: tshark or root missing ***\n";
    c.skipped = true;
    return c;
  }
  c.tcp_port = tcp_port != 0 ? tcp_port : static_cast<std::uint16_t>(pm500::test::free_tcp_port());
  c.sim_udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  c.scan_udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  while (c.scan_udp == c.sim_udp) c.scan_udp = static_cast<std::uint16_t>(pm500::test::free_udp_port());
  const auto probe_port = static_cast<std::uint16_t>(pm500::test::free_udp_port());

  // tshark first: it prints "Capturing on" a little before its filter is live, so probes go
  // out until one of them is in the file (dumpcap writes in batches, hence the size check).
  pm500::test::TempDir dir;
  const auto file = dir / "scanner.pcapng";
  const std::string filter = "host " + meter + " and (tcp port " + std::to_string(c.tcp_port) + " or udp port " +
                             std::to_string(c.sim_udp) + " or udp port " + std::to_string(c.scan_udp) +
                             " or udp port " + std::to_string(probe_port) + ")";
  pm500::test::Process cap({*tshark, "-i", "lo", "-f", filter, "-w", file.string()}, {"HOME=" + dir.path().string()});
  REQUIRE_MESSAGE(eventually([&] { return cap.log().find("Capturing on") != std::string::npos; }, 20s), cap.log());
  auto size_now = [&] {
    std::error_code ec;
    const auto n = std::filesystem::file_size(file, ec);
    return ec ? std::uintmax_t{0} : n;
  };
  const auto header_size = size_now();
  {
    const int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(probe_port);
    ::inet_pton(AF_INET, meter.c_str(), &to.sin_addr);
    const bool live = eventually(
        [&] {
          ::sendto(probe, "probe", 5, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
          return size_now() > header_size;
        },
        20s);
    ::close(probe);
    REQUIRE_MESSAGE(live, "tshark never wrote a probe packet: " << cap.log());
  }

  pm500::sim::MeterOptions m;
  m.address = meter;
  m.tcp_port = c.tcp_port;
  m.udp_port = c.sim_udp;
  m.owner = false;  // listen-only is refused with 0x0119; the fallback is input-only
  pm500::sim::Options so;
  so.meters.push_back(m);
  auto sim = pm500::sim::Simulator::start(so);
  if (!sim && tcp_port != 0) {
    MESSAGE("SKIPPED: " << meter << ":" << tcp_port << " is taken: " << sim.error());
    c.skipped = true;
    return c;
  }
  REQUIRE_MESSAGE(sim, (sim ? "" : sim.error()));

  scanner_test::Recorder rec;
  cip::ScannerOptions opt;
  opt.udp_port = c.scan_udp;
  opt.jitter_seed = 5;
  cip::DeviceSpec spec;
  spec.host = meter;
  spec.port = c.tcp_port;
  spec.udp_port = c.sim_udp;
  spec.assemblies = {101, 108};
  spec.rpi_us = 50'000;
  spec.fallback = cip::Fallback::input_only;
  spec.multicast = true;
  {
    cip::Scanner scanner(opt, {spec}, rec);
    REQUIRE(scanner.start());
    REQUIRE(eventually([&] { return rec.stream(0, 108).count >= 5 && rec.stream(0, 101).count >= 5; }, 5s));
    scanner.stop();
  }
  REQUIRE(eventually([&] { return (*sim)->stats(0).sessions == 0; }, 3s));
  std::this_thread::sleep_for(300ms);  // the last packets reach the capture
  cap.signal(SIGINT);
  REQUIRE(cap.wait(10s).has_value());
  if (const char* keep = std::getenv("PM500_KEEP_PCAP")) {
    std::filesystem::copy_file(file, std::string(keep) + "." + std::to_string(c.tcp_port) + ".pcapng",
                               std::filesystem::copy_options::overwrite_existing);
  }
  std::vector<std::string> d = {"udp.port==" + std::to_string(c.sim_udp) + ",cipio",
                                "udp.port==" + std::to_string(c.scan_udp) + ",cipio"};
  if (c.tcp_port != 44818) d.push_back("tcp.port==" + std::to_string(c.tcp_port) + ",enip");
  c.rows = decode(*tshark, file, d, c.raw);
  return c;
}

// What holds on any port: well-formed, the session, identity, services, general statuses,
// Sockaddr Info naming the scanner's port, Class 1 ids and sequence numbers.
void check_common(const Capture& c) {
  const auto& rows = c.rows;
  const auto& meter = c.meter;
  REQUIRE(rows.size() > 20);

  // Clean: nothing malformed, no expert warning or error (TCP chat/notes are fine).
  constexpr long warning = 0x00600000;  // Wireshark's PI_WARN
  for (const auto& row : rows) {
    CAPTURE(row.at("frame.number"));
    CAPTURE(row.at("_ws.col.Info"));
    const bool malformed = !row.at("_ws.malformed").empty();
    CHECK(!malformed);
    for (const auto& s : split(row.at("_ws.expert.severity"))) CHECK_MESSAGE(std::stol(s) < warning, row.at("_ws.expert.message"));
  }

  // Encapsulation, in order: RegisterSession, ListIdentity, SendRRData..., UnRegisterSession;
  // every SendRRData and the UnRegisterSession carry the handle the meter gave.
  std::vector<std::string> commands;
  std::string session;
  for (const auto& row : rows) {
    const auto& cmd = row.at("enip.command");
    if (cmd.empty()) continue;
    if (commands.empty() || commands.back() != cmd || cmd != "0x006f") commands.push_back(cmd);
    if (cmd == "0x0065" && row.at("ip.src") == meter) session = row.at("enip.session");
  }
  REQUIRE(commands.size() == 6);
  CHECK(commands == std::vector<std::string>{"0x0065", "0x0065", "0x0063", "0x0063", "0x006f", "0x0066"});
  REQUIRE_FALSE(session.empty());
  CHECK(session != "0x00000000");
  for (const auto& row : rows) {
    const auto& cmd = row.at("enip.command");
    if (cmd == "0x006f" || cmd == "0x0066") CHECK(row.at("enip.session") == session);
    if (!cmd.empty()) CHECK(row.at("enip.status") == "0x00000000");
  }

  // ListIdentity: the meter's identity as tshark reads it.
  bool identity = false;
  for (const auto& row : rows) {
    if (row.at("enip.lir.vendor").empty()) continue;
    identity = true;
    CHECK(row.at("enip.lir.vendor") == "0x0001");
    CHECK(row.at("enip.lir.devtype") == "146");
    CHECK(row.at("enip.lir.prodcode") == "9");
  }
  CHECK(identity);

  // Requests, in order: Get_Attribute_Single x2 (attribute 4 of 101 and 108), Forward Open x3
  // (listen-only 99 -> 101 refused, input-only 98 -> 101 and 98 -> 108), Forward Close x2.
  std::vector<std::string> services, statuses, points, serials_open, serials_close;
  for (const auto& row : rows) {
    if (row.at("cip.sc").empty()) continue;
    if (row.at("ip.dst") == meter) {
      services.push_back(row.at("cip.sc"));
      if (row.at("cip.sc") == "0x0e") {
        CHECK(row.at("cip.class") == "0x04");
        CHECK(row.at("cip.attribute") == "4");
      }
      if (row.at("cip.sc") == "0x54") {
        points.push_back(row.at("cip.connpoint"));
        serials_open.push_back(row.at("cip.cm.conn_serial_num"));
        // Heartbeats at their own O->T RPI, apart from the 50 ms T->O RPI.
        CHECK(row.at("cip.cm.otrpi") == std::to_string(cip::heartbeat_rpi_default_us));
        CHECK(row.at("cip.cm.torpi") == "50000");
        CHECK(row.at("cip.cm.ot_net_params") == "0x4802");  // point-to-point heartbeat, 2 bytes
        // Sockaddr Info T->O 0x8001 names the scanner's port, not 2222.
        CHECK(row.at("enip.cpf.typeid") == "0x0000,0x00b2,0x8001");
        CHECK(row.at("enip.sinport") == std::to_string(c.scan_udp));
      }
      if (row.at("cip.sc") == "0x4e") serials_close.push_back(row.at("cip.cm.conn_serial_num"));
    } else {
      statuses.push_back(row.at("cip.genstat"));
    }
  }
  CHECK(services == std::vector<std::string>{"0x0e", "0x0e", "0x54", "0x54", "0x54", "0x4e", "0x4e"});
  CHECK(statuses == std::vector<std::string>{"0x00", "0x00", "0x01", "0x00", "0x00", "0x00", "0x00"});
  CHECK(points == std::vector<std::string>{"0x63,0x65", "0x62,0x65", "0x62,0x6c"});  // 99/101, 98/101, 98/108
  REQUIRE(serials_open.size() == 3);
  CHECK(serials_close == std::vector<std::string>{serials_open[1], serials_open[2]});

  // Class 1: T->O data from the meter to the group the reply named, on UDP 2222 whatever port
  // the scanner asked for (a multicast producer's port is the target's; the scanner listens there too);
  // O->T heartbeats to the meter's port; encapsulation sequence numbers that only go up.
  std::map<std::string, std::uint64_t> last_seq;
  std::set<std::string> t_o_ids, o_t_ids;
  for (const auto& row : rows) {
    const auto& id = row.at("enip.cpf.sai.connid");
    if (id.empty()) continue;
    const auto seq = std::stoull(row.at("enip.cpf.sai.seq"));
    if (last_seq.count(id)) CHECK(seq > last_seq[id]);
    last_seq[id] = seq;
    if (row.at("ip.src") == meter) {
      t_o_ids.insert(id);
      CHECK(row.at("udp.dstport") == std::to_string(cip::udp_io_port));
      CHECK(row.at("ip.dst").rfind("239.192.", 0) == 0);
    } else {
      o_t_ids.insert(id);
      CHECK(row.at("udp.dstport") == std::to_string(c.sim_udp));
    }
  }
  CHECK(t_o_ids.size() == 2);
  CHECK(o_t_ids.size() == 2);
  // At least 5 datagrams of each T->O stream; heartbeats go out once a second, the first at once.
  for (auto& [id, seq] : last_seq) CHECK(seq >= (t_o_ids.count(id) ? 5u : 1u));
}

}  // namespace

TEST_CASE("tshark decodes a live scanner <-> simulator capture on non-standard ports (-d): clean, fields match") {
  auto c = capture("127.0.3.81", 0);
  if (c.skipped) return;
  INFO("tshark:\n" << c.raw);
  check_common(c);
}

// On 44818 tshark pairs each reply with its request, so the Connection Manager's reply fields
// are decoded too: the extended status of the refusal and the connection ids of the replies,
// which must be the ids the Class 1 packets then carry.
TEST_CASE("tshark on the standard encapsulation port: 0x0119 and the connection ids of the replies") {
  auto c = capture("127.0.3.82", 44818);
  if (c.skipped) return;
  INFO("tshark:\n" << c.raw);
  check_common(c);
  std::set<std::string> to_ids, ot_ids, t_o_seen, o_t_seen;
  bool refused_0119 = false;
  for (const auto& row : c.rows) {
    if (row.at("ip.src") == c.meter && row.at("cip.sc") == "0x54") {
      if (row.at("cip.genstat") == "0x01") refused_0119 = row.at("cip.cm.ext_status") == "0x0119";
      if (row.at("cip.genstat") == "0x00") {
        to_ids.insert(row.at("cip.cm.to_connid"));
        ot_ids.insert(row.at("cip.cm.ot_connid"));
      }
    }
    const auto& id = row.at("enip.cpf.sai.connid");
    if (id.empty()) continue;
    (row.at("ip.src") == c.meter ? t_o_seen : o_t_seen).insert(id);
  }
  CHECK(refused_0119);
  CHECK(to_ids.size() == 2);
  CHECK(to_ids == t_o_seen);
  CHECK(ot_ids == o_t_seen);
}
