// A small EtherNet/IP originator for the simulator's tests, made from the cip/ codecs over
// blocking sockets with timeouts -- deliberately not the scanner, so the simulator is checked
// against the codecs alone. Everything copies what it returns (the codecs return views).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cip/cip.hpp"

namespace pm500::sim::test {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

std::uint32_t ipv4(const std::string& dotted);  // host order

// A message router reply, copied.
struct Mr {
  std::uint8_t service = 0;
  std::uint8_t general = 0xFF;
  std::vector<std::uint16_t> additional;
  Bytes data;
  std::uint16_t extended() const { return additional.empty() ? 0 : additional[0]; }
};

struct FoSpec {
  std::uint16_t t_o_point = 101;
  std::uint16_t o_t_point = cip::pm500_heartbeat_input_only;
  std::uint32_t config_instance = 1;
  std::uint32_t rpi_us = 20'000;
  std::uint8_t multiplier = 7;  // 20 ms x 4 x 128 = 10 s: tests without heartbeats stay open
  bool multicast = false;
  std::uint16_t o_t_size = 2;
  std::uint16_t t_o_size = 50;  // 48 bytes of assembly 101 + the sequence count
  std::uint16_t serial = 1;
  std::uint16_t vendor = 0xFFFE;
  std::uint32_t originator_serial = 42;
  std::uint32_t t_o_id = 0x7E570001;
  std::optional<cip::SockAddr> t_o_sockaddr;  // the request's Sockaddr Info 0x8001
  std::uint8_t transport = 0x01;
};

struct FoResult {
  bool ok = false;
  Mr mr;
  // on success
  std::uint32_t o_t_id = 0;
  std::uint32_t t_o_id = 0;
  std::uint32_t o_t_api_us = 0;
  std::uint32_t t_o_api_us = 0;
  std::optional<cip::SockAddr> t_o_addr;
  std::optional<cip::SockAddr> o_t_addr;
  // on failure
  std::optional<std::uint16_t> wanted_size;
};

class Client {
 public:
  Client(const std::string& address, std::uint16_t port);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  std::uint32_t session() const { return session_; }
  void set_session(std::uint32_t s) { session_ = s; }

  // Sends `frame` and waits for one reply frame; nullopt on timeout or a closed connection.
  std::optional<Bytes> roundtrip(cip::bytes_view frame, std::chrono::milliseconds timeout = 2s);
  // Reads one frame (nullopt on timeout / close).
  std::optional<Bytes> read_frame(std::chrono::milliseconds timeout);

  std::uint32_t register_session();  // 0 on failure
  void unregister_session();
  // The identity in a ListIdentity reply; product_name points into `storage`.
  std::optional<cip::ListIdentityItem> list_identity(Bytes& storage, std::chrono::milliseconds timeout = 2s);
  std::optional<cip::ServiceInfo> list_services();

  // One unconnected request in SendRRData; `encode` writes the message router request.
  template <class F>
  std::optional<Mr> request(F&& encode, std::uint32_t* encap_status = nullptr) {
    std::array<std::uint8_t, 1024> buf{};
    cip::Writer w(buf);
    auto m = cip::begin_send_rr_data(w, session_);
    encode(w);
    cip::end_send_rr_data(w, m);
    return exchange(w.written(), encap_status);
  }
  std::optional<Mr> get_attribute_single(std::uint32_t cls, std::uint32_t instance, std::uint32_t attribute);
  std::optional<Mr> get_attributes_all(std::uint32_t cls, std::uint32_t instance);
  FoResult forward_open(const FoSpec& spec);
  std::optional<Mr> forward_close(std::uint16_t serial, std::uint16_t vendor = 0xFFFE,
                                  std::uint32_t originator_serial = 42);

  std::optional<Mr> exchange(cip::bytes_view frame, std::uint32_t* encap_status = nullptr,
                             std::optional<cip::SockAddr>* t_o = nullptr, std::optional<cip::SockAddr>* o_t = nullptr);

 private:
  int fd_ = -1;
  std::uint32_t session_ = 0;
  Bytes rx_;
};

struct Io {
  std::uint32_t connection_id = 0;
  std::uint32_t encap_sequence = 0;
  std::uint16_t cip_sequence = 0;
  Bytes data;
};

// A UDP endpoint on loopback: receives T->O datagrams, sends O->T heartbeats.
class Udp {
 public:
  // Binds `address`:0 (any free port), or a multicast `group` on `port` when given.
  explicit Udp(const std::string& address = "127.0.0.1", std::uint16_t port = 0);
  ~Udp();
  Udp(const Udp&) = delete;
  Udp& operator=(const Udp&) = delete;

  std::uint16_t port() const { return port_; }
  // Joins a multicast group on the loopback interface (127.0.0.1).
  bool join(std::uint32_t group);
  std::optional<Io> recv(std::chrono::milliseconds timeout);
  // Datagrams received within `window`.
  std::vector<Io> collect(std::chrono::milliseconds window);
  void drain();
  bool send_heartbeat(std::uint32_t o_t_id, std::uint32_t sequence, const std::string& to, std::uint16_t port);
  // The same, without allocating (for the allocation test).
  bool send_raw(cip::bytes_view bytes, const std::string& to, std::uint16_t port);

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A heartbeat datagram: 0x8002 (connection id, sequence) + 0x00B1 with the 16-bit count only.
Bytes heartbeat(std::uint32_t o_t_id, std::uint32_t sequence);

}  // namespace pm500::sim::test
