#include "meter.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace pm500::sim::detail {
namespace {

// Identity of the PowerMonitor 500 (1420-UM001; pm500-facts.md section 1).
constexpr std::string_view kOtherProductName = "Simulated other device";

// Connection Manager extended status under general 0x01 (CIP Vol 1, ch. 3, CM error codes).
namespace ext {
constexpr std::uint16_t duplicate = 0x0100;
constexpr std::uint16_t transport_not_supported = 0x0103;
constexpr std::uint16_t not_found = 0x0107;
constexpr std::uint16_t bad_net_params = 0x0108;
constexpr std::uint16_t rpi_not_supported = 0x0111;
constexpr std::uint16_t out_of_connections = 0x0113;
constexpr std::uint16_t vendor_mismatch = 0x0114;
constexpr std::uint16_t device_type_mismatch = 0x0115;
constexpr std::uint16_t revision_mismatch = 0x0116;
constexpr std::uint16_t bad_app_path = 0x0117;
constexpr std::uint16_t no_owner = 0x0119;
constexpr std::uint16_t bad_o_t_size = 0x0127;
constexpr std::uint16_t bad_t_o_size = 0x0128;
constexpr std::uint16_t port_not_available = 0x0311;
constexpr std::uint16_t inconsistent_path = 0x012F;
constexpr std::uint16_t bad_segment = 0x0315;
}  // namespace ext

// CIP general status (CIP Vol 1, Appendix B).
namespace gs {
constexpr std::uint8_t connection_failure = 0x01;
constexpr std::uint8_t path_segment_error = 0x04;
constexpr std::uint8_t path_unknown = 0x05;
constexpr std::uint8_t not_supported = 0x08;
constexpr std::uint8_t not_enough_data = 0x13;
constexpr std::uint8_t attribute_not_supported = 0x14;
constexpr std::uint8_t too_much_data = 0x15;
}  // namespace gs

// The heartbeat O->T connected data carries the 16-bit sequence count and nothing else: size 2
// in the Forward Open. 0 is accepted as well because the real meter's value is unknown
// (pm500-facts.md); a datagram of either form resets the inactivity timer.
constexpr std::uint16_t kHeartbeatSize = 2;
// The T->O data: sequence count + assembly bytes, no 32-bit run/idle header (an adapter's
// produced data is "modeless"; the real meter's choice is unknown, see README.md).
constexpr std::uint16_t kSeqCountSize = 2;
constexpr std::uint16_t kRunIdleSize = 4;  // 32-bit run/idle header (CIP Vol 1, 3-6.1)
// Accepted T->O RPI range (the real meter's limits are unknown; the manual tested 100 ms). The
// O->T (heartbeat) RPI must lie in cip::heartbeat_rpi_min_us .. heartbeat_rpi_max_us, the range
// cip/README.md documents as what adapters commonly accept.
constexpr std::uint32_t kMinRpiUs = 1'000;
constexpr std::uint32_t kMaxRpiUs = 10'000'000;
// Connection timeout multipliers 0..7 mean x4 .. x512; 8..255 are reserved (CIP Vol 1, ch. 3).
constexpr std::uint8_t kMaxTimeoutMultiplier = 7;
constexpr std::uint8_t kInvalidParameter = 0x20;  // CIP general status "invalid parameter"
constexpr std::size_t kMaxFrame = 4096;
// Low bits of a connection id that name the connection's slot, so a heartbeat finds its
// connection without a search.
constexpr std::uint32_t kSlotBits = 10;
constexpr std::uint32_t kSlotMask = (1u << kSlotBits) - 1;

std::string errno_text() {
  return std::strerror(errno);
}

sockaddr_in make_addr(std::uint32_t host_order, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(host_order);
  a.sin_port = htons(port);
  return a;
}

bool is_loopback(std::uint32_t host_order) {
  return (host_order >> 24) == 127;
}

std::string to_text(std::uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

int bound_socket(int type, const sockaddr_in& a, std::string& err) {
  int fd = ::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = "socket: " + errno_text();
    return -1;
  }
  int one = 1;
  // TCP: a restarted simulator must rebind while old connections sit in TIME_WAIT. UDP: an
  // originator on this host may bind the port on 0.0.0.0 too, to receive multicast T->O on 2222
  // (on a real network the meter is another host); unicast to the meter's address stays here.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    err = std::string(type == SOCK_STREAM ? "tcp" : "udp") + " bind: " + errno_text();
    ::close(fd);
    return -1;
  }
  return fd;
}

cip::SenderContext ctx_of(const cip::EncapHeader& h) {
  return h.context;
}

}  // namespace

Meter::Meter(std::uint32_t index, MeterOptions options, const device::Profile& profile, EventLoop& loop,
             std::shared_ptr<spdlog::logger> log)
    : index_(index),
      opt_(std::move(options)),
      profile_(profile),
      loop_(loop),
      log_(std::move(log)),
      model_(profile, opt_.feeder, opt_.seed),
      sim_owner_(opt_.owner) {
  using H = device::RealTimeHeader;
  t_o_header_ = opt_.t_o_header.empty() ? profile.connection.t_o_header == H::run_idle : opt_.t_o_header == "run_idle";
  o_t_header_ = opt_.o_t_header.empty() ? profile.connection.o_t_header == H::run_idle : opt_.o_t_header == "run_idle";
  in_addr a{};
  inet_pton(AF_INET, opt_.address.c_str(), &a);
  address_ = ntohl(a.s_addr);
  // A plausible serial in the PowerMonitor 500 range, stable for an address.
  serial_ = opt_.serial != 0 ? opt_.serial : 940'000'000u + (address_ & 0xFFFFFFu) % 10'000'000u;
  conns_.resize(opt_.max_connections);
  streams_.resize(opt_.max_connections);
  clients_.reserve(8);
  // Session handles and connection ids differ between meters and runs of one meter index, so a
  // scanner that mixes them up is caught.
  next_session_ = ((index_ + 1) << 16) ^ static_cast<std::uint32_t>((monotonic_ns() >> 10) & 0xFFFF);
  next_id_ = (index_ + 1) * 0x1000u + static_cast<std::uint32_t>(monotonic_ns() & 0xFFF);
}

