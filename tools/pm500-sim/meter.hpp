// Meter: one simulated PowerMonitor 500 -- the EtherNet/IP target side of every message the
// scanner sends, its Class 1 connections and their production, its feeder and its faults.
// All methods run on the simulator's event-loop thread (or under its lock).
#pragma once

#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "cip/cip.hpp"
#include "device/feeder_model.hpp"
#include "event_loop.hpp"
#include "send_batch.hpp"
#include "simulator.hpp"

namespace pm500::sim::detail {

// Faults of the EtherNet/IP side; the electrical ones live in the feeder model.
struct LinkFaults {
  bool refuse = false;  // every Forward Open fails with this status
  std::uint8_t refuse_general = 0x01;
  std::optional<std::uint16_t> refuse_extended{};
  bool stop_producing = false;  // connections stay open, no T->O datagram leaves
  bool silent_tcp = false;      // TCP accepted and read, never answered
  bool other_identity = false;  // answer as another device
  std::uint16_t vendor = 0;
  std::uint16_t device_type = 0;
  std::uint16_t product_code = 0;
  // The O->T API a Forward Open reply announces, in percent of the O->T RPI asked for, while the
  // watchdog stays at that RPI x 4 x 2^n: above 100 x 4 x 2^n an originator that heartbeats at
  // the announced API is timed out (a test of heartbeat timing, "fault o-t-api").
  std::uint32_t o_t_api_percent = 100;
  // Data bytes the meter claims a T->O connection needs, other than attribute 4 says: every
  // Forward Open of another size is refused 0x01/0x0128 naming this one ("fault t-o-size"; 0 = off).
  std::uint16_t t_o_data_bytes = 0;
};

class Meter {
 public:
  Meter(std::uint32_t index, MeterOptions options, const device::Profile& profile, EventLoop& loop,
        std::shared_ptr<spdlog::logger> log);
  ~Meter();
  Meter(const Meter&) = delete;
  Meter& operator=(const Meter&) = delete;

  // Binds TCP tcp_port, UDP tcp_port (ListIdentity) and UDP udp_port on the meter's address.
  pm500::expected<void, std::string> open();
  // Closes every socket; connections vanish without Forward Close.
  void close_all();

  void on_tcp_listen();
  void on_tcp_client(std::uint16_t slot, std::uint16_t gen, std::uint32_t events);
  void on_udp_io(std::int64_t now);
  void on_udp_list();
  // Queues the stream's next datagram in `out`, which the event loop sends at the end of the turn.
  void on_produce(std::uint16_t slot, std::uint16_t gen, std::int64_t now, SendBatch& out);
  void on_supervise(std::uint16_t slot, std::uint16_t gen, std::int64_t now);

  LinkFaults& link_faults() { return faults_; }
  device::Faults& feeder_faults() { return model_.faults(); }
  // The simulated PLC owner; turning it off drops listen-only connections left without owner.
  void set_owner(bool on);
  bool owner() const { return sim_owner_; }

  MeterStats stats() const;
  std::string endpoint() const;  // "127.0.0.2:44818"
  const MeterOptions& options() const { return opt_; }

 private:
  struct Client {
    int fd = -1;
    std::uint16_t gen = 0;
    std::uint32_t session = 0;
    sockaddr_in peer{};
    std::vector<std::uint8_t> rx;  // grows to the largest frame seen; reused
    std::size_t rx_len = 0;
    std::vector<std::uint8_t> tx;  // bytes the socket did not take yet
  };
  struct Conn {
    bool used = false;
    std::uint16_t gen = 0;
    bool listen_only = false;
    std::uint16_t serial = 0;
    std::uint16_t vendor = 0;
    std::uint32_t originator_serial = 0;
    std::uint32_t o_t_id = 0;
    std::uint32_t t_o_id = 0;
    std::uint16_t point = 0;  // T->O assembly
    std::int64_t timeout_ns = 0;
    std::int64_t last_heard = 0;
    std::uint16_t stream = 0;
  };
  struct Stream {
    bool used = false;
    std::uint16_t gen = 0;
    bool multicast = false;
    std::uint16_t point = 0;
    std::uint32_t id = 0;  // T->O connection id on the wire
    sockaddr_in dest{};
    std::int64_t rpi_ns = 0;
    std::int64_t next_ns = 0;
    std::uint32_t encap_seq = 0;
    std::uint16_t cip_seq = 0;
    std::uint32_t refs = 0;
  };

  // Encapsulation.
  void close_client(std::uint16_t slot);
  void handle_frame(std::uint16_t slot, const cip::Frame& f);
  void send_to_client(std::uint16_t slot, cip::bytes_view bytes);
  void reply_status(std::uint16_t slot, const cip::EncapHeader& h, std::uint32_t status);
  void handle_send_rr_data(std::uint16_t slot, const cip::Frame& f);
  // Writes the message router response to `req` into w; may add Sockaddr items to extras_.
  void handle_request(const Client& c, const cip::MrRequest& req, const cip::SendData& sd, cip::Writer& w, int depth);
  void handle_attribute(const cip::MrRequest& req, cip::Writer& w);
  void forward_open(const Client& c, const cip::MrRequest& req, const cip::SendData& sd, cip::Writer& w);
  void forward_close(const cip::MrRequest& req, cip::Writer& w);

  // Connections.
  bool has_owner(std::uint16_t point) const;
  void close_conn(std::size_t slot, const char* why);
  // The O->T watchdog expired: close the connection (and the listeners left without owner).
  void time_out(std::size_t slot, std::int64_t now);
  void drop_orphaned_listeners();
  int find_conn(std::uint16_t serial, std::uint16_t vendor, std::uint32_t originator_serial) const;
  std::size_t open_conns() const;

  cip::IdentityInfo identity() const;
  std::uint32_t group_address(std::uint16_t point) const;

  std::uint32_t index_;
  MeterOptions opt_;
  const device::Profile& profile_;
  bool t_o_header_ = false;  // the real-time formats demanded (profile, or MeterOptions override)
  bool o_t_header_ = false;
  EventLoop& loop_;
  std::shared_ptr<spdlog::logger> log_;
  device::FeederModel model_;
  LinkFaults faults_{};
  bool sim_owner_ = true;

  std::uint32_t address_ = 0;  // host order
  std::uint32_t serial_ = 0;
  int tcp_fd_ = -1;
  int udp_io_fd_ = -1;
  int udp_list_fd_ = -1;

  std::vector<Client> clients_;
  std::vector<Conn> conns_;
  std::vector<Stream> streams_;
  std::uint32_t next_session_ = 0;
  std::uint32_t next_id_ = 0;

  // Scratch buffers of the event-loop thread: every reply and datagram is built here.
  std::array<std::uint8_t, 4096> out_{};
  std::array<std::uint8_t, 1024> data_{};
  std::array<std::uint8_t, 2048> in_{};
  std::array<cip::SockAddrItem, 2> extras_{};
  std::size_t extras_count_ = 0;

  MeterStats stats_{};
};

}  // namespace pm500::sim::detail
