// A minimal pcap writer for the wire oracle test: wraps payloads in Ethernet/IPv4/TCP or UDP on
// 127.0.0.1 with correct lengths, sequence numbers and checksums, so tshark can be asked to
// validate the checksums too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

namespace cip_test {

class PcapWriter {
 public:
  explicit PcapWriter(const std::filesystem::path& path);

  // Starts the (single) TCP conversation with a three-way handshake.
  void tcp_open(std::uint16_t client_port, std::uint16_t server_port);
  // One segment with PSH|ACK carrying `payload` in the given direction.
  void tcp(bool to_server, std::span<const std::uint8_t> payload);
  void udp(std::uint16_t src_port, std::uint16_t dst_port, std::span<const std::uint8_t> payload);

 private:
  void tcp_segment(bool to_server, std::uint8_t flags, std::span<const std::uint8_t> payload);
  void ip_packet(std::uint8_t protocol, const std::vector<std::uint8_t>& l4);
  void record(const std::vector<std::uint8_t>& frame);

  std::ofstream out_;
  std::uint32_t usec_ = 0;
  std::uint16_t ip_id_ = 1;
  std::uint16_t client_port_ = 0;
  std::uint16_t server_port_ = 0;
  std::uint32_t client_seq_ = 1000;
  std::uint32_t server_seq_ = 5000;
};

}  // namespace cip_test