Meter::~Meter() {
  close_all();
}

std::string Meter::endpoint() const {
  return opt_.address + ":" + std::to_string(opt_.tcp_port);
}

pm500::expected<void, std::string> Meter::open() {
  std::string err;
  auto fail = [&] { return pm500::unexpected(endpoint() + ": " + err); };
  tcp_fd_ = bound_socket(SOCK_STREAM, make_addr(address_, opt_.tcp_port), err);
  if (tcp_fd_ < 0) return fail();
  if (::listen(tcp_fd_, 128) != 0) {
    err = "listen: " + errno_text();
    return fail();
  }
  udp_list_fd_ = bound_socket(SOCK_DGRAM, make_addr(address_, opt_.tcp_port), err);
  if (udp_list_fd_ < 0) return fail();
  udp_io_fd_ = bound_socket(SOCK_DGRAM, make_addr(address_, opt_.udp_port), err);
  if (udp_io_fd_ < 0) {
    err += " (udp port " + std::to_string(opt_.udp_port) + ")";
    return fail();
  }
  // Kernel receive times for the O->T watchdog (see arrival_ns).
  int stamp = 1;
  setsockopt(udp_io_fd_, SOL_SOCKET, SO_TIMESTAMPNS, &stamp, sizeof stamp);
  // Multicast T->O must work on loopback: leave through the meter's own address, loop back to
  // local receivers, and never leave the host (TTL 1).
  in_addr ifaddr{htonl(address_)};
  unsigned char loop_on = 1, ttl = 1;
  setsockopt(udp_io_fd_, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr);
  setsockopt(udp_io_fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop_on, sizeof loop_on);
  setsockopt(udp_io_fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);

  if (!loop_.add(tcp_fd_, EPOLLIN, {Token::tcp_listen, index_}) ||
      !loop_.add(udp_list_fd_, EPOLLIN, {Token::udp_list, index_}) ||
      !loop_.add(udp_io_fd_, EPOLLIN, {Token::udp_io, index_})) {
    err = "epoll_ctl: " + errno_text();
    return fail();
  }
  return {};
}

void Meter::close_all() {
  for (std::size_t i = 0; i < clients_.size(); ++i)
    if (clients_[i].fd >= 0) close_client(static_cast<std::uint16_t>(i));
  for (int* fd : {&tcp_fd_, &udp_io_fd_, &udp_list_fd_}) {
    if (*fd >= 0) {
      loop_.remove(*fd);
      ::close(*fd);
      *fd = -1;
    }
  }
  for (auto& c : conns_) {
    c.used = false;
    ++c.gen;
  }
  for (auto& s : streams_) {
    s.used = false;
    ++s.gen;
  }
}

// ---------------------------------------------------------------------------------------------
// TCP: encapsulation sessions.

void Meter::on_tcp_listen() {
  for (;;) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int fd = ::accept4(tcp_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {  // EAGAIN, or a connection that went away before we took it, or out of descriptors
      static std::atomic<bool> said{false};
      if ((errno == EMFILE || errno == ENFILE) && !said.exchange(true))
        log_->error("{}: cannot accept a connection: {} (raise `ulimit -n`; connections wait unanswered meanwhile)",
                    endpoint(), std::strerror(errno));
      return;
    }
    std::size_t slot = 0;
    while (slot < clients_.size() && clients_[slot].fd >= 0) ++slot;
    if (slot >= 0xFFFF) {
      ::close(fd);
      return;
    }
    if (slot == clients_.size()) clients_.emplace_back();
    Client& c = clients_[slot];
    c.fd = fd;
    ++c.gen;
    c.session = 0;
    c.peer = peer;
    c.rx_len = 0;
    c.tx.clear();
    if (c.rx.size() < 1024) c.rx.resize(1024);
    loop_.add(fd, EPOLLIN | EPOLLRDHUP, {Token::tcp_client, index_, static_cast<std::uint16_t>(slot), c.gen});
  }
}

void Meter::close_client(std::uint16_t slot) {
  Client& c = clients_[slot];
  if (c.fd < 0) return;
  loop_.remove(c.fd);
  ::close(c.fd);
  c.fd = -1;
  if (c.session != 0 && stats_.sessions > 0) --stats_.sessions;
  c.session = 0;
  // Class 1 connections outlive the session that opened them (CIP Vol 2: only Class 3
  // connections die with their TCP connection); they time out on their own.
}

