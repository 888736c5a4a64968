#include "pcap_writer.hpp"

namespace cip_test {
namespace {

constexpr std::uint32_t loopback = 0x7F000001;
constexpr std::uint8_t tcp_syn = 0x02, tcp_psh = 0x08, tcp_ack = 0x10;

void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {  // network order
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}
void set16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

// RFC 1071 internet checksum.
std::uint16_t checksum(const std::vector<std::uint8_t>& b, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < b.size(); i += 2) sum += static_cast<std::uint32_t>(b[i] << 8 | b[i + 1]);
  if (b.size() & 1) sum += static_cast<std::uint32_t>(b.back() << 8);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::uint32_t pseudo_header_sum(std::uint8_t protocol, std::size_t length) {
  return (loopback >> 16) + (loopback & 0xFFFF) + (loopback >> 16) + (loopback & 0xFFFF) + protocol +
         static_cast<std::uint32_t>(length);
}

void le32(std::ofstream& o, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) o.put(static_cast<char>(v >> (8 * i)));
}
void le16(std::ofstream& o, std::uint16_t v) {
  o.put(static_cast<char>(v));
  o.put(static_cast<char>(v >> 8));
}

}  // namespace

PcapWriter::PcapWriter(const std::filesystem::path& path) : out_(path, std::ios::binary | std::ios::trunc) {
  le32(out_, 0xA1B2C3D4);  // microsecond timestamps
  le16(out_, 2);
  le16(out_, 4);
  le32(out_, 0);           // thiszone
  le32(out_, 0);           // sigfigs
  le32(out_, 65535);       // snaplen
  le32(out_, 1);           // LINKTYPE_ETHERNET
}

void PcapWriter::tcp_open(std::uint16_t client_port, std::uint16_t server_port) {
  client_port_ = client_port;
  server_port_ = server_port;
  tcp_segment(true, tcp_syn, {});
  ++client_seq_;
  // The SYN-ACK acknowledges the client's SYN; the server's own SYN takes one sequence number.
  tcp_segment(false, tcp_syn | tcp_ack, {});
  ++server_seq_;
  tcp_segment(true, tcp_ack, {});
}

void PcapWriter::tcp(bool to_server, std::span<const std::uint8_t> payload) {
  tcp_segment(to_server, tcp_psh | tcp_ack, payload);
  (to_server ? client_seq_ : server_seq_) += static_cast<std::uint32_t>(payload.size());
}

void PcapWriter::tcp_segment(bool to_server, std::uint8_t flags, std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> seg;
  put16(seg, to_server ? client_port_ : server_port_);
  put16(seg, to_server ? server_port_ : client_port_);
  put32(seg, to_server ? client_seq_ : server_seq_);
  bool ack = (flags & tcp_ack) != 0;
  put32(seg, ack ? (to_server ? server_seq_ : client_seq_) : 0);
  seg.push_back(5 << 4);  // data offset: 20 bytes
  seg.push_back(flags);
  put16(seg, 65535);      // window
  put16(seg, 0);          // checksum, below
  put16(seg, 0);          // urgent pointer
  seg.insert(seg.end(), payload.begin(), payload.end());
  set16(seg, 16, checksum(seg, pseudo_header_sum(6, seg.size())));
  ip_packet(6, seg);
}

void PcapWriter::udp(std::uint16_t src_port, std::uint16_t dst_port, std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> dg;
  put16(dg, src_port);
  put16(dg, dst_port);
  put16(dg, static_cast<std::uint16_t>(8 + payload.size()));
  put16(dg, 0);
  dg.insert(dg.end(), payload.begin(), payload.end());
  std::uint16_t sum = checksum(dg, pseudo_header_sum(17, dg.size()));
  set16(dg, 6, sum == 0 ? 0xFFFF : sum);  // 0 would mean "no checksum" (RFC 768)
  ip_packet(17, dg);
}

void PcapWriter::ip_packet(std::uint8_t protocol, const std::vector<std::uint8_t>& l4) {
  std::vector<std::uint8_t> ip;
  ip.push_back(0x45);  // IPv4, 20-byte header
  ip.push_back(0);
  put16(ip, static_cast<std::uint16_t>(20 + l4.size()));
  put16(ip, ip_id_++);
  put16(ip, 0x4000);   // don't fragment
  ip.push_back(64);    // TTL
  ip.push_back(protocol);
  put16(ip, 0);
  put32(ip, loopback);
  put32(ip, loopback);
  set16(ip, 10, checksum(ip));
  std::vector<std::uint8_t> frame(12, 0);  // destination and source MAC: zero, as on lo
  put16(frame, 0x0800);
  frame.insert(frame.end(), ip.begin(), ip.end());
  frame.insert(frame.end(), l4.begin(), l4.end());
  record(frame);
}

void PcapWriter::record(const std::vector<std::uint8_t>& frame) {
  usec_ += 1000;
  le32(out_, 1'700'000'000u + usec_ / 1'000'000);
  le32(out_, usec_ % 1'000'000);
  le32(out_, static_cast<std::uint32_t>(frame.size()));
  le32(out_, static_cast<std::uint32_t>(frame.size()));
  out_.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
  out_.flush();
}

}  // namespace cip_test