void Meter::on_tcp_client(std::uint16_t slot, std::uint16_t gen, std::uint32_t events) {
  if (slot >= clients_.size() || clients_[slot].fd < 0 || clients_[slot].gen != gen) return;
  if ((events & EPOLLOUT) != 0) {
    Client& c = clients_[slot];
    if (!c.tx.empty()) {
      ssize_t n = ::send(c.fd, c.tx.data(), c.tx.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) c.tx.erase(c.tx.begin(), c.tx.begin() + n);
    }
    if (c.tx.empty()) loop_.modify(c.fd, EPOLLIN | EPOLLRDHUP, {Token::tcp_client, index_, slot, gen});
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0) return;
  for (;;) {
    Client& c = clients_[slot];
    if (c.fd < 0 || c.gen != gen) return;
    if (c.rx_len == c.rx.size()) c.rx.resize(std::min(c.rx.size() * 2, kMaxFrame * 2));
    ssize_t n = ::recv(c.fd, c.rx.data() + c.rx_len, c.rx.size() - c.rx_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close_client(slot);
      return;
    }
    if (n < 0) return;
    c.rx_len += static_cast<std::size_t>(n);
    std::size_t used = 0;
    for (;;) {
      Client& cc = clients_[slot];
      if (cc.fd < 0 || cc.gen != gen) return;  // closed by the frame (UnRegisterSession)
      cip::bytes_view buffered(cc.rx.data() + used, cc.rx_len - used);
      std::size_t need = cip::frame_size_needed(buffered);
      if (need > kMaxFrame) {  // not an encapsulation stream we can serve
        close_client(slot);
        return;
      }
      if (buffered.size() < need) break;
      auto frame = cip::decode_frame(buffered);
      if (!frame) {
        close_client(slot);
        return;
      }
      if (!faults_.silent_tcp) handle_frame(slot, *frame);
      used += need;
    }
    Client& c2 = clients_[slot];
    if (c2.fd < 0 || c2.gen != gen) return;
    std::memmove(c2.rx.data(), c2.rx.data() + used, c2.rx_len - used);
    c2.rx_len -= used;
  }
}

void Meter::send_to_client(std::uint16_t slot, cip::bytes_view bytes) {
  Client& c = clients_[slot];
  if (c.fd < 0) return;
  if (!c.tx.empty()) {
    c.tx.insert(c.tx.end(), bytes.begin(), bytes.end());
    return;
  }
  ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    close_client(slot);
    return;
  }
  std::size_t sent = n < 0 ? 0 : static_cast<std::size_t>(n);
  if (sent < bytes.size()) {
    c.tx.assign(bytes.begin() + static_cast<std::ptrdiff_t>(sent), bytes.end());
    loop_.modify(c.fd, EPOLLIN | EPOLLRDHUP | EPOLLOUT, {Token::tcp_client, index_, slot, c.gen});
  }
}

void Meter::reply_status(std::uint16_t slot, const cip::EncapHeader& h, std::uint32_t status) {
  cip::Writer w(out_);
  cip::end_frame(
      w, cip::begin_frame(w, {.command = h.command, .session = h.session, .status = status, .context = h.context}));
  send_to_client(slot, w.written());
}

void Meter::handle_frame(std::uint16_t slot, const cip::Frame& f) {
  Client& c = clients_[slot];
  const auto& h = f.header;
  cip::Writer w(out_);
  switch (h.command) {
    case cip::Command::nop:
      return;  // Vol 2: no reply to NOP
    case cip::Command::list_identity: {
      cip::ListIdentityItem item;
      item.address = {.port = opt_.tcp_port, .address = address_};
      item.identity = identity();
      item.state = 3;  // Identity attribute 8: operational
      cip::encode_list_identity_reply(w, ctx_of(h), item);
      break;
    }
    case cip::Command::list_services:
      cip::encode_list_services_reply(w, ctx_of(h), cip::communications_service());
      break;
    case cip::Command::list_interfaces: {
      // No optional interfaces: a CPF with zero items (Vol 2, ListInterfaces).
      auto m = cip::begin_frame(w, {.command = h.command, .context = h.context});
      cip::encode_cpf_count(w, 0);
      cip::end_frame(w, m);
      break;
    }
    case cip::Command::register_session: {
      auto body = cip::decode_register_session(f.payload);
      if (!body) return reply_status(slot, h, cip::encap_status::incorrect_data);
      if (body->protocol_version != cip::encap_protocol_version || body->options != 0) {
        cip::encode_register_session(w, ctx_of(h), 0, cip::encap_status::unsupported_protocol);
        break;
      }
      // One session per TCP connection (Vol 2, RegisterSession): a second one is refused.
      if (c.session != 0) return reply_status(slot, h, cip::encap_status::incorrect_data);
      do {
        ++next_session_;
      } while (next_session_ == 0);
      c.session = next_session_;
      ++stats_.sessions;
      cip::encode_register_session(w, ctx_of(h), c.session);
      break;
    }
    case cip::Command::unregister_session:
      // No reply; the target closes the TCP connection (Vol 2, UnRegisterSession).
      if (h.session == c.session && c.session != 0) close_client(slot);
      return;
    case cip::Command::send_rr_data:
      if (h.session == 0 || h.session != c.session) return reply_status(slot, h, cip::encap_status::invalid_session);
      return handle_send_rr_data(slot, f);
    case cip::Command::send_unit_data:
      // Class 3 (connected explicit) is not simulated: no such connection can exist.
      if (h.session == 0 || h.session != c.session) return reply_status(slot, h, cip::encap_status::invalid_session);
      return reply_status(slot, h, cip::encap_status::incorrect_data);
    default:
      return reply_status(slot, h, cip::encap_status::invalid_command);
  }
  if (w.ok()) send_to_client(slot, w.written());
}

void Meter::handle_send_rr_data(std::uint16_t slot, const cip::Frame& f) {
  const auto& h = f.header;
  auto sd = cip::decode_send_data(f.payload);
  if (!sd) return reply_status(slot, h, cip::encap_status::incorrect_data);
  auto msg = cip::unconnected_message(*sd);
  if (!msg) return reply_status(slot, h, cip::encap_status::incorrect_data);
  auto req = cip::decode_request(*msg);
  if (!req) return reply_status(slot, h, cip::encap_status::incorrect_data);
  cip::Writer w(out_);
  auto mark = cip::begin_send_rr_data(w, h.session, h.context);
  extras_count_ = 0;
  handle_request(clients_[slot], *req, *sd, w, 0);
  cip::end_send_rr_data(w, mark, std::span<const cip::SockAddrItem>(extras_.data(), extras_count_));
  if (w.ok()) send_to_client(slot, w.written());
}

void Meter::handle_request(const Client& c, const cip::MrRequest& req, const cip::SendData& sd, cip::Writer& w,
                           int depth) {
  auto path = cip::decode_path(req.path);
  if (!path) return cip::encode_response_head(w, req.service, gs::path_segment_error);
  auto addr = cip::decode_attribute_address(req.path);
  const bool to_cm = addr && addr->class_id == cip::object_class::connection_manager && addr->instance == 1;
  switch (req.service) {
    case cip::service::forward_open:
    case cip::service::large_forward_open:
      if (!to_cm) break;
      return forward_open(c, req, sd, w);
    case cip::service::forward_close:
      if (!to_cm) break;
      return forward_close(req, w);
    case cip::service::unconnected_send: {
      if (!to_cm) break;
      auto us = cip::decode_unconnected_send(req);
      if (!us) return cip::encode_response_head(w, req.service, gs::not_enough_data);
      if (us->route.size > 0 || depth > 0) {
        // The meter is a standalone adapter without a backplane: there is no port to route to.
        const std::uint16_t words[1] = {ext::port_not_available};
        cip::encode_response_head(w, req.service, gs::connection_failure, words);
        w.u8(static_cast<std::uint8_t>(cip::encoded_size(us->route.view()) / 2));  // remaining path size
        w.u8(0);
        return;
      }
      auto inner = cip::decode_request(us->message);
      if (!inner) return cip::encode_response_head(w, req.service, gs::not_enough_data);
      return handle_request(c, *inner, sd, w, depth + 1);
    }
    case cip::service::get_attribute_single:
    case cip::service::get_attributes_all:
    case cip::service::reset:
      return handle_attribute(req, w);
    default:
      break;
  }
  if (!addr) return cip::encode_response_head(w, req.service, gs::path_segment_error);
  const auto cls = addr->class_id;
  const bool known = cls == cip::object_class::identity || cls == cip::object_class::assembly ||
                     cls == cip::object_class::connection_manager || cls == cip::object_class::message_router;
  cip::encode_response_head(w, req.service, known ? gs::not_supported : gs::path_unknown);
}

void Meter::handle_attribute(const cip::MrRequest& req, cip::Writer& w) {
  auto addr = cip::decode_attribute_address(req.path);
  if (!addr) return cip::encode_response_head(w, req.service, gs::path_segment_error);
  const bool single = req.service == cip::service::get_attribute_single;
  if (single && addr->attribute == 0) return cip::encode_response_head(w, req.service, gs::path_segment_error);

  if (addr->class_id == cip::object_class::identity) {
    if (addr->instance != 1) return cip::encode_response_head(w, req.service, gs::path_unknown);
    if (req.service == cip::service::reset) {
      // Accepted and ignored: resetting would only drop every connection, which the control
      // protocol's faults already simulate.
      return cip::encode_response_head(w, req.service, 0);
    }
    const auto id = identity();
    if (!single) {
      cip::encode_response_head(w, req.service, 0);
      return cip::encode(w, id);
    }
    if (addr->attribute < 1 || addr->attribute > 8) {
      return cip::encode_response_head(w, req.service, gs::attribute_not_supported);
    }
    cip::encode_response_head(w, req.service, 0);
    switch (addr->attribute) {
      case 1:
        return w.u16(id.vendor);
      case 2:
        return w.u16(id.device_type);
      case 3:
        return w.u16(id.product_code);
      case 4:
        w.u8(id.revision_major);
        return w.u8(id.revision_minor);
      case 5:
        return w.u16(id.status);
      case 6:
        return w.u32(id.serial);
      case 7:
        w.u8(static_cast<std::uint8_t>(id.product_name.size()));
        for (char ch : id.product_name) w.u8(static_cast<std::uint8_t>(ch));
        return;
      default:
        return w.u8(3);  // attribute 8, state: operational
    }
  }
  if (addr->class_id == cip::object_class::assembly) {
    const auto instance = addr->instance;
    const bool heartbeat =
        instance == profile_.connection.input_only_point || instance == profile_.connection.listen_only_point;
    const device::Assembly* a = instance <= 0xFFFF ? profile_.assembly(static_cast<std::uint16_t>(instance)) : nullptr;
    if (a == nullptr && !heartbeat) return cip::encode_response_head(w, req.service, gs::path_unknown);
    if (!single) return cip::encode_response_head(w, req.service, gs::not_supported);
    if (addr->attribute == 4) {
      cip::encode_response_head(w, req.service, 0);
      return w.u16(static_cast<std::uint16_t>(a ? a->size_bytes : 0));
    }
    if (addr->attribute != 3) return cip::encode_response_head(w, req.service, gs::attribute_not_supported);
    cip::encode_response_head(w, req.service, 0);
    if (a == nullptr) return;  // heartbeat points hold no data
    model_.step(monotonic_ns());
    auto n = model_.encode(a->instance, data_);
    if (n) w.bytes(cip::bytes_view(data_.data(), *n));
    return;
  }
  const auto cls = addr->class_id;
  const bool known = cls == cip::object_class::connection_manager || cls == cip::object_class::message_router;
  cip::encode_response_head(w, req.service, known ? gs::not_supported : gs::path_unknown);
}

// ---------------------------------------------------------------------------------------------
// Class 1 connections.

cip::IdentityInfo Meter::identity() const {
  cip::IdentityInfo id;
  id.vendor = profile_.identity.vendor;
  id.device_type = profile_.identity.device_type;
  id.product_code = opt_.product_code;
  // The revision is the communications firmware (manual): the comms words of assembly 100.
  id.revision_major = static_cast<std::uint8_t>(opt_.feeder.info_words[3]);
  id.revision_minor = static_cast<std::uint8_t>(opt_.feeder.info_words[4]);
  // Identity status (CIP Vol 1, Identity attribute 5): bit 0 owned, bit 2 configured, bits 4-7
  // extended device status 3 = no I/O connection established, 6 = one in run mode.
  bool owned = sim_owner_;
  for (const auto& c : conns_) owned = owned || (c.used && !c.listen_only);
  id.status = static_cast<std::uint16_t>((owned ? 0x0001 : 0) | 0x0004 | ((open_conns() > 0 ? 6 : 3) << 4));
  id.serial = serial_;
  id.product_name = profile_.name;
  if (faults_.other_identity) {
    id.vendor = faults_.vendor;
    id.device_type = faults_.device_type;
    id.product_code = faults_.product_code;
    id.product_name = kOtherProductName;
  }
  return id;
}

// CIP Vol 2, 3-5.3 "Multicast address allocation": 239.192.1.0 + ((host id - 1) & 0x3FF) x 32,
// 32 addresses per device. The host id on loopback is the address below 127/8. Each assembly
// takes its own address of the device's 32, so listeners of 101 do not receive 102.
std::uint32_t Meter::group_address(std::uint16_t point) const {
  constexpr std::uint32_t base = (239u << 24) | (192u << 16) | (1u << 8);
  const std::uint32_t host = address_ & 0x00FFFFFFu;
  const std::uint32_t offset = ((host - 1) & 0x3FFu) * 32u;
  return base + offset + ((point - device::kFirstAssembly) & 31u);
}

bool Meter::has_owner(std::uint16_t point) const {
  if (sim_owner_) return true;
  return std::any_of(conns_.begin(), conns_.end(),
                     [&](const Conn& c) { return c.used && !c.listen_only && c.point == point; });
}

std::size_t Meter::open_conns() const {
  return static_cast<std::size_t>(std::count_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.used; }));
}

int Meter::find_conn(std::uint16_t serial, std::uint16_t vendor, std::uint32_t originator_serial) const {
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    const Conn& c = conns_[i];
    if (c.used && c.serial == serial && c.vendor == vendor && c.originator_serial == originator_serial) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void Meter::close_conn(std::size_t slot, const char* why) {
  Conn& c = conns_[slot];
  if (!c.used) return;
  log_->debug("{}: connection {:#010x} (T->O {:#010x}, assembly {}) closed: {}", endpoint(), c.o_t_id, c.t_o_id,
              c.point, why);
  c.used = false;
  ++c.gen;
  Stream& s = streams_[c.stream];
  if (s.used && --s.refs == 0) {
    s.used = false;
    ++s.gen;  // its pending production timer becomes stale
  }
}

void Meter::drop_orphaned_listeners() {
  // A real target drops listen-only connections when the last owner of their T->O point goes
  // (CIP Vol 1, ch. 3, listen-only connections); their production stops with them.
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    const Conn& c = conns_[i];
    if (c.used && c.listen_only && !has_owner(c.point)) close_conn(i, "last owner gone");
  }
}

void Meter::set_owner(bool on) {
  sim_owner_ = on;
  if (!on) drop_orphaned_listeners();
}

void Meter::forward_open(const Client& c, const cip::MrRequest& req, const cip::SendData& sd, cip::Writer& w) {
  auto fo = cip::decode_forward_open(req);
  if (!fo) {
    const auto code = fo.error().code;
    const auto status = code == cip::Errc::truncated    ? gs::not_enough_data
                        : code == cip::Errc::bad_length ? gs::too_much_data
                                                        : gs::path_segment_error;
    return cip::encode_response_head(w, req.service, status);
  }
  const bool large = fo->large;
  cip::ConnectionFailure fail;
  fail.connection_serial = fo->connection_serial;
  fail.originator_vendor = fo->originator_vendor;
  fail.originator_serial = fo->originator_serial;
  // The unsuccessful reply carries Remaining Path Size + Reserved (CIP Vol 1, 3-5.5.1.2).
  fail.remaining_path_size = 0;
  auto refuse = [&](std::uint8_t general, std::optional<std::uint16_t> extended,
                    std::optional<std::uint16_t> wanted = std::nullopt) {
    fail.general_status = general;
    fail.extended_status = extended;
    fail.wanted_size = wanted;
    ++stats_.forward_open_refused;
    log_->debug("{}: Forward Open (serial {:#06x}) refused: {}", endpoint(), fo->connection_serial,
                cip::describe_failure(general, extended));
    cip::encode_forward_open_failure(w, fail, large);
  };

  if (faults_.refuse) return refuse(faults_.refuse_general, faults_.refuse_extended);
  if (fo->transport.transport_class != 1 || fo->transport.trigger != cip::ProductionTrigger::cyclic) {
    return refuse(gs::connection_failure, ext::transport_not_supported);
  }
  auto spec = cip::parse_io_connection_path(fo->path);
  if (!spec) return refuse(gs::connection_failure, ext::bad_segment);
  if (spec->key) {
    // Electronic key (CIP Vol 1, C-1.4.2): 0 is a wildcard; with the compatibility bit a
    // revision equal or below ours is accepted, else it must be equal.
    const auto id = identity();
    const auto& k = *spec->key;
    if (k.vendor != 0 && k.vendor != id.vendor) return refuse(gs::connection_failure, ext::vendor_mismatch);
    if (k.product_code != 0 && k.product_code != id.product_code) {
      return refuse(gs::connection_failure, ext::vendor_mismatch);
    }
    if (k.device_type != 0 && k.device_type != id.device_type) {
      return refuse(gs::connection_failure, ext::device_type_mismatch);
    }
    if (k.major_revision != 0) {
      const bool same_major = k.major_revision == id.revision_major;
      const bool minor_ok = k.minor_revision == 0 || (k.compatibility ? k.minor_revision <= id.revision_minor
                                                                      : k.minor_revision == id.revision_minor);
      if (!same_major || !minor_ok) return refuse(gs::connection_failure, ext::revision_mismatch);
    }
  }
  const device::Assembly* produced =
      spec->t_o_point <= 0xFFFF ? profile_.assembly(static_cast<std::uint16_t>(spec->t_o_point)) : nullptr;
  if (produced == nullptr) return refuse(gs::path_unknown, std::nullopt);
  // The configuration instance is the profile's (an adapter has exactly one): another is a
  // path segment it cannot resolve.
  if (spec->config_instance != profile_.connection.config_instance) {
    return refuse(gs::connection_failure, ext::bad_segment);
  }
  bool listen_only = false;
  if (spec->o_t_point == profile_.connection.listen_only_point) {
    listen_only = true;
  } else if (spec->o_t_point != profile_.connection.input_only_point) {
    // Nothing is consumed by the meter: an assembly as O->T point is a path to the wrong kind
    // of object, any other point does not fit with the T->O point (as an adapter answers it).
    if (spec->o_t_point <= 0xFFFF && profile_.assembly(static_cast<std::uint16_t>(spec->o_t_point)) != nullptr) {
      return refuse(gs::connection_failure, ext::bad_app_path);
    }
    return refuse(gs::connection_failure, ext::inconsistent_path);
  }
  if (find_conn(fo->connection_serial, fo->originator_vendor, fo->originator_serial) >= 0) {
    return refuse(gs::connection_failure, ext::duplicate);
  }
  const auto t_o_type = fo->t_o_params.type;
  if (fo->o_t_params.type != cip::ConnectionType::point_to_point ||
      (t_o_type != cip::ConnectionType::point_to_point && t_o_type != cip::ConnectionType::multicast)) {
    return refuse(gs::connection_failure, ext::bad_net_params);
  }
  if (fo->t_o_rpi_us < kMinRpiUs || fo->t_o_rpi_us > kMaxRpiUs ||
      fo->o_t_rpi_us < cip::heartbeat_rpi_min_us || fo->o_t_rpi_us > cip::heartbeat_rpi_max_us) {
    return refuse(gs::connection_failure, ext::rpi_not_supported);
  }
  if (fo->timeout_multiplier > kMaxTimeoutMultiplier) return refuse(kInvalidParameter, std::nullopt);
  // With a 32-bit run/idle header on O->T exactly that size; without, 2 or 0 (see kHeartbeatSize).
  if (o_t_header_) {
    if (fo->o_t_params.size != kHeartbeatSize + kRunIdleSize) {
      return refuse(gs::connection_failure, ext::bad_o_t_size, kHeartbeatSize + kRunIdleSize);
    }
  } else if (fo->o_t_params.size != kHeartbeatSize && fo->o_t_params.size != 0) {
    return refuse(gs::connection_failure, ext::bad_o_t_size, kHeartbeatSize);
  }
  const std::uint32_t data_bytes = faults_.t_o_data_bytes != 0 ? faults_.t_o_data_bytes : produced->size_bytes;
  const auto t_o_size = static_cast<std::uint16_t>(data_bytes + kSeqCountSize + (t_o_header_ ? kRunIdleSize : 0));
  if (fo->t_o_params.size != t_o_size) return refuse(gs::connection_failure, ext::bad_t_o_size, t_o_size);
  const auto point = static_cast<std::uint16_t>(spec->t_o_point);
  if (listen_only && !has_owner(point)) return refuse(gs::connection_failure, ext::no_owner);

  // Slots: a free connection, and a stream (the multicast one of this point, or a free one).
  std::size_t slot = 0;
  while (slot < conns_.size() && conns_[slot].used) ++slot;
  const bool multicast = t_o_type == cip::ConnectionType::multicast;
  std::size_t stream = streams_.size();
  if (multicast) {
    for (std::size_t i = 0; i < streams_.size(); ++i)
      if (streams_[i].used && streams_[i].multicast && streams_[i].point == point) stream = i;
  }
  const bool join = stream < streams_.size();
  if (!join) {
    stream = 0;
    while (stream < streams_.size() && streams_[stream].used) ++stream;
  }
  if (slot >= conns_.size() || stream >= streams_.size()) {
    return refuse(gs::connection_failure, ext::out_of_connections);
  }

  const std::int64_t now = monotonic_ns();
  // Where T->O goes (CIP Vol 2, "Sockaddr Info Items"). Point-to-point: where the Sockaddr Info
  // 0x8001 of the request says the originator listens, by default the peer's UDP 2222.
  // Multicast: like a real adapter, always to UDP 2222, whatever port the request named; the
  // reply's 0x8001 says so, and an originator listening elsewhere hears nothing.
  std::optional<cip::SockAddr> wanted_t_o;
  if (const auto* item = sd.cpf.find(cip::ItemType::sockaddr_t_o)) {
    if (auto sa = cip::decode_sockaddr(item->data)) wanted_t_o = *sa;
  }
  const std::uint16_t dest_port =
      !multicast && wanted_t_o && wanted_t_o->port != 0 ? wanted_t_o->port : cip::udp_io_port;
  Stream& s = streams_[stream];
  if (!join) {
    s.used = true;
    ++s.gen;
    s.multicast = multicast;
    s.point = point;
    s.refs = 0;
    s.encap_seq = 0;
    s.cip_seq = 0;
    s.rpi_ns = std::int64_t{fo->t_o_rpi_us} * 1000;
    s.next_ns = now + s.rpi_ns;
    if (multicast) {
      s.id = ((++next_id_) << kSlotBits) | 0x200u | static_cast<std::uint32_t>(stream & 0x1FF);
      s.dest = make_addr(group_address(point), dest_port);
    } else {
      // Point-to-point: the consumer (originator) chose the T->O id.
      s.id = fo->t_o_connection_id != 0 ? fo->t_o_connection_id : ((++next_id_) << kSlotBits);
      std::uint32_t dest = ntohl(c.peer.sin_addr.s_addr);
      // Only loopback destinations are honoured: the simulator never sends off the host.
      if (wanted_t_o && wanted_t_o->address != 0 && is_loopback(wanted_t_o->address)) dest = wanted_t_o->address;
      s.dest = make_addr(dest, dest_port);
    }
    loop_.schedule(s.next_ns, {Token::produce, index_, static_cast<std::uint16_t>(stream), s.gen});
  }
  ++s.refs;

  Conn& conn = conns_[slot];
  conn.used = true;
  ++conn.gen;
  conn.listen_only = listen_only;
  conn.serial = fo->connection_serial;
  conn.vendor = fo->originator_vendor;
  conn.originator_serial = fo->originator_serial;
  conn.o_t_id = ((++next_id_) << kSlotBits) | static_cast<std::uint32_t>(slot);
  conn.t_o_id = s.id;
  conn.point = point;
  conn.stream = static_cast<std::uint16_t>(stream);
  // The O->T watchdog, as an adapter keeps it: O->T API (we grant the RPI asked for) x 4 x 2^n,
  // restarted by every O->T datagram and started by this reply. An adapter may wait up to 10 s
  // for the first one; this one does not, which is stricter.
  conn.timeout_ns = std::chrono::nanoseconds(cip::connection_timeout(fo->o_t_rpi_us, fo->timeout_multiplier)).count();
  conn.last_heard = now;
  loop_.schedule(now + conn.timeout_ns, {Token::supervise, index_, static_cast<std::uint16_t>(slot), conn.gen});
  ++stats_.forward_open_ok;
  log_->debug("{}: {} connection {:#010x} to assembly {} open, T->O {:#010x} {} {}:{} every {} us", endpoint(),
              listen_only ? "listen-only" : "input-only", conn.o_t_id, point, s.id,
              s.multicast ? "multicast" : "point-to-point", to_text(ntohl(s.dest.sin_addr.s_addr)),
              ntohs(s.dest.sin_port), s.rpi_ns / 1000);

  cip::ForwardOpenReply rep;
  rep.o_t_connection_id = conn.o_t_id;
  rep.t_o_connection_id = s.id;
  rep.connection_serial = fo->connection_serial;
  rep.originator_vendor = fo->originator_vendor;
  rep.originator_serial = fo->originator_serial;
  // A test hook ("fault o-t-api"): announce another O->T API than the watchdog is based on.
  rep.o_t_api_us = static_cast<std::uint32_t>(std::uint64_t{fo->o_t_rpi_us} * faults_.o_t_api_percent / 100);
  rep.t_o_api_us = static_cast<std::uint32_t>(s.rpi_ns / 1000);
  cip::encode_forward_open_reply(w, rep, large);
  if (s.multicast) {
    // The group the originator must join (CIP Vol 2, Forward_Open reply Sockaddr Info T->O).
    extras_[extras_count_++] = {cip::ItemType::sockaddr_t_o,
                                {.port = ntohs(s.dest.sin_port), .address = ntohl(s.dest.sin_addr.s_addr)}};
  }
  if (opt_.udp_port != cip::udp_io_port) {
    // Not something a real meter sends (it always consumes on 2222): names the heartbeat port of
    // a simulator started on another UDP port, so an originator can find it.
    extras_[extras_count_++] = {cip::ItemType::sockaddr_o_t, {.port = opt_.udp_port, .address = address_}};
  }
}

void Meter::forward_close(const cip::MrRequest& req, cip::Writer& w) {
  auto fc = cip::decode_forward_close(req);
  if (!fc) return cip::encode_response_head(w, req.service, gs::not_enough_data);
  int slot = find_conn(fc->connection_serial, fc->originator_vendor, fc->originator_serial);
  if (slot < 0) {
    cip::ConnectionFailure f;
    f.extended_status = ext::not_found;
    f.connection_serial = fc->connection_serial;
    f.originator_vendor = fc->originator_vendor;
    f.originator_serial = fc->originator_serial;
    return cip::encode_forward_close_failure(w, f);
  }
  const bool owner = !conns_[static_cast<std::size_t>(slot)].listen_only;
  close_conn(static_cast<std::size_t>(slot), "Forward Close");
  ++stats_.forward_close;
  if (owner) drop_orphaned_listeners();
  cip::ForwardCloseReply rep;
  rep.connection_serial = fc->connection_serial;
  rep.originator_vendor = fc->originator_vendor;
  rep.originator_serial = fc->originator_serial;
  cip::encode_forward_close_reply(w, rep);
}

// ---------------------------------------------------------------------------------------------
// UDP.

namespace {

// When a datagram arrived, on the monotonic clock of the watchdog: the kernel's receive time
// (SO_TIMESTAMPNS, CLOCK_REALTIME) moved back by its age, so time spent queued in the socket
// counts neither for nor against the sender. `now` (monotonic, taken after the receive) when
// the stamp is missing.
std::int64_t arrival_ns(const msghdr& msg, std::int64_t now) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp{};
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    timespec real{};
    ::clock_gettime(CLOCK_REALTIME, &real);
    const std::int64_t age = (real.tv_sec - stamp.tv_sec) * 1'000'000'000LL + (real.tv_nsec - stamp.tv_nsec);
    return now - std::max<std::int64_t>(age, 0);
  }
  return now;
}

}  // namespace

void Meter::on_udp_io(std::int64_t /*loop_now*/) {
  // Bounded, so one busy meter cannot starve the others in the same loop iteration.
  for (int i = 0; i < 64; ++i) {
    iovec iov{in_.data(), in_.size()};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(timespec))> control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n = ::recvmsg(udp_io_fd_, &msg, MSG_DONTWAIT);
    if (n < 0) return;
    const std::int64_t at = arrival_ns(msg, monotonic_ns());
    auto cpf = cip::decode_cpf(cip::bytes_view(in_.data(), static_cast<std::size_t>(n)));
    if (!cpf) continue;
    const auto* item = cpf->find(cip::ItemType::sequenced_address);
    if (item == nullptr) continue;
    auto addr = cip::decode_sequenced_address(item->data);
    if (!addr) continue;
    const std::size_t slot = addr->connection_id & kSlotMask;
    if (slot >= conns_.size()) continue;
    Conn& c = conns_[slot];
    if (!c.used || c.o_t_id != addr->connection_id) continue;
    // Exact, whatever the order the loop handles sockets and timers in: a datagram that arrived
    // after the watchdog expired finds the connection already gone.
    if (at - c.last_heard > c.timeout_ns) {
      time_out(slot, at);
      continue;
    }
    c.last_heard = std::max(c.last_heard, at);
    ++stats_.heartbeats_received;
  }
}

void Meter::on_udp_list() {
  for (int i = 0; i < 16; ++i) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n =
        ::recvfrom(udp_list_fd_, in_.data(), in_.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return;
    auto frame = cip::decode_frame(cip::bytes_view(in_.data(), static_cast<std::size_t>(n)));
    if (!frame) continue;
    cip::Writer w(out_);
    if (frame->header.command == cip::Command::list_identity) {
      cip::ListIdentityItem item;
      item.address = {.port = opt_.tcp_port, .address = address_};
      item.identity = identity();
      item.state = 3;
      cip::encode_list_identity_reply(w, frame->header.context, item);
    } else if (frame->header.command == cip::Command::list_services) {
      cip::encode_list_services_reply(w, frame->header.context, cip::communications_service());
    } else {
      continue;  // other commands are TCP only (Vol 2, 2-2 "UDP")
    }
    if (w.ok()) {
      ::sendto(udp_list_fd_, w.written().data(), w.size(), 0, reinterpret_cast<const sockaddr*>(&from), len);
    }
  }
}

void Meter::on_produce(std::uint16_t slot, std::uint16_t gen, std::int64_t now, SendBatch& out) {
  if (slot >= streams_.size()) return;
  Stream& s = streams_[slot];
  if (!s.used || s.gen != gen) return;
  // Next deadline from the previous one, so the average rate is the RPI exactly; after a stall
  // (a stopped debugger, an overloaded host) restart from now rather than bursting.
  s.next_ns += s.rpi_ns;
  if (s.next_ns < now - s.rpi_ns) s.next_ns = now + s.rpi_ns;
  loop_.schedule(s.next_ns, {Token::produce, index_, slot, gen});
  if (faults_.stop_producing || udp_io_fd_ < 0) return;

  model_.step(now);
  auto n = model_.encode(s.point, data_);
  if (!n) return;
  cip::IoPacket p;
  p.connection_id = s.id;
  p.encap_sequence = ++s.encap_seq;
  // Cyclic production of a value that is measured anew every RPI: every datagram is new data.
  p.cip_sequence = ++s.cip_seq;
  p.data = cip::bytes_view(data_.data(), *n);
  if (t_o_header_) {
    p.has_run_idle = true;
    p.run_idle = 1;  // run
  }
  cip::Writer w(out.reserve());
  cip::encode(w, p);
  if (!w.ok()) return;
  out.commit(udp_io_fd_, address_, opt_.udp_port, s.dest, w.size(), &stats_.packets_sent);
}

void Meter::on_supervise(std::uint16_t slot, std::uint16_t gen, std::int64_t now) {
  if (slot >= conns_.size()) return;
  Conn& c = conns_[slot];
  if (!c.used || c.gen != gen) return;
  if (now <= c.last_heard + c.timeout_ns) {
    loop_.schedule(c.last_heard + c.timeout_ns + 1, {Token::supervise, index_, slot, gen});
    return;
  }
  // A heartbeat may have arrived in time and still wait in the socket: read it before judging.
  on_udp_io(now);
  if (!c.used || c.gen != gen) return;
  if (now <= c.last_heard + c.timeout_ns) {
    loop_.schedule(c.last_heard + c.timeout_ns + 1, {Token::supervise, index_, slot, gen});
    return;
  }
  time_out(slot, now);
}

void Meter::time_out(std::size_t slot, std::int64_t now) {
  Conn& c = conns_[slot];
  const bool owner = !c.listen_only;
  log_->info("{}: connection {:#010x} to assembly {} timed out: no O->T heartbeat for {} ms (watchdog {} ms)",
             endpoint(), c.o_t_id, c.point, (now - c.last_heard) / 1'000'000, c.timeout_ns / 1'000'000);
  close_conn(slot, "timeout");
  ++stats_.timeouts;
  if (owner) drop_orphaned_listeners();
}

MeterStats Meter::stats() const {
  MeterStats s = stats_;
  s.connections = s.owners = s.listeners = 0;
  for (const auto& c : conns_) {
    if (!c.used) continue;
    ++s.connections;
    ++(c.listen_only ? s.listeners : s.owners);
  }
  return s;
}

}  // namespace pm500::sim::detail
